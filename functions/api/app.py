"""API Lambda: Step Functions' API (JSON 1.0) behind API Gateway, REST or HTTP API.

Each event is one request for ``stepq.api.handler.ApiHandler``, the handler
``stepq dev`` serves locally (``stepq.hosting.lambda_api`` translates the
event and the response). Who may call is API Gateway's business (IAM auth).
"""

from __future__ import annotations

from typing import Any

from stepq.api.handler import ApiHandler
from stepq.backends.aws.settings import Settings
from stepq.hosting.lambda_api import build_context, handle
from stepq.hosting.lambda_metrics import Observability
from stepq.hosting.lambda_sqs import warm

obs = Observability("stepq-api")  # Logger, Tracer, Metrics (EMF)
logger = obs.logger


@warm  # built on first use, kept warm
def _get() -> tuple[Settings, ApiHandler]:
    settings = Settings.from_env()
    return settings, ApiHandler(build_context(settings, metrics=obs.emf))


@obs.tracer.capture_lambda_handler(capture_response=False)  # responses hold user data
@logger.inject_lambda_context
@obs.metrics.log_metrics  # one EMF blob per invocation (stdout)
@obs.emf.flushed  # the runtime's counts, added to it as the invocation ends
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    _, api = _get()
    return handle(api, event)

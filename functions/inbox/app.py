"""Inbox Lambda: JSON messages from outside that start executions or answer task tokens.

The inbox queue (and, in the template, an EventBridge rule) delivers batches
here (``stepq.runtime.inbox`` has the message schema). A message that can
never be applied is dead-lettered with its reason and counts as handled; one
that failed on an outage is reported for retry (partial batch response).
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.data_classes import SQSEvent
from stepq.api.context import ApiContext
from stepq.api.inbox import inbox
from stepq.backends.aws.settings import Settings
from stepq.hosting.lambda_api import build_context
from stepq.hosting.lambda_metrics import Observability
from stepq.hosting.lambda_sqs import consume_batch, warm
from stepq.runtime.inbox import Inbox

obs = Observability("stepq-inbox")  # Logger, Tracer, Metrics (EMF)
logger = obs.logger


@warm  # built on first use, kept warm
def _get() -> tuple[Settings, ApiContext, Inbox]:
    settings = Settings.from_env()
    context = build_context(settings, metrics=obs.emf)  # its starts' commits count
    return settings, context, inbox(context)


@obs.tracer.capture_lambda_handler
@logger.inject_lambda_context
@obs.metrics.log_metrics  # one EMF blob per invocation (stdout)
@obs.emf.flushed  # the runtime's counts, added to it as the invocation ends
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    settings, api, box = _get()
    records = list(SQSEvent(event).records)
    # No store: a dead inbox message owns no execution to fail.
    return consume_batch(
        records, api.queues, settings.queue_prefix, box.handle_batch, logger, metrics=obs.emf
    )

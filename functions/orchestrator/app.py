"""Orchestrator Lambda: a batch of events-queue messages -> load, decide, commit, send.

The batch is handled whole (``stepq.hosting.lambda_sqs.consume_batch``): one
execution's events commit together, and the commands of the whole batch go
out in as few SQS requests as possible. Partial batch responses: a record
that fails is retried alone; a malformed one is dead-lettered with its
reason and counts as handled.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.data_classes import SQSEvent
from stepq.backends.aws.settings import Settings, build, runtime_config
from stepq.clock import SystemClock
from stepq.hosting.lambda_metrics import Observability
from stepq.hosting.lambda_sqs import consume_batch, warm
from stepq.runtime.orchestrator import Orchestrator

obs = Observability("stepq-orchestrator")  # Logger, Tracer, Metrics (EMF)
logger = obs.logger


@warm  # built on first use, kept warm
def _get() -> tuple[Settings, Orchestrator]:
    settings = Settings.from_env()
    store, queues, _ = build(settings)
    config = runtime_config(settings)
    config.metrics = obs.emf  # commits count executions, transitions, conflicts
    return settings, Orchestrator(store, queues, SystemClock(), config)


@obs.tracer.capture_lambda_handler
@logger.inject_lambda_context
@obs.metrics.log_metrics  # one EMF blob per invocation (stdout)
@obs.emf.flushed  # the runtime's counts, added to it as the invocation ends
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    settings, orchestrator = _get()
    records = list(SQSEvent(event).records)
    return consume_batch(
        records,
        orchestrator.queues,
        settings.queue_prefix,
        orchestrator.handle_batch,
        logger,
        store=orchestrator.store,
        metrics=obs.emf,
    )

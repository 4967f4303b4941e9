"""Orchestrator Lambda: events-queue messages -> load, decide, commit, send.

Partial batch responses: a record that fails is retried alone; a malformed
one is dead-lettered with its reason and counts as handled.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from stepq.clock import SystemClock
from stepq.runtime.aws import Settings, build, consume_record, runtime_config
from stepq.runtime.orchestrator import Orchestrator

logger = Logger(service="stepq-orchestrator")
# Report every failure per record, even when the whole batch failed.
processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
_runtime: tuple[Settings, Orchestrator] | None = None  # built on first use, kept warm


def _get() -> tuple[Settings, Orchestrator]:
    global _runtime
    if _runtime is None:
        settings = Settings.from_env()
        store, queues, _ = build(settings)
        _runtime = settings, Orchestrator(store, queues, SystemClock(), runtime_config(settings))
    return _runtime


def record_handler(record: SQSRecord) -> None:
    settings, orchestrator = _get()
    consume_record(record, orchestrator.queues, settings.queue_prefix, orchestrator.handle, logger)


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )

"""Worker Lambda: task-queue messages -> run the step function -> send its result.

The step functions come from the module named by ``STEPQ_FUNCTIONS``
(bundled with this function or in a layer). Partial batch responses as in
the orchestrator.
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
from stepq.functions_loader import load_functions
from stepq.runtime.aws import Settings, build, consume_record, runtime_config
from stepq.runtime.client import Client
from stepq.runtime.orchestrator import Orchestrator
from stepq.runtime.worker import Worker

logger = Logger(service="stepq-worker")
processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
_runtime: tuple[Settings, Worker] | None = None  # built on first use, kept warm


def _get() -> tuple[Settings, Worker]:
    global _runtime
    if _runtime is None:
        settings = Settings.from_env()
        if not settings.functions:
            raise RuntimeError("set STEPQ_FUNCTIONS to the module of step functions")
        store, queues, _ = build(settings)
        clock = SystemClock()
        # The same callback client `stepq worker` gives steps (context.client).
        client = Client(Orchestrator(store, queues, clock, runtime_config(settings)), queues)
        _runtime = (
            settings,
            Worker(load_functions(settings.functions), queues, clock, client=client),
        )
    return _runtime


def record_handler(record: SQSRecord) -> None:
    settings, worker = _get()
    consume_record(record, worker.queues, settings.queue_prefix, worker.handle, logger)


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )

"""Lambda's SQS event source: a batch of records in, a partial batch response out.

CONTRACT (the handlers in ``functions/*/app.py`` code against these)::

    logical_queue(event_source_arn, prefix) -> str      # "arn:...:stepq-events" -> "events"
    consume_batch(records, queues, prefix, handle_batch, logger=None, ..., metrics=NO_METRICS) -> dict
    warm(build) -> () -> built                          # build once, on first use; keep it warm

This module ships in the Lambda layer (shared/Makefile): it imports only what
the layer holds, never ``stepq.hosting``'s local runtimes.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, TypeVar

from stepq.backends.queue_wire import ID_ATTRIBUTE, parse_body
from stepq.clock import Clock, SystemClock
from stepq.errors import ClaimCheckError, StepqError
from stepq.runtime.batch import BatchResult
from stepq.runtime.metrics import DLQ_ARRIVALS, LEASE_EXPIRATIONS, NO_METRICS, Metrics
from stepq.runtime.poison import fail_owners
from stepq.runtime.ports import Queues, Received, Store

__all__ = ["consume_batch", "logical_queue", "warm"]

T = TypeVar("T")


def warm(build: Callable[[], T]) -> Callable[[], T]:
    """``build()`` on the first call, its result on every later one (a warm Lambda reuses it).

    A handler builds its runtime on first use rather than at import, so a
    misconfigured function fails its invocation, where the handler can report
    it, not its init. A build that raises is tried again on the next call.
    """
    lock = threading.Lock()  # Lambda runs one invocation at a time; harmless elsewhere
    built: list[T] = []

    def get() -> T:
        if not built:
            with lock:
                if not built:
                    built.append(build())
        return built[0]

    return get


def logical_queue(event_source_arn: str, prefix: str) -> str:
    """The logical queue name of an SQS ARN (``...:stepq-events`` -> ``events``)."""
    physical = event_source_arn.rsplit(":", 1)[-1]
    head = f"{prefix}-" if prefix else ""
    if not physical.startswith(head):
        raise StepqError(f"queue {physical!r} does not carry the prefix {prefix!r}")
    return physical[len(head) :]


def _received(record: Any) -> Received:
    """A Lambda SQS record as the ``Received`` the queues port dead-letters."""
    attributes = record.message_attributes or {}
    stepq_id = (attributes.get(ID_ATTRIBUTE) or {}).get("stringValue")
    count = (record.attributes or {}).get("ApproximateReceiveCount") or "1"
    raw = record.body or ""
    return Received(
        body=parse_body(raw),
        raw=raw,
        receipt=record.receipt_handle,
        receive_count=int(count),
        message_id=stepq_id or record.message_id,
    )


def consume_batch(
    records: list[Any],
    queues: Queues,
    prefix: str,
    handle_batch: Callable[[list[Received]], BatchResult],
    logger: Any = None,
    clock: Clock | None = None,
    store: Store | None = None,
    metrics: Metrics = NO_METRICS,
) -> dict[str, Any]:
    """Handle a Lambda SQS batch whole; returns the partial batch response.

    Powertools' ``BatchProcessor`` hands records over one at a time, but
    stepq commits one execution's records together and sends everything a
    batch decided in as few requests as it can, so the batch goes to the
    handler whole and the ``batchItemFailures`` response (the format the
    event source mapping reads with ``ReportBatchItemFailures``) is built
    here. A message that can never be processed is dead-lettered with its
    reason and counts as handled; any other failure is reported for retry.

    Metrics: ``LeaseExpirations``, records delivered again (their visibility
    timeout ran out before a delete); ``DlqArrivals`` by queue, the messages
    dead-lettered here.
    """
    failures: list[str] = []
    expired = 0
    by_source: dict[str, list[tuple[Any, Received]]] = {}
    resolve = getattr(queues, "resolve", None)  # fetch claim-checked bodies back
    for record in records:
        received = _received(record)
        if received.receive_count > 1:  # its visibility timeout ran out before a delete
            expired += 1
        if resolve is not None:
            try:
                received = resolve(received)
            except ClaimCheckError:  # the blob store failed just now: retry the record
                if logger is not None:
                    logger.exception("reading a claim-checked body failed; left for retry")
                failures.append(record.message_id)
                continue
        by_source.setdefault(record.event_source_arn, []).append((record, received))
    for source, items in by_source.items():
        received = [r for _, r in items]
        record_id = {id(r): record.message_id for record, r in items}
        try:
            name = logical_queue(source, prefix)
            result = handle_batch(received)
        except Exception:
            if logger is not None:
                logger.exception("batch failed; every record is left for retry")
            failures.extend(record.message_id for record, _ in items)
            continue
        for message, reason in result.dead:
            execution_id = (message.body or {}).get("execution_id")
            if logger is not None:
                logger.warning(
                    "dead-lettering a malformed message", reason=reason, execution_id=execution_id
                )
            try:
                queues.dead_letter(name, message, reason)
                metrics.count(DLQ_ARRIVALS, queue=name)
            except Exception:
                if logger is not None:
                    logger.exception("dead-lettering failed; left for retry")
                failures.append(record_id[id(message)])
        failures.extend(record_id[id(r)] for r in result.failed)
        if result.dead and store is not None:
            try:  # their executions fail (the scheduler's sweep would find them later)
                fail_owners(store, queues, name, result.dead, clock or SystemClock())
            except Exception:
                if logger is not None:
                    logger.exception("failing the executions of dead messages failed")
    if expired:
        metrics.count(LEASE_EXPIRATIONS, expired)
    return {"batchItemFailures": [{"itemIdentifier": i} for i in failures]}

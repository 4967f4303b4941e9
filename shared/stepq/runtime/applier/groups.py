"""Recording a batch: each execution's inbound events, then one send of all they decided."""

from __future__ import annotations

import logging
from collections.abc import Callable

from stepq.errors import ConflictError, MalformedMessageError, StepqError
from stepq.runtime.applier.inbound import Inbound
from stepq.runtime.applier.outbox import Outbox
from stepq.runtime.batch import BatchResult
from stepq.runtime.log_context import executing
from stepq.runtime.ports import Queues, Received, Store

log = logging.getLogger(__name__)

Groups = dict[str, list[tuple[Received, Inbound]]]


def record_groups(
    result: BatchResult,
    groups: Groups,
    record: Callable[[str, list[Inbound], Outbox], None],
    queues: Queues,
    store: Store | None,
    *,
    outbox: Outbox | None = None,
    raise_errors: bool = False,
) -> BatchResult:
    """Record each execution's inbound events, then send what they decided.

    One execution failing leaves only its own messages for redelivery; a
    message that can never be processed is dead-lettered with its reason;
    an execution whose sends failed after its commit is redelivered too (its
    commit's commands are then re-sent).
    """
    outbox = outbox or Outbox()
    applied: dict[str, list[Received]] = {}
    for execution_id, items in groups.items():
        messages = [m for m, _ in items]
        try:
            with executing(execution_id):  # every line logged meanwhile names it
                record(execution_id, [i for _, i in items], outbox)
            applied[execution_id] = messages
        except MalformedMessageError as exc:
            result.dead.extend((m, str(exc)) for m in messages)
        except Exception as exc:
            if raise_errors:
                raise
            # The store or a queue is down: one line. Giving up on contention
            # (ConflictError) is rare and a bug's sign: logged in full.
            if isinstance(exc, StepqError) and not isinstance(exc, ConflictError):
                log.warning(
                    "recording events failed: %s", exc, extra={"execution_id": execution_id}
                )
            else:
                log.exception("recording events failed", extra={"execution_id": execution_id})
            result.failed.extend(messages)
    unsent = outbox.flush(queues, store)
    if unsent and raise_errors:
        raise RuntimeError(f"sending failed for {sorted(unsent)}")
    for execution_id in unsent:
        result.failed.extend(applied.get(execution_id, []))
    return result

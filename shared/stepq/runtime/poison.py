"""Poison messages: the execution a dead-lettered message belongs to fails.

A message goes to its dead-letter queue either at once, with a reason, when
it can never be processed (malformed), or from SQS after ``maxReceiveCount``
failed deliveries. Either way the execution waiting for it would wait for
ever, so it is ended FAILED with the error ``stepq.PoisonMessage`` and a
cause naming the queue and the reason. The message itself stays in the
dead-letter queue for inspection (and SQS redrive; a redriven message of a
failed execution is dropped as stale).

``fail_message`` builds the event for one dead-lettered message;
``DeadLetterSweeper`` (run by the scheduler) finds what SQS moved on its own.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from stepq.clock import Clock
from stepq.core import events as ev
from stepq.errors import NotFoundError
from stepq.runtime.messages import EVENTS_QUEUE, event_message
from stepq.runtime.ports import Message, Queues, Received, Store

log = logging.getLogger("stepq.poison")

POISON_ERROR = "stepq.PoisonMessage"
DLQ_SUFFIX = "-dlq"


def execution_of(received: Received) -> str | None:
    body = received.body
    if isinstance(body, dict) and isinstance(body.get("execution_id"), str):
        return body["execution_id"]
    return None


def fail_message(
    execution_id: str, queue: str, received: Received, reason: str, clock: Clock
) -> Message:
    cause = (
        f"a message of this execution on queue {queue!r} could not be processed and was "
        f"moved to its dead-letter queue ({queue}{DLQ_SUFFIX}): {reason}"
    )
    event = ev.StopRequested(clock.now(), error=POISON_ERROR, cause=cause, fail=True)
    return event_message(execution_id, event, f"poison|{execution_id}|{received.message_id}")


def fail_owners(
    store: Store,
    queues: Queues,
    queue: str,
    dead: Iterable[tuple[Received, str]],
    clock: Clock,
) -> None:
    """After dead-lettering: fail each running execution these messages belonged to.

    Only a running execution is failed (one read per dead message, a rare
    path): a message naming no execution, or a finished one, changes nothing,
    and a dead fail event can never beget another.
    """
    messages = []
    for received, reason in dead:
        execution_id = execution_of(received)
        if execution_id and _running(store, execution_id):
            messages.append(fail_message(execution_id, queue, received, reason, clock))
    if messages:
        queues.send(EVENTS_QUEUE, messages)


def _running(store: Store, execution_id: str) -> bool:
    try:
        return store.get_execution(execution_id).status == "RUNNING"
    except NotFoundError:
        return False


class DeadLetterSweeper:
    """Fails the executions of messages SQS dead-lettered after too many receives."""

    def __init__(self, store: Store, queues: Queues, clock: Clock, names: list[str]) -> None:
        self.store = store
        self.queues = queues
        self.clock = clock
        self.names = names

    def sweep(self) -> int:
        """One look at each dead-letter queue; returns how many executions were failed."""
        failed = 0
        for name in self.names:
            try:
                found = self.queues.receive(name + DLQ_SUFFIX, 10, 0)
            except Exception:  # a queue without a DLQ, or a transient error
                log.debug("no dead-letter queue to sweep for %s", name, exc_info=True)
                continue
            outgoing = []
            for received in found:
                execution_id = execution_of(received)
                if execution_id is None or not _running(self.store, execution_id):
                    continue
                reason = f"not processed after {received.receive_count} deliveries"
                outgoing.append(fail_message(execution_id, name, received, reason, self.clock))
            if outgoing:
                self.queues.send(EVENTS_QUEUE, outgoing)
                failed += len(outgoing)
            # Left in the queue (for inspection and redrive); seen again once
            # its visibility timeout passes, when its execution is no longer running.
        return failed

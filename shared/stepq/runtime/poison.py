"""Poison messages: the execution a dead-lettered message belongs to fails.

A message goes to its dead-letter queue either at once, with a reason, when
it can never be processed (malformed), or from SQS after ``maxReceiveCount``
failed deliveries. Either way the execution waiting for it would wait for
ever, so it is ended FAILED with the error ``stepq.PoisonMessage`` and a
cause naming the queue and the reason.

Only a message the runtime sent (its MAC verifies, ``runtime.signing``)
fails anything: a forged one is deleted and changes nothing, or forging
garbage would fail executions.

``fail_message`` builds the event for one dead-lettered message;
``DeadLetterSweeper`` (run by the scheduler) finds what SQS moved on its own
and deletes each message once it is dealt with: its execution's fail event
sent, or nothing to fail (no execution named, or not running). Left in the
queue, old messages would be received first again and again and hide new
ones. The execution's history keeps the queue and the reason; the sweeper
logs the ids of the messages it deleted.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from stepq.clock import Clock
from stepq.core import events as ev
from stepq.errors import NotFoundError, QueueNotFoundError
from stepq.runtime.backoff import Streak
from stepq.runtime.messages import EVENTS_QUEUE, event_message
from stepq.runtime.ports import Message, Queues, Received, Store
from stepq.runtime.signing import authentic_only, signed

log = logging.getLogger(__name__)

POISON_ERROR = "stepq.PoisonMessage"
DLQ_SUFFIX = "-dlq"
SWEEP_BATCHES = 10  # receives of up to 10 messages per dead-letter queue and sweep


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
    queues = signed(queues, store)
    messages = []
    # A forged message dead-lettered as unauthenticated must not fail anything.
    for received, reason in authentic_only(queues.keys, queue, dead):
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
        self.queues = signed(queues, store)
        self.clock = clock
        self.names = names
        self._streaks: dict[str, Streak] = {}

    def sweep(self, batches: int = SWEEP_BATCHES) -> int:
        """Empty each dead-letter queue (``batches`` receives at most); returns how
        many executions were failed. Never raises: a queue whose calls fail is
        logged once per failure streak, and what it holds waits for the next sweep."""
        failed = 0
        for name in self.names:
            streak = self._streaks.setdefault(name, Streak(f"sweeping {name}{DLQ_SUFFIX}", log))
            try:
                for _ in range(batches):
                    count = self._sweep_batch(name)
                    if count is None:
                        break
                    failed += count
            except QueueNotFoundError:  # a queue without a dead-letter queue
                log.debug("no dead-letter queue to sweep for %s", name)
            except Exception as exc:  # a transient error: the messages are there next time
                streak.failed(exc)
            else:
                streak.succeeded()
        return failed

    def _sweep_batch(self, name: str) -> int | None:
        """One receive: fail the running owners, then delete every message received.
        Returns the executions failed, None when the queue was empty."""
        dead_queue = name + DLQ_SUFFIX
        found = self.queues.receive(dead_queue, 10, 0)
        if not found:
            return None
        outgoing = []
        for received in found:
            if not self.queues.keys.authentic(name, received):
                continue  # not the runtime's (forged): fails nothing, deleted with the rest
            execution_id = execution_of(received)
            if execution_id is None or not _running(self.store, execution_id):
                continue  # nothing to fail: deleted with the rest
            reason = f"not processed after {received.receive_count} deliveries"
            outgoing.append(fail_message(execution_id, name, received, reason, self.clock))
        if outgoing:  # sent before the delete: a failed send leaves the messages for next time
            self.queues.send(EVENTS_QUEUE, outgoing)
        self.queues.delete(dead_queue, [r.receipt for r in found])
        log.warning(
            "swept %d dead-lettered messages from %s (%d running executions failed): %s",
            len(found),
            dead_queue,
            len(outgoing),
            " ".join(r.message_id for r in found),
        )
        return len(outgoing)

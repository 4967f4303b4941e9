"""Poison messages: the execution a dead-lettered message belongs to fails.

A message goes to its dead-letter queue either at once, with a reason, when
it can never be processed (malformed), or from SQS after ``maxReceiveCount``
failed deliveries. A malformed message's execution would wait for ever, so
it is ended FAILED with the error ``stepq.PoisonMessage`` and a cause naming
the queue and the reason. A well-formed one SQS gave up on is sent back
(an outage delays work, it does not fail it), and fails its execution only
after ``MAX_REDRIVES`` returns.

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
from collections.abc import Callable, Iterable
from typing import Any

from stepq.clock import Clock
from stepq.core import events as ev
from stepq.errors import MalformedMessageError, NotFoundError, QueueNotFoundError
from stepq.runtime.backoff import Streak
from stepq.runtime.messages import EVENTS_QUEUE, event_message, parse_event, parse_task
from stepq.runtime.metrics import DLQ_ARRIVALS, NO_METRICS, Metrics
from stepq.runtime.ports import Message, Queues, Received, Store
from stepq.runtime.signing import authentic_only, signed

log = logging.getLogger(__name__)

POISON_ERROR = "stepq.PoisonMessage"
DLQ_SUFFIX = "-dlq"
SWEEP_BATCHES = 10  # receives of up to 10 messages per dead-letter queue and sweep
MAX_REDRIVES = 8  # 1, 2, 4, ... 15 minutes of delay: with the receives, ~4 hours


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
    """Gives what SQS dead-lettered after too many receives another chance, or fails
    its execution when it is malformed or keeps failing.

    A well-formed message SQS gave up on was usually the victim of an outage
    (the table or a queue unreachable for longer than ``maxReceiveCount``
    visibility timeouts): it is sent back to its queue, after a delay that
    doubles each time (``redrive_delay``), up to ``MAX_REDRIVES`` times, about
    four hours in all; only then is its execution failed. A malformed one
    fails its execution at once. Either way the DLQ copy is deleted.
    """

    def __init__(
        self,
        store: Store,
        queues: Queues,
        clock: Clock,
        names: list[str],
        parsers: dict[str, Callable[[Any], Any]] | None = None,
        metrics: Metrics = NO_METRICS,
    ) -> None:
        self.store = store
        self.metrics = metrics
        self.queues = signed(queues, store)
        self.clock = clock
        self.names = names
        # How a body of each queue is checked (default: the events queue's and
        # the task queues' parsers): a body that parses is well-formed.
        self.parsers = parsers or {}
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

    def _parse(self, name: str) -> Callable[[Any], Any]:
        if name in self.parsers:
            return self.parsers[name]
        return parse_event if name == EVENTS_QUEUE else parse_task

    def _sweep_batch(self, name: str) -> int | None:
        """One receive: redrive or fail each running owner's message, then delete every
        message received. Returns the executions failed, None when the queue was empty."""
        dead_queue = name + DLQ_SUFFIX
        found = self.queues.receive(dead_queue, 10, 0)
        if not found:
            return None
        # What SQS moved here itself (maxReceiveCount) keeps its receive count, so it
        # is received here for the second time or later; what stepq dead-lettered
        # was counted when it did (hosting.lambda_sqs), and arrives here fresh.
        moved = sum(1 for r in found if r.receive_count > 1)
        if moved:
            self.metrics.count(DLQ_ARRIVALS, moved, queue=name)
        failing: list[Message] = []
        redriven: list[Message] = []
        for received in found:
            if not self.queues.keys.authentic(name, received):
                continue  # not the runtime's (forged): fails nothing, deleted with the rest
            execution_id = execution_of(received)
            if execution_id is None or not _running(self.store, execution_id):
                continue  # nothing to fail: deleted with the rest
            reason = _malformed(self._parse(name), received.body)
            redrives = _redrives(received.body)
            if reason is None and redrives < MAX_REDRIVES:
                redriven.append(_redriven(received, redrives + 1))
                continue
            reason = reason or (
                f"not processed after {received.receive_count} deliveries, {redrives} times over"
            )
            failing.append(fail_message(execution_id, name, received, reason, self.clock))
        # Sent before the delete: a failed send leaves the messages for next time.
        if redriven:
            self.queues.send(name, redriven)
        if failing:
            self.queues.send(EVENTS_QUEUE, failing)
        self.queues.delete(dead_queue, [r.receipt for r in found])
        log.warning(
            "swept %d dead-lettered messages from %s (%d sent back, %d executions failed): %s",
            len(found),
            dead_queue,
            len(redriven),
            len(failing),
            " ".join(r.message_id for r in found),
        )
        return len(failing)


def redrive_delay(redrives: int) -> int:
    """Seconds a message waits before its ``redrives``-th return (SQS's 15-minute cap)."""
    return min(900, 60 * 2 ** max(0, redrives - 1))


def _redrives(body: Any) -> int:
    count = body.get("redriven") if isinstance(body, dict) else None
    return count if isinstance(count, int) and not isinstance(count, bool) else 0


def _redriven(received: Received, redrives: int) -> Message:
    assert isinstance(received.body, dict)
    body = {**received.body, "redriven": redrives}
    message_id = body.get("id") if isinstance(body.get("id"), str) else received.message_id
    return Message(id=message_id, body=body, delay_seconds=redrive_delay(redrives))


def _malformed(parse: Callable[[Any], Any], body: Any) -> str | None:
    """Why a body can never be processed, or None if it is well-formed."""
    try:
        parse(body)
    except MalformedMessageError as exc:
        return str(exc)
    return None

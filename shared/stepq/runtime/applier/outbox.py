"""What a commit sends once it is written: its commands as messages and timers.

``Dispatcher`` turns commands into outgoing messages and durable timers;
``Outbox`` holds them until the batch's commits are written, then sends them.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from stepq.clock import Clock
from stepq.core import events as ev
from stepq.core.failures import RUNTIME
from stepq.core.states.task_state import activity_name
from stepq.errors import AlreadyExistsError, QueueNotFoundError
from stepq.runtime import codec
from stepq.runtime.applier.config import RuntimeConfig
from stepq.runtime.messages import (
    ACTIVITY_QUEUE_PREFIX,
    EVENTS_QUEUE,
    activity_queue,
    event_message,
    task_message,
)
from stepq.runtime.ports import Message, Queues, Store, Timer

log = logging.getLogger(__name__)


@dataclass(slots=True)
class Outbox:
    """Messages and timers to send once the commits that decided them are written.

    Each item remembers its execution, so a send that fails is retried per
    execution and only the executions whose messages could not go out are
    reported (their inbound messages are redelivered; their commits re-sent).
    """

    messages: dict[str, list[tuple[str, Message]]] = field(default_factory=dict)
    timers: list[Timer] = field(default_factory=list)
    stale_timers: list[Timer] = field(default_factory=list)  # to delete: nobody waits any more
    now: datetime | None = None  # when the dispatcher last added (flush reads no clock)

    def add(self, queue: str, message: Message, execution_id: str) -> None:
        self.messages.setdefault(queue, []).append((execution_id, message))

    def flush(self, queues: Queues, store: Store | None) -> set[str]:
        """Send everything; the ids of the executions whose sends failed."""
        failed: set[str] = set()
        for queue, items in self.messages.items():
            try:
                queues.send(queue, [m for _, m in items])
                continue
            except Exception:
                log.warning("a batched send failed; sending per execution", extra={"queue": queue})
            by_execution: dict[str, list[Message]] = {}
            for execution_id, message in items:
                by_execution.setdefault(execution_id, []).append(message)
            for execution_id, messages in by_execution.items():
                try:
                    queues.send(queue, messages)
                except QueueNotFoundError as exc:
                    if not queue.startswith(ACTIVITY_QUEUE_PREFIX):
                        log.warning("sending failed: %s", exc, extra={"execution_id": execution_id})
                        failed.add(execution_id)
                    elif not _activity_missing(queues, queue, messages, self.now):
                        failed.add(execution_id)
                except Exception as exc:  # redelivered, then re-sent: one line, no traceback
                    log.warning("sending failed: %s", exc, extra={"execution_id": execution_id})
                    failed.add(execution_id)
        # Timers after the messages: a task's timeout timer never exists while its
        # task message is not yet sent (a runtime that skips time to the next timer
        # when nothing is queued would otherwise fire the timeout first).
        for timer in self.timers:
            try:
                if store is None:
                    raise RuntimeError("a timer to write but no store to hold it")
                with contextlib.suppress(AlreadyExistsError):  # re-sent after a crash
                    store.put_timer(timer)
            except Exception as exc:
                log.warning(
                    "writing a timer failed: %s", exc, extra={"execution_id": timer.execution_id}
                )
                failed.add(timer.execution_id)
        for timer in self.stale_timers:
            if store is not None:
                try:  # an undeleted one fires later and is dropped as stale
                    store.claim_timer(timer)
                except Exception:
                    log.warning("deleting a stale timer failed", exc_info=True)
        self.messages.clear()
        self.timers.clear()
        self.stale_timers.clear()
        return failed


def _activity_missing(
    queues: Queues, queue: str, messages: list[Message], now: datetime | None
) -> bool:
    """Tasks for an activity that does not exist fail with States.Runtime; False if unsent.

    Step Functions records ActivityScheduleFailed and the execution fails: no
    retrier or catcher sees it. Waiting instead would keep the execution
    RUNNING for a worker that can never ask. The failure is an ordinary
    signed event, so a crash before it is sent resends the task message
    (recovery) and meets the same missing queue again.
    """
    if now is None:  # not from a dispatcher: leave it to redelivery
        return False
    events: list[Message] = []
    for message in messages:
        task_id = (message.body.get("command") or {}).get("task_id")
        execution_id = message.body.get("execution_id")
        if not isinstance(task_id, str) or not isinstance(execution_id, str):
            continue
        failure = ev.TaskFailed(
            task_id,
            RUNTIME,
            f"ActivityScheduleFailed: no activity has the queue {queue!r} (was it deleted, "
            "or never created with CreateActivity?)",
            now,
        )
        events.append(event_message(execution_id, failure, f"unscheduled|{message.id}"))
    try:
        queues.send(EVENTS_QUEUE, events)
    except Exception as exc:
        log.warning("reporting a missing activity failed: %s", exc)
        return False
    return True


class Dispatcher:
    """Turns a commit's commands into the outbox's messages and timers."""

    def __init__(self, config: RuntimeConfig, clock: Clock) -> None:
        self.config = config
        self.clock = clock

    def dispatch(
        self,
        execution_id: str,
        commands: list[ev.Command],
        outbox: Outbox,
        after: tuple[int, dict[str, Any]] | None = None,
        *,
        resent: bool = False,
    ) -> None:
        """``resent``: recovery sends these again (see messages.TaskMessage.resent)."""
        now = self.clock.now()
        outbox.now = now
        for command in commands:
            if isinstance(command, ev.RunTask):
                activity = activity_name(command.resource)
                outbox.add(
                    # An activity's task waits for GetActivityTask on its own queue.
                    activity_queue(activity)
                    if activity
                    else self.config.route(command.function_name),
                    # (no commit carried for an activity: no worker of ours records it)
                    task_message(execution_id, command, None if activity else after, resent=resent),
                    execution_id,
                )
                if command.timeout_seconds:
                    self.task_timeout(outbox, execution_id, command, now)
                if command.heartbeat_seconds:
                    self._later(
                        outbox,
                        execution_id,
                        f"heartbeat|{execution_id}|{command.task_id}",
                        ev.TaskTimedOut(command.task_id, now, heartbeat=True),
                        now,
                        command.heartbeat_seconds,
                    )
            elif isinstance(command, ev.StartTimer):
                timer_id = f"timer|{execution_id}|{command.timer_id}"
                fired: ev.Event = ev.TimerFired(command.timer_id, command.fire_at)
                self._at(outbox, execution_id, timer_id, fired, now)
            elif isinstance(command, ev.ScheduleHeartbeatCheck):
                check_id = _check_id(execution_id, command)
                fired = ev.TaskTimedOut(command.task_id, command.fire_at, heartbeat=True)
                self._at(outbox, execution_id, check_id, fired, now)
            # FinishExecution: the final commit carries the outcome; CancelTask:
            # the late result is dropped as stale.

    def task_timeout(
        self, outbox: Outbox, execution_id: str, command: ev.RunTask, now: datetime
    ) -> None:
        """The TaskTimedOut a task's TimeoutSeconds delivers unless its result comes first."""
        self._later(
            outbox,
            execution_id,
            f"timeout|{execution_id}|{command.task_id}",
            ev.TaskTimedOut(command.task_id, now),
            now,
            command.timeout_seconds or 0,
        )

    def durable_timer_ids(
        self,
        execution_id: str,
        command: ev.RunTask | ev.ScheduleHeartbeatCheck,
        now: datetime,
    ) -> list[str]:
        """The timers index entries ``dispatch`` makes for this command (not SQS delays):
        a task's timeout and first heartbeat check, or a later heartbeat check."""
        if isinstance(command, ev.ScheduleHeartbeatCheck):
            if not self._durable((command.fire_at - now).total_seconds()):
                return []
            return [_check_id(execution_id, command)]
        ids = []
        if command.timeout_seconds and self._durable(command.timeout_seconds):
            ids.append(f"timeout|{execution_id}|{command.task_id}")
        if command.heartbeat_seconds and self._durable(command.heartbeat_seconds):
            ids.append(f"heartbeat|{execution_id}|{command.task_id}")
        return ids

    def _durable(self, seconds: float) -> bool:
        return not (self.config.sqs_delays and seconds <= self.config.max_sqs_delay)

    def _at(
        self, outbox: Outbox, execution_id: str, message_id: str, event: ev.Event, now: datetime
    ) -> None:
        """Deliver ``event`` at its own instant, ``event.at`` (at once if that has passed)."""
        seconds = max(0.0, (event.at - now).total_seconds())
        self._later(outbox, execution_id, message_id, event, now, seconds, due=event.at)

    def _later(
        self,
        outbox: Outbox,
        execution_id: str,
        message_id: str,
        event: ev.Event,
        now: datetime,
        seconds: float,
        due: datetime | None = None,
    ) -> None:
        """Deliver ``event`` after ``seconds``: an SQS delay when short, else a durable timer."""
        due = due or now + timedelta(seconds=seconds)
        event = dataclasses.replace(event, at=due)  # decided at its due instant
        if not self._durable(seconds):
            delay = int(seconds + 0.999)  # never early: SQS delays are whole seconds
            message = event_message(execution_id, event, message_id, delay=delay)
            outbox.add(EVENTS_QUEUE, message, execution_id)
            return
        body = event_message(execution_id, event, message_id).body
        outbox.timers.append(Timer(message_id, execution_id, codec.instant(due) or "", body))


def _check_id(execution_id: str, command: ev.ScheduleHeartbeatCheck) -> str:
    """The message (or timer) id of one heartbeat check: one per beat of a task."""
    return f"heartbeat|{execution_id}|{command.task_id}|{command.beat}"

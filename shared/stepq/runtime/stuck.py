"""Stuck executions: running, with no commit for a while, and what each waits for.

``stepq ops stuck`` asks this. An execution moves only when a message or a
timer reaches it, so one that has been quiet is waiting for one of:

- ``callback``: a ``.waitForTaskToken`` task's token, sent to whoever was to
  answer (SendTaskSuccess/Failure); normal for as long as that takes;
- ``task``: a task in flight on its queue (a worker's, or an activity's
  until a worker's GetActivityTask takes it); quiet for long, the worker is
  slow, down, or behind a backlog;
- ``timer``: a Wait state or a retry's back-off, with its due time; past
  due, the scheduler is not firing timers;
- ``nothing``: nothing in flight: no task and no timer outstanding, or a
  task outstanding whose queue holds no message at all (visible, in flight
  or delayed: its message was never sent, or was purged): lost work, which
  ``stepq ops reconcile ARN`` sends again.

A task's queue is looked at once per call (its approximate depth, one
GetQueueAttributes; SQS's counts lag by up to a minute), not per message: a
queue that holds others' messages counts as holding this one.

What waits is found the way the reconcile finds it (``Reconciler.plan``:
the outstanding tasks and timers of the newest snapshot, each in the commit
that issued it), and named through the snapshot (the state's name).

Cost and bounds: executions are found by walking each machine's by-start
index, newest first, with one status read per execution (as
``Store.list_executions`` does for RUNNING); ``limit`` bounds the rows
walked across all machines, and the report says when it stopped early (the
oldest executions, the likeliest to be stuck, are the last reached: narrow
with ``machine`` or raise the limit). Each quiet execution costs its newest
commit again and the walk back to the commits that issued its work.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any

from stepq.clock import Clock
from stepq.core import events as ev
from stepq.core.execution import RUNNING, ExecutionState
from stepq.core.interpreter import EXECUTION_TIMEOUT_TIMER
from stepq.core.states.task_state import activity_name
from stepq.errors import NotFoundError, QueueNotFoundError, StepqError
from stepq.runtime import codec
from stepq.runtime.applier.config import RuntimeConfig
from stepq.runtime.applier.snapshots import Snapshots
from stepq.runtime.messages import activity_queue
from stepq.runtime.ports import Queues, Store, list_cursor
from stepq.runtime.reconcile import Plan, Reconciler

DEFAULT_LIMIT = 1000  # executions walked (across machines) per call
_PAGE = 100
_PURPOSES = {"wait": "Wait state", "retry": "retry back-off"}

CALLBACK, TASK, TIMER, NOTHING = "callback", "task", "timer", "nothing"
LOST = "lost"  # a wait whose work is nowhere: issued by a commit not found, or no message


@dataclass(slots=True)
class Wait:
    """One thing a stuck execution waits for."""

    kind: str  # callback | task | timer | heartbeat | deadline | lost (see LOST)
    state: str  # the state's name ("" for the execution's own timeout)
    detail: str
    due: str | None = None  # a timer's or a check's due instant (ISO-8601)
    queue: str | None = None  # where a task's message went


@dataclass(slots=True)
class StuckExecution:
    execution_arn: str
    machine: str
    seq: int  # the newest commit
    last_commit_at: str
    quiet_seconds: int
    reason: str  # callback | task | timer | nothing
    hint: str
    waits: list[Wait] = field(default_factory=list)


@dataclass(slots=True)
class StuckReport:
    stuck: list[StuckExecution] = field(default_factory=list)
    looked_at: int = 0  # executions walked (any status)
    running: int = 0
    truncated: bool = False  # the limit stopped the walk: older executions not looked at


def as_dict(report: StuckReport) -> dict[str, Any]:
    return asdict(report)


class StuckFinder:
    def __init__(
        self, store: Store, queues: Queues, clock: Clock, config: RuntimeConfig | None = None
    ) -> None:
        self.store = store
        self.queues = queues
        self.clock = clock
        self.config = config or RuntimeConfig()
        self.reconciler = Reconciler(store, queues, clock, self.config)
        self._depths: dict[str, int | None] = {}  # per queue, once per call

    def find(
        self,
        older_than: timedelta,
        *,
        machine: str | None = None,
        limit: int = DEFAULT_LIMIT,
    ) -> StuckReport:
        """Running executions with no commit for ``older_than`` or longer."""
        report = StuckReport()
        self._depths.clear()
        now = self.clock.now()
        machines = [machine] if machine else self.store.list_machines()
        for name in machines:
            after: str | None = None
            while True:
                if report.looked_at >= limit:
                    report.truncated = True
                    return report
                asked = min(_PAGE, limit - report.looked_at)
                page = self.store.list_executions(name, None, asked, after)
                for header in page:
                    report.looked_at += 1
                    if header.status != RUNNING:
                        continue
                    report.running += 1
                    found = self.examine(header.execution_id, header.machine, now, older_than)
                    if found is not None:
                        report.stuck.append(found)
                if len(page) < asked:
                    break
                after = list_cursor(page[-1])
        # The walk stopped on the limit exactly as the last machine ran out: not truncated.
        return report

    def examine(
        self, execution_id: str, machine: str, now: datetime, older_than: timedelta
    ) -> StuckExecution | None:
        """The execution's waits when it is running and quiet for ``older_than``, else None."""
        try:
            latest = self.store.latest(execution_id)
        except NotFoundError:
            return None
        at = codec.parse_instant(latest.at or None)
        if latest.status != RUNNING or at is None or now - at < older_than:
            return None
        plan = self.reconciler.plan(execution_id)
        state, _ = Snapshots(self.store).load(execution_id, latest)
        waits = self._waits(plan, state)
        reason, hint = _reason(execution_id, waits, now)
        return StuckExecution(
            execution_arn=execution_id,
            machine=machine,
            seq=latest.seq,
            last_commit_at=latest.at,
            quiet_seconds=int((now - at).total_seconds()),
            reason=reason,
            hint=hint,
            waits=waits,
        )

    def _waits(self, plan: Plan, state: ExecutionState) -> list[Wait]:
        waits: list[Wait] = []
        for command in plan.commands:
            if isinstance(command, ev.RunTask):
                waits.append(self._task(command, _state_of(state, state.tasks, command.task_id)))
            elif isinstance(command, ev.StartTimer):
                waits.append(_timer(command, state))
            elif isinstance(command, ev.ScheduleHeartbeatCheck):
                name = _state_of(state, state.tasks, command.task_id)
                detail = f"heartbeat check {command.beat} (HeartbeatSeconds)"
                waits.append(Wait("heartbeat", name, detail, codec.instant(command.fire_at)))
        for missing in plan.missing:
            owners = state.tasks if missing in state.tasks else state.timers
            detail = f"{missing}: outstanding, but the commit that issued it was not found"
            waits.append(Wait(LOST, _state_of(state, owners, missing), detail))
        return waits

    def _task(self, command: ev.RunTask, name: str) -> Wait:
        activity = activity_name(command.resource)
        queue = activity_queue(activity) if activity else self.config.route(command.function_name)
        limits = []
        if command.timeout_seconds:
            limits.append(f"TimeoutSeconds {command.timeout_seconds}")
        if command.heartbeat_seconds:
            limits.append(f"HeartbeatSeconds {command.heartbeat_seconds}")
        suffix = f", {', '.join(limits)}" if limits else ""
        if activity:  # queued until a worker's GetActivityTask takes it, then a callback
            if self._depth(queue) == 0:
                detail = f"activity {activity}: a worker has it, waiting for its answer{suffix}"
                return Wait(CALLBACK, name, detail, queue=queue)
            detail = f"activity {activity}: waiting for a worker's GetActivityTask{suffix}"
            return Wait(TASK, name, detail, queue=queue)
        if command.token:  # the token itself is a secret of the caller's: never shown
            return Wait(CALLBACK, name, f"waiting for its task token{suffix}", queue=queue)
        what = command.function_name or command.resource
        detail = f"{what}, attempt {command.attempt + 1}{suffix}"
        depth = self._depth(queue)
        if depth == 0:
            return Wait(LOST, name, f"{detail}; its queue holds no message", queue=queue)
        held = "" if depth is None else f"; the queue holds {depth}"
        return Wait(TASK, name, detail + held, queue=queue)

    def _depth(self, queue: str) -> int | None:
        """Messages ``queue`` holds (visible, in flight, delayed), None when unknown."""
        if queue not in self._depths:
            depth = getattr(self.queues, "depth", None)  # QueueAdmin; not every Queues has it
            try:
                self._depths[queue] = depth(queue) if depth is not None else None
            except QueueNotFoundError:  # a queue that does not exist holds nothing
                self._depths[queue] = 0
            except StepqError:  # not allowed to look, or unreachable: unknown, not empty
                self._depths[queue] = None
        return self._depths[queue]


def _state_of(state: ExecutionState, owners: dict[str, str], key: str) -> str:
    frame = state.frames.get(owners.get(key, ""))
    return frame.state if frame is not None else ""


def _timer(command: ev.StartTimer, state: ExecutionState) -> Wait:
    due = codec.instant(command.fire_at)
    if command.timer_id.split("#")[0] == EXECUTION_TIMEOUT_TIMER:
        return Wait("deadline", "", "the execution's TimeoutSeconds", due)
    frame = state.frames.get(state.timers.get(command.timer_id, ""))
    parts = command.timer_id.split(":")
    purpose = (frame.scratch.get("timer_purpose") if frame else None) or (
        parts[1] if len(parts) > 1 else "timer"
    )
    return Wait(TIMER, frame.state if frame else "", _PURPOSES.get(purpose, purpose), due)


def _reason(execution_id: str, waits: list[Wait], now: datetime) -> tuple[str, str]:
    """The main reason an execution is quiet, and what an operator can do about it.

    Lost work first (it is the one a tool repairs), then a callback, a task, a timer."""
    kinds = {w.kind for w in waits}
    if LOST in kinds:
        return NOTHING, f"lost work: stepq ops reconcile {execution_id}"
    if CALLBACK in kinds:
        return CALLBACK, (
            "whoever holds the token must call SendTaskSuccess/SendTaskFailure "
            f"(or stop it: stepq stop {execution_id})"
        )
    if TASK in kinds:
        queues = sorted({w.queue for w in waits if w.kind == TASK and w.queue})
        return TASK, (
            f"check {', '.join(queues)}: its worker, AlarmTaskQueueAge, its DLQ "
            "(stepq ops dlq list)"
        )
    timers = [w for w in waits if w.kind == TIMER and w.due]
    if timers:
        due = min(datetime.fromisoformat(w.due or "") for w in timers)
        if due < now:
            return TIMER, (
                f"due {int((now - due).total_seconds())}s ago: is the scheduler running "
                f"(AlarmSchedulerLag)? then stepq ops reconcile {execution_id}"
            )
        return TIMER, "waiting as the definition says: nothing to do"
    return NOTHING, (
        "nothing outstanding in its history, so a reconcile has nothing to send: "
        f"stop it (stepq stop {execution_id}) and redrive it (stepq redrive {execution_id})"
    )

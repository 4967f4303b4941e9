"""The decision function: (execution state, one event) -> (history, commands).

Long: decide() and the RunContext every state handler sees belong together;
splitting them would spread one event's handling over two modules.

Pure: no I/O, no clock (each event carries its instant), no randomness that a
replay could not repeat. States that need nothing from outside (Pass, Choice,
Succeed, Fail, Map/Parallel bookkeeping) are all decided in one call; the run
stops where a frame waits for a task result or a timer.

Each state type lives in ``stepq.core.states.<type>``, written against
``stepq.core.states.context.RunContext`` (so the handlers never import this
module); ``Run`` here is that context: entering and leaving states, failures
with Retry/Catch, frames (Parallel branches and Map iterations) and the
event loop.
"""

from __future__ import annotations

import functools
from collections import deque
from datetime import datetime, timedelta
from typing import Any

from stepq.core import dataflow, retry
from stepq.core.events import (
    ActivityTaken,
    AssignmentNoticeDue,
    AuditRecorded,
    CallbackReceived,
    CancelTask,
    Command,
    Decision,
    Event,
    FinishExecution,
    HistoryEvent,
    MapRunUpdated,
    RedriveRequested,
    ReminderDue,
    RunTask,
    StartExecution,
    StartTimer,
    StopRequested,
    TaskFailed,
    TaskHeartbeat,
    TaskSucceeded,
    TaskTimedOut,
    TimerFired,
)
from stepq.core.execution import (
    ABORTED,
    FAILED,
    SUCCEEDED,
    TIMED_OUT,
    ExecutionState,
    Frame,
    public_context,
)
from stepq.core.failures import (
    DATA_LIMIT_EXCEEDED,
    TIMEOUT,
    StatesFailure,
)
from stepq.core.machine import JSONATA, Machine
from stepq.core.people.model import NOTICE_RESOURCE, REMINDER_RESOURCE
from stepq.core.redrive import redrive
from stepq.core.states import HANDLERS
from stepq.core.states.context import StateHandler as StateHandler  # re-exported
from stepq.core.tokens import make_token as make_token  # re-exported
from stepq.core.tokens import parse_token as parse_token  # re-exported: hosts route with it
from stepq.core.tokens import verify_token

EXECUTION_TIMEOUT_TIMER = "execution-timeout"
AUDIT_EVENT = "RequestAuditRecorded"  # a history event type of stepq's own (docs/PEOPLE.md)
_RETRYABLE_TYPES = frozenset({"Task", "Parallel", "Map"})


@functools.lru_cache(maxsize=4096)  # strftime is the costliest call on the hot path
def iso(instant: datetime | None) -> str | None:
    if instant is None:
        return None
    return instant.strftime("%Y-%m-%dT%H:%M:%S.") + f"{instant.microsecond // 1000:03d}Z"


class Run:
    """One call of the decision function: a scratchpad over one execution.

    It is the ``RunContext`` the state handlers are given.
    """

    def __init__(self, machine: Machine, state: ExecutionState, now: datetime) -> None:
        self.machine = machine
        self.s = state
        self.now = now
        self.events: list[HistoryEvent] = []
        self.commands: list[Command] = []
        self.ready: deque[str] = deque()
        self.redriven: dict[str, dict[str, Any]] = {}  # see core/redrive.py
        self.handlers = HANDLERS

    # --- history ----------------------------------------------------------

    def emit(self, kind: str, **details: Any) -> int:
        previous = self.s.last_event_id
        self.s.last_event_id = event_id = previous + 1
        self.events.append(HistoryEvent(event_id, kind, self.now, previous, details))
        return event_id

    # --- evaluation environment -------------------------------------------

    def is_jsonata(self, state: dict[str, Any]) -> bool:
        return self.machine.language(state) == JSONATA

    def context(
        self, frame: Frame, *, item: dict[str, Any] | None = None, token: str | None = None
    ) -> dict[str, Any]:
        meta = self.s.meta
        ctx: dict[str, Any] = {
            "Execution": {
                "Id": meta.execution_arn,
                "Input": meta.input,
                "StartTime": iso(meta.start_time),
                "Name": meta.name,
                "RoleArn": meta.role_arn,
                "RedriveCount": self.s.redrive_count,
            },
            "State": {"EnteredTime": iso(frame.entered_at), "Name": frame.state},
            "StateMachine": {"Id": meta.state_machine_arn, "Name": meta.state_machine_name},
        }
        if self.s.redrive_time is not None:
            ctx["Execution"]["RedriveTime"] = iso(self.s.redrive_time)
        if self.machine.state(frame.scope, frame.state)["Type"] in _RETRYABLE_TYPES:
            ctx["State"]["RetryCount"] = frame.retry_count  # only states that can retry have it
        if token is not None:
            ctx["Task"] = {"Token": token}
        if item is not None:
            ctx["Map"] = {"Item": item}
        ctx["__seed__"] = self.seed(frame)  # private: intrinsics draw UUIDs/randoms from it
        return ctx

    def seed(self, frame: Frame) -> str:
        return f"{self.s.meta.execution_arn}#{frame.entered_id}#{frame.retry_count}"

    def variables(self, frame: Frame) -> dict[str, Any]:
        if frame.parent is None:
            return frame.variables
        outer = self.variables(self.s.frames[frame.parent])
        if not frame.variables:
            return outer
        merged = dict(outer)
        merged.update(frame.variables)
        return merged

    def jsonata_env(
        self, frame: Frame, ctx: dict[str, Any], state_input: Any, **extra: Any
    ) -> dict[str, Any]:
        env = dataflow.bindings(self.variables(frame), public_context(ctx), state_input, **extra)
        env["__seed__"] = self.seed(frame)
        return env

    def read(self, frame: Frame, data: Any, path: str) -> Any:
        return dataflow.read_path(data, path, self.context(frame), self.variables(frame))

    def input_path(self, frame: Frame, state: dict[str, Any]) -> Any:
        if "InputPath" not in state:
            return frame.input
        return dataflow.input_path(state, frame.input, self.context(frame), self.variables(frame))

    def output_path(self, frame: Frame, state: dict[str, Any], data: Any) -> Any:
        if "OutputPath" not in state:
            return data
        return dataflow.output_path(state, data, self.context(frame), self.variables(frame))

    def assign(self, frame: Frame, values: dict[str, Any]) -> None:
        frame.variables.update(values)

    # --- frames -----------------------------------------------------------

    def new_frame(self, scope: str, state_input: Any, parent: Frame | None, slot: int = 0) -> Frame:
        frame_id = f"f{self.s.next_frame}"
        self.s.next_frame += 1
        frame = Frame(
            id=frame_id,
            scope=scope,
            state=self.machine.scopes[scope].start_at,
            input=state_input,
            parent=parent.id if parent else None,
            slot=slot,
            origin=f"{parent.origin}/{parent.visits}.{slot}" if parent else "",
        )
        self.s.frames[frame_id] = frame
        self.ready.append(frame_id)
        return frame

    def entered(self, frame: Frame, state: dict[str, Any]) -> None:
        frame.entered_id = self.emit(
            f"{state['Type']}StateEntered", name=frame.state, input=frame.input
        )
        frame.entered_at = self.now
        frame.visits += 1
        frame.retries = {}
        frame.retry_count = 0
        frame.scratch = {}

    def exit_state(self, frame: Frame, state: dict[str, Any], output: Any) -> None:
        if output is not frame.input:  # an unchanged input was checked when it was made
            dataflow.check_size(output, frame.state)
        self.emit(f"{state['Type']}StateExited", name=frame.state, output=output)
        if state.get("End") or state["Type"] == "Succeed":
            self.complete_frame(frame, output)
        else:
            self.goto(frame, state["Next"], output)

    def goto(self, frame: Frame, next_state: str, output: Any) -> None:
        frame.state = next_state
        frame.input = output
        frame.scratch = {}
        self.ready.append(frame.id)

    def complete_frame(self, frame: Frame, output: Any) -> None:
        if frame.parent is None:
            self.finish(SUCCEEDED, output=output)
            return
        self.end_child(frame, "child_succeeded", output)

    def fail_frame(self, frame: Frame, error: str | None, cause: str | None) -> None:
        if frame.parent is None:
            self.finish(FAILED, error=error, cause=cause)
            return
        self.end_child(frame, "child_failed", error, cause)

    def end_child(self, frame: Frame, method: str, *args: Any) -> None:
        """Drop a finished branch or iteration and tell its parent's state ``method``."""
        parent = self.s.frames[frame.parent]
        del self.s.frames[frame.id]
        parent_state = self.machine.state(parent.scope, parent.state)
        step = getattr(self.handlers[parent_state["Type"]], method)
        self.guard(parent, parent_state, step, frame.slot, *args)

    def abort_children(self, parent: Frame) -> list[Frame]:
        """Drop every frame below ``parent`` (a branch failed), cancelling their work."""
        doomed = {parent.id}
        removed: list[Frame] = []
        changed = True
        while changed:
            changed = False
            for frame in list(self.s.frames.values()):
                if frame.parent in doomed and frame.id not in doomed:
                    doomed.add(frame.id)
                    removed.append(frame)
                    changed = True
        for frame in removed:
            del self.s.frames[frame.id]
        gone = {f.id for f in removed}
        for task_id, owner in list(self.s.tasks.items()):
            if owner in gone:
                del self.s.tasks[task_id]
                self.commands.append(CancelTask(task_id))
        for timer_id, owner in list(self.s.timers.items()):
            if owner in gone:
                del self.s.timers[timer_id]
        for token, task_id in list(self.s.tokens.items()):
            if task_id not in self.s.tasks:
                del self.s.tokens[token]
        return removed

    # --- failures ---------------------------------------------------------

    def cause_text(self, frame: Frame, failure: StatesFailure) -> str | None:
        if not failure.state_scoped:
            return failure.cause
        return (
            f"An error occurred while executing the state '{frame.state}' "
            f"(entered at the event id #{frame.entered_id}). {failure.cause}"
        )

    def guard(self, frame: Frame, state: dict[str, Any], step: Any, *args: Any) -> None:
        """Run one step of a state; a StatesFailure becomes the state's error."""
        try:
            step(self, frame, state, *args)
        except StatesFailure as failure:
            if frame.id not in self.s.frames or self.s.done:
                return
            self.state_failed(frame, state, failure.error, self.cause_text(frame, failure))

    def state_failed(
        self, frame: Frame, state: dict[str, Any], error: str | None, cause: str | None
    ) -> None:
        """Retry, else Catch, else fail the frame."""
        error_name = error or ""
        if state["Type"] in _RETRYABLE_TYPES:
            decision = retry.decide_retry(
                state.get("Retry", []), error_name, frame.retries, self.seed(frame)
            )
            if decision is not None:
                frame.retries[decision.retrier] = frame.retries.get(decision.retrier, 0) + 1
                frame.retry_count += 1
                self.start_timer(frame, "retry", decision.delay_seconds)
                return
            for catcher in state.get("Catch", []):
                if retry.error_matches(catcher.get("ErrorEquals", []), error_name):
                    self.caught(frame, state, catcher, error, cause)
                    return
        self.fail_frame(frame, error, cause)

    def caught(
        self,
        frame: Frame,
        state: dict[str, Any],
        catcher: dict[str, Any],
        error: str | None,
        cause: str | None,
    ) -> None:
        # Step Functions always gives a caught error a Cause, empty when there was none.
        error_output: dict[str, Any] = {"Error": error, "Cause": "" if cause is None else cause}
        try:
            if self.is_jsonata(state):
                ctx = self.context(frame)
                env = self.jsonata_env(frame, ctx, frame.input, errorOutput=error_output)
                output = (
                    dataflow.evaluate(catcher["Output"], env, "Output")
                    if "Output" in catcher
                    else error_output
                )
                if "Assign" in catcher:
                    self.assign(frame, dataflow.assign_jsonata(catcher["Assign"], env))
            else:
                if "Assign" in catcher:
                    ctx = self.context(frame)
                    values = dataflow.assign_jsonpath(
                        catcher["Assign"], error_output, ctx, self.variables(frame)
                    )
                    self.assign(frame, values)
                output = dataflow.place_result(
                    frame.input, catcher.get("ResultPath", "$"), error_output
                )
        except StatesFailure as failure:
            self.fail_frame(frame, failure.error, self.cause_text(frame, failure))
            return
        self.emit(f"{state['Type']}StateExited", name=frame.state, output=output)
        self.goto(frame, catcher["Next"], output)

    # --- timers and the end -------------------------------------------------

    def start_timer(self, frame: Frame, purpose: str, seconds: float) -> str:
        timer_id = f"{frame.id}:{purpose}:{self.s.last_event_id}:{frame.retry_count}"
        self.s.timers[timer_id] = frame.id
        frame.scratch["timer"] = timer_id
        frame.scratch["timer_purpose"] = purpose
        self.commands.append(StartTimer(timer_id, self.now + timedelta(seconds=seconds)))
        return timer_id

    def finish(
        self, status: str, *, output: Any = None, error: str | None = None, cause: str | None = None
    ) -> None:
        s = self.s
        if status == SUCCEEDED and dataflow.payload_size(output) > dataflow.MAX_PAYLOAD_BYTES:
            status, error, output = FAILED, DATA_LIMIT_EXCEEDED, None
            cause = "The state/task returned a result with a size exceeding the maximum number of bytes service limit."
        s.status, s.output, s.error, s.cause = status, output, error, cause
        s.stop_time = self.now
        kind = {
            SUCCEEDED: "ExecutionSucceeded",
            FAILED: "ExecutionFailed",
            TIMED_OUT: "ExecutionTimedOut",
            ABORTED: "ExecutionAborted",
        }[status]
        if status == SUCCEEDED:
            self.emit(kind, output=output)
        else:
            self.emit(kind, error=error, cause=cause)
        for task_id in s.tasks:
            self.commands.append(CancelTask(task_id))
        # What an unsuccessful end leaves unfinished is kept for a redrive.
        s.halted = dict(s.frames) if status != SUCCEEDED else {}
        s.frames.clear()
        s.tasks.clear()
        s.timers.clear()
        s.tokens.clear()
        self.ready.clear()
        self.commands.append(FinishExecution(status, output, error, cause))

    # --- the loop -----------------------------------------------------------

    def drain(self) -> None:
        frames = self.s.frames
        while self.ready and not self.s.done:
            frame = frames.get(self.ready.popleft())
            if frame is None:
                continue
            state = self.machine.state(frame.scope, frame.state)
            self.guard(frame, state, self.handlers[state["Type"]].enter)

    def handle(self, event: Event) -> None:
        if isinstance(event, RedriveRequested):
            redrive(self, event)  # the one event a finished execution takes
            self.drain()
            return
        if self.s.done:
            return
        if isinstance(event, StartExecution):
            self.start(event)
        elif isinstance(event, TaskSucceeded):
            self.task_event(event.task_id, "task_succeeded", event.output)
        elif isinstance(event, TaskFailed):
            self.task_event(event.task_id, "task_failed", event.error, event.cause)
        elif isinstance(event, TaskTimedOut):
            self.task_event(event.task_id, "task_timed_out", event.heartbeat)
        elif isinstance(event, TaskHeartbeat):
            self.heartbeat(event)
        elif isinstance(event, ActivityTaken):
            self.activity_taken(event)
        elif isinstance(event, CallbackReceived):
            self.callback(event)
        elif isinstance(event, TimerFired):
            self.timer_fired(event.timer_id)
        elif isinstance(event, StopRequested):
            self.finish(FAILED if event.fail else ABORTED, error=event.error, cause=event.cause)
        elif isinstance(event, MapRunUpdated):
            self.map_run_updated(event)
        elif isinstance(event, AuditRecorded):
            self.audit(event)
        elif isinstance(event, ReminderDue):
            self.reminder_due(event)
        elif isinstance(event, AssignmentNoticeDue):
            self.notice_due(event)
        self.drain()

    def start(self, event: StartExecution) -> None:
        s = self.s
        if s.last_event_id:
            return  # already started: a duplicate start is a no-op
        s.meta.input = event.input
        self.emit("ExecutionStarted", input=event.input, roleArn=s.meta.role_arn)
        self.execution_timeout()
        self.new_frame("", event.input, None)

    def execution_timeout(self) -> None:
        """The machine's TimeoutSeconds, from now: a timer owned by no frame (each
        redrive has its own id, so the timer of an earlier run is stale)."""
        if self.machine.timeout_seconds:
            count = self.s.redrive_count
            timer_id = EXECUTION_TIMEOUT_TIMER + (f"#{count}" if count else "")
            self.s.timers[timer_id] = ""
            due = self.now + timedelta(seconds=self.machine.timeout_seconds)
            self.commands.append(StartTimer(timer_id, due))

    def task_event(self, task_id: str, method: str, *args: Any) -> None:
        frame_id = self.s.tasks.get(task_id)
        frame = self.s.frames.get(frame_id) if frame_id else None
        if frame is None:
            return  # stale: a duplicate delivery, or the task's branch is gone
        state = self.machine.state(frame.scope, frame.state)
        step = getattr(self.handlers[state["Type"]], method, None)
        if step is not None:
            self.guard(frame, state, step, task_id, *args)

    def callback(self, event: CallbackReceived) -> None:
        if not verify_token(self.s, event.token):
            return  # forged, or another execution's: ignored like a stale callback
        task_id = self.s.tokens.get(event.token)
        if task_id is None:
            return  # the task is no longer waiting
        frame = self.s.frames.get(self.s.tasks.get(task_id, ""))
        if frame is not None and frame.scratch.get("human") and not event.via_inbox:
            return  # a human task is answered only through the inbox, which checks who acts
        if event.via_inbox and frame is not None:
            self.carried_audit(event)
        if event.failed:
            self.task_event(task_id, "callback_failed", event.error, event.cause)
        else:
            self.task_event(task_id, "callback_succeeded", event.output)

    def heartbeat(self, event: TaskHeartbeat) -> None:
        if event.token is not None and (
            not verify_token(self.s, event.token) or self.s.tokens.get(event.token) != event.task_id
        ):
            return  # forged, stale, or naming another task than its token
        self.task_event(event.task_id, "task_heartbeat")

    def activity_taken(self, event: ActivityTaken) -> None:
        if not verify_token(self.s, event.token) or self.s.tokens.get(event.token) != event.task_id:
            return  # forged, stale (answered or timed out already), or another task's
        self.task_event(event.task_id, "task_taken", event.worker)

    def audit(self, event: AuditRecorded) -> None:
        """One line of the request's audit trail: history only, no state moves."""
        if not self.s.last_event_id:
            return  # not started (cannot happen through the applier): nothing to audit
        fields = {"who": event.who, "what": event.what, "taskId": event.task_id}
        fields["detail"] = event.detail
        self.emit(AUDIT_EVENT, **{k: v for k, v in fields.items() if v is not None})

    def carried_audit(self, event: CallbackReceived) -> None:
        """The audit lines an inbox completion carries, before the task's own events:
        in the commit that resumes the task (sent apart, a line could come after the
        execution finished, and a finished execution records none)."""
        lines = event.audit if isinstance(event.audit, list) else []
        for line in lines:
            if not isinstance(line, dict):
                continue
            who, what, task_id = line.get("who"), line.get("what"), line.get("taskId")
            if isinstance(who, str) and isinstance(what, str):
                task = task_id if isinstance(task_id, str) else None
                self.audit(AuditRecorded(event.at, who, what, task, line.get("detail")))

    def reminder_due(self, event: ReminderDue) -> None:
        """A human task's reminder: run by the people runner while the task still waits.

        The execution's state is the truth of whether it waits (the task documents
        are written after the fact), so the core decides; it records no history
        (the runner's audit line does), only the command."""
        frame = self.s.frames.get(self.s.tasks.get(event.task_id, ""))
        if frame is None or not frame.scratch.get("human"):
            return  # completed, timed out, stopped: no reminder
        self.commands.append(
            RunTask(
                task_id=f"{event.task_id}:reminder:{event.index}",
                resource=REMINDER_RESOURCE,
                function_name=None,  # routed as the human task is (its people runner's queue)
                input={"RunTaskId": event.task_id, "Index": event.index},
                attempt=0,
                idempotency_key=f"{self.s.meta.execution_arn}#{event.task_id}#reminder#{event.index}",
            )
        )

    def notice_due(self, event: AssignmentNoticeDue) -> None:
        """A human task's assignment notice: as a reminder, run by the people runner
        while the task still waits (which checks the assignment was written)."""
        frame = self.s.frames.get(self.s.tasks.get(event.task_id, ""))
        if frame is None or not frame.scratch.get("human"):
            return  # completed, timed out, stopped: no notice
        notice = f"{event.kind}:{event.index}:{event.rev}"
        self.commands.append(
            RunTask(
                task_id=f"{event.task_id}:notice:{notice}",
                resource=NOTICE_RESOURCE,
                function_name=None,  # routed as the human task is (its people runner's queue)
                input={
                    "RunTaskId": event.task_id,
                    "Kind": event.kind,
                    "Index": event.index,
                    "To": event.to,
                    "Rev": event.rev,
                },
                attempt=0,
                idempotency_key=f"{self.s.meta.execution_arn}#{event.task_id}#notice#{notice}",
            )
        )

    def map_run_updated(self, event: MapRunUpdated) -> None:
        for frame in list(self.s.frames.values()):
            if frame.children and frame.children.get("map_run") == event.map_run_arn:
                state = self.machine.state(frame.scope, frame.state)
                self.guard(frame, state, self.handlers["Map"].update_run, event)
                return  # a run that has ended (or never was) takes no update

    def timer_fired(self, timer_id: str) -> None:
        if timer_id not in self.s.timers:
            return  # stale or duplicate
        if not self.s.timers[timer_id]:  # owned by no frame: the execution's timeout
            del self.s.timers[timer_id]
            self.finish(TIMED_OUT, error=TIMEOUT, cause=None)
            return
        frame = self.s.frames.get(self.s.timers.pop(timer_id))
        if frame is None or frame.scratch.get("timer") != timer_id:
            return
        state = self.machine.state(frame.scope, frame.state)
        handler = self.handlers[state["Type"]]
        if frame.scratch.get("timer_purpose") == "retry":
            self.guard(frame, state, handler.retry)
        else:
            self.guard(frame, state, handler.timer_fired)


def decide(
    machine: Machine, state: ExecutionState, event: Event, *, in_place: bool = False
) -> tuple[ExecutionState, Decision]:
    """The decision function. Returns the new state and what to record and do.

    The given ``state`` is not modified unless ``in_place`` is set (a host
    that owns its freshly loaded state may skip the copy).
    """
    working = state if in_place else state.copy()
    run = Run(machine, working, event.at)
    run.handle(event)
    return working, Decision(run.events, run.commands)


def replay(
    machine: Machine, initial: ExecutionState, inbound: list[Event]
) -> tuple[ExecutionState, list[HistoryEvent], list[Command]]:
    """Fold recorded inbound events again; a deterministic core repeats every decision."""
    state = initial.copy()
    history: list[HistoryEvent] = []
    commands: list[Command] = []
    for event in inbound:
        state, decision = decide(machine, state, event, in_place=True)
        history.extend(decision.events)
        commands.extend(decision.commands)
    return state, history, commands

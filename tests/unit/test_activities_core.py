"""An activity ARN as a Task's Resource, in the pure core and the outbox: a callback
task with ``Activity*`` history events, routed to its activity's queue."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from stepq.clock import ManualClock
from stepq.core import events as ev
from stepq.core.execution import ExecutionState, new_execution
from stepq.core.interpreter import decide
from stepq.core.machine import Machine
from stepq.core.states.task_state import activity_name
from stepq.runtime.applier.config import RuntimeConfig
from stepq.runtime.applier.outbox import Dispatcher, Outbox
from stepq.runtime.messages import activity_queue, task_queue

ACTIVITY = "arn:aws:states:us-east-1:111111111111:activity:approve"
T0 = datetime(2026, 1, 1, tzinfo=UTC)
MACHINE = Machine(
    {
        "StartAt": "Work",
        "States": {
            "Work": {"Type": "Task", "Resource": ACTIVITY, "TimeoutSeconds": 60, "End": True}
        },
    },
    name="m",
)


def started() -> tuple[ExecutionState, ev.RunTask, list[str]]:
    state = new_execution(name="e", state_machine_name="m", start_time=T0, token_secret="k")
    state, decision = decide(MACHINE, state, ev.StartExecution({"n": 1}, T0))
    (task,) = [c for c in decision.commands if isinstance(c, ev.RunTask)]
    return state, task, [e.type for e in decision.events]


def step(state: ExecutionState, event: Any) -> tuple[ExecutionState, list[ev.HistoryEvent]]:
    state, decision = decide(MACHINE, state, event)
    return state, decision.events


def test_an_activity_task_carries_a_token_and_is_scheduled_not_started() -> None:
    state, task, types = started()
    assert task.token is not None and task.function_name is None
    assert task.token in state.tokens and task.input == {"n": 1}
    assert types[-1] == "ActivityScheduled" and "ActivityStarted" not in types


def test_taken_then_answered_records_the_worker_once() -> None:
    state, task, _ = started()
    at = T0 + timedelta(seconds=1)
    state, events = step(state, ev.ActivityTaken(task.task_id, at, task.token or "", "w-1"))
    assert [(e.type, e.details) for e in events] == [("ActivityStarted", {"workerName": "w-1"})]
    state, events = step(state, ev.ActivityTaken(task.task_id, at, task.token or "", "w-2"))
    assert events == []  # taken already: a second copy records nothing
    state, events = step(state, ev.CallbackReceived(task.token or "", at, output={"ok": 1}))
    assert [e.type for e in events][:2] == ["ActivitySucceeded", "TaskStateExited"]
    assert state.status == "SUCCEEDED" and state.output == {"ok": 1}


def test_an_answer_that_overtook_the_take_still_records_a_start_first() -> None:
    state, task, _ = started()
    at = T0 + timedelta(seconds=1)
    failure = ev.CallbackReceived(task.token or "", at, error="No", cause="c", failed=True)
    state, events = step(state, failure)
    assert [e.type for e in events][:2] == ["ActivityStarted", "ActivityFailed"]
    state, events = step(state, ev.ActivityTaken(task.task_id, at, task.token or "", "late"))
    assert events == []  # the task has closed


def test_a_forged_take_and_a_timeout_record_no_start() -> None:
    state, task, _ = started()
    at = T0 + timedelta(seconds=1)
    payload = (task.token or "").partition(".")[0]
    state, events = step(state, ev.ActivityTaken(task.task_id, at, payload + "." + "A" * 32))
    assert events == []
    state, events = step(state, ev.TaskTimedOut(task.task_id, T0 + timedelta(seconds=60)))
    assert [e.type for e in events][:1] == ["ActivityTimedOut"]
    assert events[0].details["error"] == "States.Timeout" and state.status == "FAILED"


def test_the_outbox_routes_an_activity_task_to_its_activity_queue() -> None:
    _, task, _ = started()
    outbox = Outbox()
    Dispatcher(RuntimeConfig(), ManualClock(T0)).dispatch("arn", [task], outbox, after=(1, {}))
    # The task to its activity's queue; its TimeoutSeconds as a delayed event.
    assert sorted(outbox.messages) == [activity_queue("approve"), "events"]
    (_, message), *_ = outbox.messages[activity_queue("approve")]
    assert "after" not in message.body  # no worker of ours records it
    assert activity_queue("approve") != task_queue(None)


def test_activity_names_and_queue_names() -> None:
    assert activity_name(ACTIVITY) == "approve"
    assert activity_name("arn:aws:states:::lambda:invoke") is None
    assert activity_name(ACTIVITY + ":extra") is None
    assert activity_queue("approve") == "activity-approve"
    long_name, odd_name = "a" * 80, "ünïcode.name"
    for name in (long_name, odd_name):
        queue = activity_queue(name)
        assert len(queue) <= 60 and queue.replace("-", "").replace("_", "").isalnum()
    assert activity_queue("a.b") != activity_queue("a-b")

"""Redrive in the pure core: what an unsuccessful end keeps, and what a redrive reruns."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from stepq.core.events import (
    CancelTask,
    RedriveRequested,
    RunTask,
    StartExecution,
    StartTimer,
    StopRequested,
    TaskFailed,
    TaskSucceeded,
    TimerFired,
)
from stepq.core.execution import ExecutionState, new_execution
from stepq.core.interpreter import decide
from stepq.core.machine import Machine
from stepq.core.redrive import MAX_HISTORY_EVENTS, not_redrivable
from stepq.runtime import codec

T0 = datetime(2026, 1, 1, tzinfo=UTC)
LAMBDA = "arn:aws:lambda:us-east-1:111111111111:function:"


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def task(name: str, **more: Any) -> dict[str, Any]:
    return {"Type": "Task", "Resource": LAMBDA + name, **more}


class Run:
    """One execution driven event by event, collecting history and commands."""

    def __init__(self, definition: dict[str, Any], data: Any = None) -> None:
        self.machine = Machine(definition, name="sm")
        self.state: ExecutionState = new_execution(name="e", state_machine_name="sm", start_time=T0)
        self.history: list[str] = []
        self.commands: list[Any] = []
        self.send(StartExecution(data, T0))

    def send(self, event: Any) -> list[Any]:
        self.state, decision = decide(self.machine, self.state, event)
        self.history.extend(e.type for e in decision.events)
        self.commands.extend(decision.commands)
        return decision.commands

    def tasks(self) -> list[RunTask]:
        return [c for c in self.commands if isinstance(c, RunTask)]


def test_a_failed_task_runs_again_with_the_input_it_had() -> None:
    run = Run(
        {
            "StartAt": "A",
            "States": {"A": task("a", Next="B"), "B": task("b", End=True)},
        },
        {"n": 1},
    )
    first_a = run.tasks()[-1]
    run.send(TaskSucceeded(first_a.task_id, {"n": 2}, at(1)))
    first_b = run.tasks()[-1]
    run.send(TaskFailed(first_b.task_id, "Boom", "no", at(2)))
    assert run.state.status == "FAILED" and list(run.state.halted) == ["f1"]
    assert run.state.frames == {} and not_redrivable(run.state) is None

    commands = run.send(RedriveRequested(at(10), 1))
    again = [c for c in commands if isinstance(c, RunTask)]
    assert run.state.status == "RUNNING" and run.state.error is None
    assert run.state.redrive_count == 1 and run.state.redrive_time == at(10)
    assert [c.function_name for c in again] == ["b"] and again[0].input == {"n": 2}
    assert again[0].task_id != first_b.task_id
    assert again[0].idempotency_key != first_b.idempotency_key  # it really runs again
    assert run.history[-4:-2] == ["ExecutionRedriven", "TaskStateEntered"]
    run.send(TaskSucceeded(again[0].task_id, "done", at(11)))
    assert run.state.status == "SUCCEEDED" and run.state.output == "done"
    assert run.state.halted == {} and run.state.redrive_count == 1
    assert not_redrivable(run.state) == "Execution is SUCCEEDED and cannot be redriven"


def test_a_redrive_is_decided_once_whatever_is_delivered_twice() -> None:
    run = Run({"StartAt": "A", "States": {"A": task("a", End=True)}})
    run.send(TaskFailed(run.tasks()[-1].task_id, "Boom", None, at(1)))
    assert run.send(RedriveRequested(at(2), 2)) == []  # not the next redrive
    assert run.state.status == "FAILED"
    assert run.send(RedriveRequested(at(2), 1))
    assert run.send(RedriveRequested(at(2), 1)) == []  # the same one again
    assert run.send(RedriveRequested(at(3), 2)) == []  # running: nothing to redrive
    assert run.history.count("ExecutionRedriven") == 1


def test_a_stopped_parallel_reruns_only_the_branch_still_running() -> None:
    run = Run(
        {
            "StartAt": "P",
            "States": {
                "P": {
                    "Type": "Parallel",
                    "Branches": [
                        {"StartAt": "A", "States": {"A": task("a", End=True)}},
                        {"StartAt": "B", "States": {"B": task("b", End=True)}},
                    ],
                    "End": True,
                }
            },
        }
    )
    a, b = run.tasks()
    run.send(TaskSucceeded(a.task_id, "a-out", at(1)))
    cancelled = run.send(StopRequested(at(2), error="Stop"))
    assert CancelTask(b.task_id) in cancelled and run.state.status == "ABORTED"
    again = [c for c in run.send(RedriveRequested(at(3), 1)) if isinstance(c, RunTask)]
    assert [c.function_name for c in again] == ["b"]
    run.send(TaskSucceeded(again[0].task_id, "b-out", at(4)))
    assert run.state.status == "SUCCEEDED" and run.state.output == ["a-out", "b-out"]


def _map(**more: Any) -> dict[str, Any]:
    return {
        "StartAt": "M",
        "States": {
            "M": {
                "Type": "Map",
                "ItemProcessor": {"StartAt": "I", "States": {"I": task("i", End=True)}},
                "End": True,
                **more,
            }
        },
    }


def _persisted(run: Run) -> None:
    """The state as a store would give it back (what a halted frame keeps must survive)."""
    run.state = codec.decode_state(codec.encode_state(run.state))


def test_a_failed_map_reruns_only_the_items_that_did_not_succeed() -> None:
    run = Run(_map(MaxConcurrency=2), [1, 2, 3, 4])
    one, two = run.tasks()
    run.send(TaskSucceeded(one.task_id, 10, at(1)))  # item 0 succeeds, item 2 starts
    three = run.tasks()[-1]
    run.send(TaskFailed(two.task_id, "Boom", None, at(2)))  # item 1 fails: 2 cut short, 3 unstarted
    assert run.state.status == "FAILED" and CancelTask(three.task_id) in run.commands
    _persisted(run)
    again = [c for c in run.send(RedriveRequested(at(3), 1)) if isinstance(c, RunTask)]
    assert [c.input for c in again] == [2, 3]  # MaxConcurrency still holds; item 0 is kept
    started = run.history[run.history.index("ExecutionRedriven") :].count("MapIterationStarted")
    assert started == 2
    run.send(TaskSucceeded(again[0].task_id, 20, at(4)))
    last = run.tasks()[-1]
    assert last.input == 4
    run.send(TaskSucceeded(again[1].task_id, 30, at(5)))
    run.send(TaskSucceeded(last.task_id, 40, at(6)))
    assert run.state.status == "SUCCEEDED" and run.state.output == [10, 20, 30, 40]
    assert len([t for t in run.tasks() if t.input == 1]) == 1  # item 0 ran once in all


def test_a_failed_parallel_reruns_only_the_branches_that_did_not_succeed() -> None:
    branches = [{"StartAt": n, "States": {n: task(n.lower(), End=True)}} for n in "ABC"]
    run = Run(
        {"StartAt": "P", "States": {"P": {"Type": "Parallel", "Branches": branches, "End": True}}}
    )
    a, b, _ = run.tasks()
    run.send(TaskSucceeded(a.task_id, "a-out", at(1)))
    run.send(TaskFailed(b.task_id, "Boom", "b broke", at(2)))
    assert run.state.status == "FAILED" and run.state.error == "Boom"
    _persisted(run)
    again = [x for x in run.send(RedriveRequested(at(3), 1)) if isinstance(x, RunTask)]
    assert sorted(x.function_name for x in again) == ["b", "c"]
    for command in again:
        run.send(TaskSucceeded(command.task_id, f"{command.function_name}-out", at(4)))
    assert run.state.status == "SUCCEEDED" and run.state.output == ["a-out", "b-out", "c-out"]


def test_items_that_failed_within_the_tolerance_run_again_on_a_redrive() -> None:
    run = Run(_map(ToleratedFailureCount=1), [1, 2, 3])
    one, two, three = run.tasks()
    run.send(TaskFailed(one.task_id, "Boom", None, at(1)))  # tolerated
    run.send(TaskSucceeded(two.task_id, 20, at(2)))
    run.send(TaskFailed(three.task_id, "Boom", None, at(3)))  # one too many
    assert (
        run.state.status == "FAILED" and run.state.error == "States.ExceedToleratedFailureThreshold"
    )
    again = [c for c in run.send(RedriveRequested(at(4), 1)) if isinstance(c, RunTask)]
    assert [c.input for c in again] == [1, 3]
    for command, output in zip(again, (10, 30), strict=True):
        run.send(TaskSucceeded(command.task_id, output, at(5)))
    assert run.state.output == [10, 20, 30]


def test_a_retried_map_runs_whole_and_a_caught_one_keeps_nothing() -> None:
    retried = Run(_map(Retry=[{"ErrorEquals": ["Boom"], "MaxAttempts": 1}]), [1, 2])
    one, two = retried.tasks()
    retried.send(TaskSucceeded(one.task_id, 10, at(1)))
    timers = retried.send(TaskFailed(two.task_id, "Boom", None, at(2)))
    (timer,) = [c for c in timers if isinstance(c, StartTimer)]
    again = [c for c in retried.send(TimerFired(timer.timer_id, at(5))) if isinstance(c, RunTask)]
    assert [c.input for c in again] == [1, 2]  # Step Functions' Retry reruns the whole state

    caught = Run(
        {
            "StartAt": "M",
            "States": {
                "M": {
                    **_map()["States"]["M"],
                    "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "F"}],
                },
                "F": {"Type": "Fail", "Error": "Caught"},
            },
        },
        [1, 2],
    )
    one, two = caught.tasks()
    caught.send(TaskSucceeded(one.task_id, 10, at(1)))
    caught.send(TaskFailed(two.task_id, "Boom", None, at(2)))
    assert caught.state.status == "FAILED" and caught.state.error == "Caught"
    assert all("salvage" not in f.scratch for f in caught.state.halted.values())
    rerun = caught.send(RedriveRequested(at(3), 1))
    assert not [c for c in rerun if isinstance(c, RunTask)]  # only the Fail state runs again
    assert caught.state.status == "FAILED"


def test_the_execution_timeout_starts_again_under_a_new_timer() -> None:
    run = Run(
        {
            "TimeoutSeconds": 5,
            "StartAt": "W",
            "States": {"W": {"Type": "Wait", "Seconds": 60, "End": True}},
        }
    )
    run.send(TimerFired("execution-timeout", at(5)))
    assert run.state.status == "TIMED_OUT"
    commands = run.send(RedriveRequested(at(100), 1))
    timers = {c.timer_id: c.fire_at for c in commands if isinstance(c, StartTimer)}
    assert timers["execution-timeout#1"] == at(105)
    run.send(TimerFired("execution-timeout", at(101)))  # the first run's: stale
    assert run.state.status == "RUNNING"
    run.send(TimerFired("execution-timeout#1", at(105)))
    assert run.state.status == "TIMED_OUT" and run.history.count("ExecutionTimedOut") == 2


def test_the_context_object_shows_the_redrive() -> None:
    run = Run(
        {
            "StartAt": "A",
            "States": {
                "A": task("a", Next="C"),
                "C": {
                    "Type": "Pass",
                    "Parameters": {
                        "count.$": "$$.Execution.RedriveCount",
                        "time.$": "$$.Execution.RedriveTime",
                    },
                    "End": True,
                },
            },
        }
    )
    run.send(TaskFailed(run.tasks()[-1].task_id, "Boom", None, at(1)))
    again = [c for c in run.send(RedriveRequested(at(2), 1)) if isinstance(c, RunTask)]
    run.send(TaskSucceeded(again[0].task_id, {}, at(3)))
    assert run.state.output == {"count": 1, "time": "2026-01-01T00:00:02.000Z"}


def test_what_cannot_be_redriven_says_why() -> None:
    run = Run({"StartAt": "A", "States": {"A": task("a", End=True)}})
    assert not_redrivable(run.state) == "Execution is RUNNING and cannot be redriven"
    run.send(TaskFailed(run.tasks()[-1].task_id, "Boom", None, at(1)))
    old = run.state.copy()
    old.halted = {}
    assert "before the launch of RedriveExecution" in (not_redrivable(old) or "")
    long = run.state.copy()
    long.last_event_id = MAX_HISTORY_EVENTS
    assert not_redrivable(long) == "Execution history event limit exceeded"


def test_the_kept_state_survives_a_snapshot_round_trip() -> None:
    run = Run({"StartAt": "A", "States": {"A": task("a", End=True)}}, {"n": 1})
    run.send(TaskFailed(run.tasks()[-1].task_id, "Boom", None, at(1)))
    data = codec.encode_state(run.state)
    assert set(data["halted"]) == {"f1"} and "redrive_count" not in data
    back = codec.decode_state(data)
    assert back.halted["f1"].input == {"n": 1} and not_redrivable(back) is None
    _, decision = decide(run.machine, back, RedriveRequested(at(2), 1))
    assert any(isinstance(c, RunTask) for c in decision.commands)
    running = codec.encode_state(decide(run.machine, back, RedriveRequested(at(2), 1))[0])
    assert running["redrive_count"] == 1 and "halted" not in running
    assert codec.decode_state(running).redrive_time == at(2)

"""The core's map run events: each run of a Distributed Map is named, and named once."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from stepq.core.events import StartExecution, TimerFired
from stepq.core.execution import new_execution
from stepq.core.interpreter import decide, replay
from stepq.core.machine import Machine

NOW = datetime(2026, 1, 2, tzinfo=UTC)


def _distributed(**more: Any) -> dict[str, Any]:
    return {
        "Type": "Map",
        "ItemProcessor": {
            "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
            "StartAt": "Check",
            "States": {
                "Check": {
                    "Type": "Choice",
                    "Choices": [{"Variable": "$", "NumericEquals": 2, "Next": "Boom"}],
                    "Default": "Fine",
                },
                "Boom": {"Type": "Fail", "Error": "Two"},
                "Fine": {"Type": "Pass", "End": True},
            },
        },
        **more,
    }


def _events(definition: dict[str, Any], value: Any) -> list[Any]:
    machine = Machine(definition)
    state = new_execution(name="run", state_machine_name="m", start_time=NOW)
    _final, history, _ = replay(machine, state, [StartExecution(value, NOW)])
    return history


def test_a_labelled_run_is_named_after_its_label_and_closes_with_counts() -> None:
    definition = {
        "StartAt": "M",
        "States": {"M": _distributed(Label="Fan", ToleratedFailureCount=1, End=True)},
    }
    history = _events(definition, [1, 2, 3])
    started = next(e for e in history if e.type == "MapRunStarted")
    ended = next(e for e in history if e.type == "MapRunSucceeded")
    arn = f"arn:aws:states:us-east-1:111111111111:mapRun:m/run:Fan-{started.id}"
    assert started.details == {
        "mapRunArn": arn,
        "maxConcurrency": 0,
        "toleratedFailureCount": 1,
        "toleratedFailurePercentage": 0,
        "total": 3,
    }
    assert ended.details == {
        "mapRunArn": arn,
        "total": 3,
        "succeeded": 2,
        "failed": 1,
        "aborted": 0,
        "pending": 0,
    }


def test_each_retry_of_a_map_is_a_run_of_its_own_and_replays_the_same() -> None:
    definition = {
        "StartAt": "M",
        "States": {
            "M": _distributed(MaxConcurrency=1, Retry=[{"ErrorEquals": ["States.ALL"]}], End=True)
        },
    }
    machine = Machine(definition)
    state = new_execution(name="run", state_machine_name="m", start_time=NOW)
    state, decision = decide(machine, state, StartExecution([1, 2, 3], NOW))
    failed = [e for e in decision.events if e.type == "MapRunFailed"]
    assert failed and failed[0].details["failed"] == 1 and failed[0].details["pending"] == 1
    timer = next(iter(state.timers))
    state, again = decide(machine, state, TimerFired(timer, NOW))
    arns = [
        e.details["mapRunArn"] for e in decision.events + again.events if e.type == "MapRunStarted"
    ]
    assert len(arns) == 2 and len(set(arns)) == 2
    # A replay of the same inbound events makes the same ARNs (no randomness).
    first = [e.details for e in decision.events if e.type == "MapRunStarted"]
    replayed = _events(definition, [1, 2, 3])
    assert [e.details for e in replayed if e.type == "MapRunStarted"][:1] == first


def test_an_inline_map_has_no_map_run() -> None:
    definition = {
        "StartAt": "M",
        "States": {
            "M": {
                "Type": "Map",
                "ItemProcessor": {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}},
                "End": True,
            }
        },
    }
    assert not [e for e in _events(definition, [1]) if e.type.startswith("MapRun")]


def _parked_run(**more: Any) -> tuple[Machine, Any, list[Any], str]:
    """A Distributed Map of Tasks, started: the machine, state, tasks, map run ARN."""
    from stepq.core.events import RunTask

    definition = {
        "StartAt": "M",
        "States": {
            "M": {
                "Type": "Map",
                "ItemProcessor": {
                    "ProcessorConfig": {"Mode": "DISTRIBUTED"},
                    "StartAt": "T",
                    "States": {"T": {"Type": "Task", "Resource": "work", "End": True}},
                },
                "End": True,
                **more,
            }
        },
    }
    machine = Machine(definition)
    state = new_execution(name="run", state_machine_name="m", start_time=NOW)
    state, decision = decide(machine, state, StartExecution([1, 2, 3, 4], NOW))
    tasks = [c for c in decision.commands if isinstance(c, RunTask)]
    (started,) = [e for e in decision.events if e.type == "MapRunStarted"]
    return machine, state, tasks, started.details["mapRunArn"]


def test_an_update_widens_a_running_map_run() -> None:
    from stepq.core.events import MapRunUpdated, RunTask

    machine, state, tasks, arn = _parked_run(MaxConcurrency=1)
    assert len(tasks) == 1
    state, decision = decide(machine, state, MapRunUpdated(arn, NOW, max_concurrency=3))
    more = [c for c in decision.commands if isinstance(c, RunTask)]
    assert len(more) == 2  # three at once now
    # Another run's ARN changes nothing.
    _, other = decide(machine, state, MapRunUpdated(arn + "x", NOW, max_concurrency=9))
    assert other.commands == [] and other.events == []


def test_a_tolerance_lowered_below_the_failures_so_far_fails_the_run() -> None:
    from stepq.core.events import MapRunUpdated, TaskFailed

    machine, state, tasks, arn = _parked_run(ToleratedFailureCount=2)
    state, _ = decide(machine, state, TaskFailed(tasks[0].task_id, "Oops", None, NOW))
    assert not state.done  # one failure of two tolerated
    state, decision = decide(machine, state, MapRunUpdated(arn, NOW, tolerated_failure_count=0))
    assert [e.type for e in decision.events if e.type.startswith("MapRun")] == ["MapRunFailed"]
    assert state.done
    assert decision.events[-1].details["error"] == "States.ExceedToleratedFailureThreshold"

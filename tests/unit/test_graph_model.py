"""``api/graph_model.py``: statuses from Step Functions history events, and the JSON the
console gets."""

from __future__ import annotations

from typing import Any

from stepq.api.graph_model import build, mark, to_json

DEFINITION = {
    "StartAt": "Call",
    "States": {
        "Call": {
            "Type": "Task",
            "Resource": "arn:aws:states:::lambda:invoke",
            "Retry": [{"ErrorEquals": ["States.ALL"]}],
            "Next": "Pause",
        },
        "Pause": {"Type": "Wait", "Seconds": 60, "Next": "Ask"},
        "Ask": {
            "Type": "Task",
            "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken",
            "End": True,
        },
    },
}


def _entered(i: int, name: str, data: str = "{}") -> dict[str, Any]:
    return {
        "id": i,
        "timestamp": float(i),
        "type": "TaskStateEntered",
        "stateEnteredEventDetails": {"name": name, "input": data},
    }


def _exited(i: int, name: str, data: str = "{}") -> dict[str, Any]:
    return {
        "id": i,
        "timestamp": float(i),
        "type": "TaskStateExited",
        "stateExitedEventDetails": {"name": name, "output": data},
    }


def _event(i: int, kind: str, **details: Any) -> dict[str, Any]:
    member = kind[:1].lower() + kind[1:] + "EventDetails"
    return {"id": i, "timestamp": float(i), "type": kind, member: details}


def _statuses(events: list[dict[str, Any]], status: str) -> dict[str, str]:
    graph = build(DEFINITION)
    mark(graph, events, status)
    return {n["name"]: n["status"] for n in to_json(graph, marked=True)["nodes"]}


RETRIED = [
    _entered(1, "Call", '{"a":1}'),
    _event(2, "TaskFailed", error="Boom", cause="once"),
    _event(3, "TaskSucceeded", output="{}"),
    _exited(4, "Call", '{"b":2}'),
]


def test_a_retry_that_worked_is_succeeded_not_caught() -> None:
    assert _statuses(RETRIED, "RUNNING")["Call"] == "succeeded"


def test_open_states_wait_on_a_wait_state_or_a_token_and_the_rest_is_not_reached() -> None:
    pausing = [*RETRIED, {**_entered(5, "Pause"), "type": "WaitStateEntered"}]
    assert _statuses(pausing, "RUNNING") == {
        "Call": "succeeded",
        "Pause": "waiting",
        "Ask": "not_reached",
    }
    asking = [
        *pausing,
        {**_exited(6, "Pause"), "type": "WaitStateExited"},
        _entered(7, "Ask"),
        _event(8, "TaskScheduled", resource="invoke.waitForTaskToken", resourceType="lambda"),
    ]
    assert _statuses(asking, "RUNNING")["Ask"] == "waiting"
    assert _statuses(asking, "ABORTED")["Ask"] == "failed"  # stopped while it waited


def test_the_json_has_visits_and_taken_edges() -> None:
    graph = build(DEFINITION)
    mark(graph, RETRIED, "RUNNING")
    found = to_json(graph, marked=True)
    call = next(n for n in found["nodes"] if n["name"] == "Call")
    assert call["visit"] == {
        "entries": 1,
        "enteredEventId": 1,
        "enteredAt": 1.0,
        "input": '{"a":1}',
        "error": "Boom",
        "cause": "once",
        "failures": 1,
        "exitedEventId": 4,
        "exitedAt": 4.0,
        "output": '{"b":2}',
    }
    taken = [(e["source"], e["target"]) for e in found["edges"] if e["taken"]]
    assert taken == [("__start__", call["id"])]
    plain = to_json(graph)
    assert "status" not in plain["nodes"][0] and "taken" not in plain["edges"][0]


def test_a_redrive_closes_what_the_failed_run_left_open() -> None:
    events = [
        _entered(1, "Call"),
        _event(2, "TaskFailed", error="Boom"),
        _event(3, "ExecutionFailed", error="Boom"),
        _event(4, "ExecutionRedriven", redriveCount=1),
        _entered(5, "Call"),
        _event(6, "TaskSucceeded", output="{}"),
        _exited(7, "Call"),
    ]
    assert _statuses(events, "RUNNING")["Call"] == "succeeded"
    assert _statuses(events[:4], "RUNNING")["Call"] == "failed"

"""core.test_state: one state decided on one input, with its data flow laid open (pure)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from stepq.core import test_state as ts
from stepq.core.events import RunTask, StartExecution
from stepq.core.execution import new_execution
from stepq.core.interpreter import decide
from stepq.core.machine import Machine
from stepq.errors import DefinitionError

NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


def _run(state: dict[str, Any], value: Any, **kwargs: Any) -> ts.Outcome:
    name, picked, language = ts.pick_state(state, kwargs.pop("state_name", None))
    return ts.run_state(name, picked, value, now=NOW, query_language=language, **kwargs)


def test_a_lone_states_next_targets_stand_in_so_it_validates() -> None:
    name, state, language = ts.pick_state(
        {"Type": "Choice", "Choices": [{"Variable": "$.a", "IsPresent": True, "Next": "A"}]}, None
    )
    assert (name, state["Type"], language) == (ts.LONE_STATE_NAME, "Choice", "JSONPath")


@pytest.mark.parametrize(
    ("definition", "path"),
    [
        ({"Type": "Pass", "Next": 5}, "/Next"),
        ({"Type": "Pass"}, "/"),
        ({"Type": "Task", "End": True}, "/Resource"),
        ({"Type": "Wait", "Seconds": -1, "End": True}, "/Seconds"),
    ],
)
def test_invalid_states_are_refused_with_the_problems_path(
    definition: dict[str, Any], path: str
) -> None:
    with pytest.raises(DefinitionError) as caught:
        ts.pick_state(definition, None)
    assert any(p.path.startswith(path) for p in caught.value.problems), caught.value.problems


def test_a_step_failure_with_retry_and_catch() -> None:
    state = {
        "Type": "Task",
        "Resource": "arn:aws:lambda:us-east-1:111111111111:function:f",
        "Retry": [{"ErrorEquals": ["E"], "MaxAttempts": 1, "IntervalSeconds": 2}],
        "Catch": [{"ErrorEquals": ["E"], "ResultPath": "$.e", "Next": "C"}],
        "Next": "N",
    }

    def fail(command: RunTask) -> ts.StepResult:
        return ts.StepResult(error="E", cause="c")

    first = _run(state, {"x": 1}, invoke=fail)
    assert (first.status, first.next_state, first.error_details) == (
        ts.RETRIABLE,
        ts.LONE_STATE_NAME,
        {"retryIndex": 0, "retryBackoffIntervalSeconds": 2},
    )
    caught = _run(state, {"x": 1}, invoke=fail, retrier_retry_count=1)
    assert (caught.status, caught.next_state, caught.output) == (
        ts.CAUGHT_ERROR,
        "C",
        {"x": 1, "e": {"Error": "E", "Cause": "c"}},
    )
    assert caught.error_details == {"catchIndex": 0}


def test_a_catcher_whose_result_path_cannot_apply_fails_the_state() -> None:
    state = {
        "Type": "Task",
        "Resource": "arn:aws:lambda:us-east-1:111111111111:function:f",
        "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.a.b", "Next": "C"}],
        "End": True,
    }
    outcome = _run(state, {"a": 1}, mock=ts.StepResult(error="E"))
    assert outcome.status == ts.FAILED and outcome.error == "States.ResultPathMatchFailure"


def test_states_runtime_is_never_retried_or_caught() -> None:
    state = {
        "Type": "Task",
        "Resource": "arn:aws:lambda:us-east-1:111111111111:function:f",
        "Parameters": {"x.$": "$.missing"},
        "Retry": [{"ErrorEquals": ["States.ALL"]}],
        "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "C"}],
        "End": True,
    }
    called: list[RunTask] = []
    outcome = _run(state, {}, invoke=lambda c: called.append(c) or ts.StepResult({}))
    assert outcome.status == ts.FAILED and outcome.error == "States.Runtime" and not called
    assert "(entered at the event id #2)" in (outcome.cause or "")


def test_the_callers_context_object_is_what_the_state_reads() -> None:
    state = {"Type": "Pass", "Parameters": {"name.$": "$$.Execution.Name"}, "End": True}
    outcome = _run(state, {}, context={"Execution": {"Name": "mine"}})
    assert outcome.output == {"name": "mine"}


def test_map_and_parallel_and_callbacks_need_a_mock() -> None:
    parallel = {
        "Type": "Parallel",
        "Branches": [{"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}],
        "End": True,
    }
    with pytest.raises(ts.Unsupported):
        _run(parallel, {})
    caught = _run(
        {**parallel, "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "C"}]},
        {},
        mock=ts.StepResult(error="States.BranchFailed", cause="x"),
    )
    assert caught.status == ts.CAUGHT_ERROR and caught.next_state == "C"
    token_task = {
        "Type": "Task",
        "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken",
        "Parameters": {"FunctionName": "f", "Payload": {"token.$": "$$.Task.Token"}},
        "End": True,
    }
    with pytest.raises(ts.Unsupported):
        _run(token_task, {})
    assert _run(token_task, {}, mock=ts.StepResult({"ok": 1})).output == {"ok": 1}


# Pass states whose output the whole interpreter, run as a one-state machine, agrees with.
_PATHS = st.sampled_from(["$", "$.a", "$.b"])
_PASS = st.fixed_dictionaries(
    {"Type": st.just("Pass"), "End": st.just(True)},
    optional={
        "InputPath": _PATHS,
        "Parameters": st.just({"copy.$": "$", "k": 1}),
        "ResultPath": st.sampled_from(["$", "$.r", "$.a.r", None]),
        "OutputPath": _PATHS,
    },
)


@settings(max_examples=60, deadline=None)
@given(state=_PASS, a=st.dictionaries(st.sampled_from(["x", "y"]), st.integers(), max_size=2))
def test_the_outcome_is_what_an_execution_of_the_state_does(
    state: dict[str, Any], a: dict[str, int]
) -> None:
    value = {"a": a, "b": [1, 2]}
    outcome = _run(state, value)
    machine = Machine({"StartAt": "S", "States": {"S": state}})
    start = new_execution(name="e", state_machine_name="m", start_time=NOW)
    result, _ = decide(machine, start, StartExecution(value, NOW))
    if result.status == "SUCCEEDED":
        assert (outcome.status, outcome.output) == ("SUCCEEDED", result.output)
    else:
        assert (outcome.status, outcome.error) == ("FAILED", result.error)


def test_a_mocked_map_still_chooses_and_shapes_its_items() -> None:
    state = {
        "Type": "Map",
        "ItemsPath": "$.items",
        "ItemSelector": {"v.$": "$$.Map.Item.Value", "x.$": "$.missing"},
        "ItemProcessor": {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}},
        "End": True,
    }
    outcome = _run(state, {"items": [1]}, mock=ts.StepResult([1]))
    assert outcome.status == ts.FAILED and outcome.error == "States.Runtime"
    not_a_list = _run(state, {"items": 5}, mock=ts.StepResult([1]))
    assert not_a_list.status == ts.FAILED and "must be an array" in (not_a_list.cause or "")

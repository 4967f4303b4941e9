"""The decision function, state by state, driven in-process by the memory backend."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from stepq.core.events import RunTask, StartExecution, StartTimer, TaskSucceeded, TimerFired
from stepq.core.interpreter import decide, make_token, parse_token
from stepq.core.machine import Machine
from stepq.hosting.local_runner import DEFAULT_START, LocalRunner
from stepq.runtime.steps import SimulatedDelay


def run(definition: dict[str, Any], data: Any = None, functions: dict[str, Any] | None = None):
    return LocalRunner(functions or {}).run(
        Machine(definition, name="sm"), {} if data is None else data
    )


def types(result) -> list[str]:
    return [e.type for e in result.history]


def lam(name: str) -> str:
    return f"arn:aws:lambda:us-east-1:111111111111:function:{name}"


def one(state: dict[str, Any]) -> dict[str, Any]:
    return {"StartAt": "S", "States": {"S": {**state, "End": True}}}


class Boom(Exception):
    pass


def boom(event, context):
    raise Boom("it broke")


# --- Pass and data flow -------------------------------------------------------


def test_pass_result_and_result_path_merge_into_input() -> None:
    result = run(one({"Type": "Pass", "Result": {"b": 2}, "ResultPath": "$.r"}), {"a": 1})
    assert result.status == "SUCCEEDED"
    assert result.output == {"a": 1, "r": {"b": 2}}
    assert types(result) == [
        "ExecutionStarted",
        "PassStateEntered",
        "PassStateExited",
        "ExecutionSucceeded",
    ]


def test_input_path_parameters_output_path() -> None:
    state = {
        "Type": "Pass",
        "InputPath": "$.order",
        "Parameters": {"id.$": "$.id", "fixed": 1, "exec.$": "$$.Execution.Name"},
        "ResultPath": "$.p",
        "OutputPath": "$.p",
    }
    result = run(one(state), {"order": {"id": "o-1"}})
    assert result.output == {"id": "o-1", "fixed": 1, "exec": "execution"}


def test_result_path_null_discards_result_and_output_path_null_gives_empty() -> None:
    assert run(one({"Type": "Pass", "Result": 5, "ResultPath": None}), {"a": 1}).output == {"a": 1}
    assert run(one({"Type": "Pass", "OutputPath": None}), {"a": 1}).output == {}


def test_missing_output_path_is_a_runtime_error_with_aws_text() -> None:
    result = run(one({"Type": "Pass", "OutputPath": "$.nope"}), {"a": 1})
    assert result.status == "FAILED"
    assert result.error == "States.Runtime"
    assert result.cause == (
        "An error occurred while executing the state 'S' (entered at the event id #2). "
        "Invalid path '$.nope' : No results for path: $['nope']"
    )


def test_output_over_256_kib_fails_with_data_limit_exceeded() -> None:
    result = run(one({"Type": "Pass", "Result": "a" * (257 * 1024)}))
    assert (result.status, result.error) == ("FAILED", "States.DataLimitExceeded")


# --- Variables ----------------------------------------------------------------


def test_assign_is_visible_from_the_next_state_only() -> None:
    definition = {
        "StartAt": "A",
        "States": {
            "A": {"Type": "Pass", "Assign": {"x": 1}, "Next": "B"},
            "B": {"Type": "Pass", "Assign": {"x": 2, "old.$": "$x"}, "Next": "C"},
            "C": {"Type": "Pass", "Parameters": {"x.$": "$x", "old.$": "$old"}, "End": True},
        },
    }
    assert run(definition).output == {"x": 2, "old": 1}


def test_jsonata_output_and_assign() -> None:
    definition = {
        "QueryLanguage": "JSONata",
        "StartAt": "A",
        "States": {
            "A": {"Type": "Pass", "Assign": {"total": "{% $sum($states.input.n) %}"}, "Next": "B"},
            "B": {
                "Type": "Pass",
                "Output": {"total": "{% $total %}", "first": "{% $states.input.n[0] %}"},
                "End": True,
            },
        },
    }
    assert run(definition, {"n": [1, 2, 3]}).output == {"total": 6, "first": 1}


# --- Choice -------------------------------------------------------------------


CHOICE = {
    "StartAt": "C",
    "States": {
        "C": {
            "Type": "Choice",
            "Choices": [
                {"Variable": "$.n", "NumericGreaterThan": 10, "Next": "Big"},
                {
                    "And": [
                        {"Variable": "$.n", "NumericGreaterThanEquals": 0},
                        {"Variable": "$.s", "StringEquals": "x"},
                    ],
                    "Next": "SmallX",
                },
            ],
            "Default": "Other",
        },
        "Big": {"Type": "Pass", "Result": "big", "End": True},
        "SmallX": {"Type": "Pass", "Result": "small-x", "End": True},
        "Other": {"Type": "Pass", "Result": "other", "End": True},
    },
}


@pytest.mark.parametrize(
    ("data", "expected"),
    [({"n": 11, "s": "x"}, "big"), ({"n": 3, "s": "x"}, "small-x"), ({"n": 3, "s": "y"}, "other")],
)
def test_choice_picks_first_matching_rule_or_default(data: dict[str, Any], expected: str) -> None:
    assert run(CHOICE, data).output == expected


def test_choice_without_default_fails_with_no_choice_matched() -> None:
    definition = {
        "StartAt": "C",
        "States": {
            "C": {
                "Type": "Choice",
                "Choices": [{"Variable": "$.n", "NumericEquals": 1, "Next": "D"}],
            },
            "D": {"Type": "Succeed"},
        },
    }
    result = run(definition, {"n": 2})
    assert (result.status, result.error) == ("FAILED", "States.NoChoiceMatched")


# --- Wait ---------------------------------------------------------------------


def test_wait_seconds_starts_a_timer_and_continues_when_it_fires() -> None:
    result = run(
        {"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 86400, "End": True}}}, {"a": 1}
    )
    assert result.status == "SUCCEEDED"
    timers = [c for c in result.commands if isinstance(c, StartTimer)]
    assert [t.fire_at - DEFAULT_START for t in timers] == [timedelta(days=1)]
    assert result.history[-1].timestamp - DEFAULT_START == timedelta(days=1)


@pytest.mark.parametrize(
    ("value", "cause_end"),
    [
        (-1, "The SecondsPath parameter references a negative value: $.s == -1"),
        (1.5, "The SecondsPath parameter cannot be parsed as a long value: $.s == 1.5"),
    ],
)
def test_wait_seconds_path_validation(value: Any, cause_end: str) -> None:
    result = run(
        {"StartAt": "W", "States": {"W": {"Type": "Wait", "SecondsPath": "$.s", "End": True}}},
        {"s": value},
    )
    assert result.error == "States.Runtime"
    assert result.cause.endswith(cause_end)


def test_wait_timestamp_path_rejects_missing_zone() -> None:
    definition = {
        "StartAt": "W",
        "States": {"W": {"Type": "Wait", "TimestampPath": "$.t", "End": True}},
    }
    assert run(definition, {"t": "2026-01-02T00:00:00Z"}).status == "SUCCEEDED"
    assert run(definition, {"t": "2026-01-02T00:00:00"}).error == "States.Runtime"


# --- Task, Retry, Catch -----------------------------------------------------------


def test_lambda_task_result_and_history() -> None:
    result = run(
        one({"Type": "Task", "Resource": lam("double"), "ResultPath": "$.r"}),
        {"n": 2},
        {"double": lambda e, c: e["n"] * 2},
    )
    assert result.output == {"n": 2, "r": 4}
    assert types(result)[1:5] == [
        "TaskStateEntered",
        "LambdaFunctionScheduled",
        "LambdaFunctionStarted",
        "LambdaFunctionSucceeded",
    ]


def test_lambda_invoke_returns_the_envelope() -> None:
    state = {
        "Type": "Task",
        "Resource": "arn:aws:states:::lambda:invoke",
        "Parameters": {"FunctionName": lam("f"), "Payload.$": "$"},
    }
    result = run(one(state), {"x": 1}, {"f": lambda e, c: {"got": e}})
    assert result.output["Payload"] == {"got": {"x": 1}}
    assert result.output["StatusCode"] == 200


def test_task_error_is_named_after_the_exception_with_lambda_cause() -> None:
    result = run(one({"Type": "Task", "Resource": lam("boom")}), functions={"boom": boom})
    assert result.error == "Boom"
    assert '"errorMessage": "it broke"' in result.cause


def test_retry_with_backoff_then_success() -> None:
    calls: list[int] = []

    def flaky(event, context):
        calls.append(context.attempt)
        if len(calls) < 3:
            raise Boom("again")
        return "ok"

    state = {
        "Type": "Task",
        "Resource": lam("flaky"),
        "Retry": [
            {"ErrorEquals": ["Boom"], "IntervalSeconds": 2, "BackoffRate": 3, "MaxAttempts": 5}
        ],
    }
    result = run(one(state), functions={"flaky": flaky})
    assert result.output == "ok"
    assert calls == [0, 1, 2]
    delays = [c.fire_at - DEFAULT_START for c in result.commands if isinstance(c, StartTimer)]
    assert delays == [timedelta(seconds=2), timedelta(seconds=2 + 6)]


def test_retry_exhausted_then_catch_with_result_path() -> None:
    state = {
        "Type": "Task",
        "Resource": lam("boom"),
        "Retry": [{"ErrorEquals": ["States.ALL"], "MaxAttempts": 2, "IntervalSeconds": 1}],
        "Catch": [{"ErrorEquals": ["Boom"], "ResultPath": "$.err", "Next": "Handled"}],
        "Next": "Handled",
    }
    definition = {"StartAt": "T", "States": {"T": state, "Handled": {"Type": "Pass", "End": True}}}
    result = run(definition, {"a": 1}, {"boom": boom})
    assert result.output["a"] == 1
    assert result.output["err"]["Error"] == "Boom"
    assert types(result).count("LambdaFunctionScheduled") == 3


def test_max_delay_and_full_jitter_are_deterministic() -> None:
    state = {
        "Type": "Task",
        "Resource": lam("boom"),
        "Retry": [
            {
                "ErrorEquals": ["Boom"],
                "IntervalSeconds": 10,
                "MaxAttempts": 4,
                "BackoffRate": 10,
                "MaxDelaySeconds": 50,
                "JitterStrategy": "FULL",
            }
        ],
    }
    first = run(one(state), functions={"boom": boom})
    second = run(one(state), functions={"boom": boom})
    fire = [c.fire_at for c in first.commands if isinstance(c, StartTimer)]
    assert fire == [c.fire_at for c in second.commands if isinstance(c, StartTimer)]
    gaps = [b - a for a, b in zip([DEFAULT_START, *fire], fire, strict=False)]
    assert all(timedelta(0) <= gap <= timedelta(seconds=50) for gap in gaps)


def test_runtime_errors_are_never_caught() -> None:
    state = {
        "Type": "Task",
        "Resource": lam("id"),
        "OutputPath": "$.missing",
        "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "H"}],
        "Next": "H",
    }
    definition = {"StartAt": "T", "States": {"T": state, "H": {"Type": "Pass", "End": True}}}
    result = run(definition, {}, {"id": lambda e, c: e})
    assert result.error == "States.Runtime"


def test_task_timeout_sees_virtual_time_pass() -> None:
    def slow(event, context):
        raise SimulatedDelay(60, event)

    state = {"Type": "Task", "Resource": lam("slow"), "TimeoutSeconds": 5}
    result = run(one(state), functions={"slow": slow})
    assert (result.status, result.error) == ("FAILED", "States.Timeout")
    assert "LambdaFunctionTimedOut" in types(result)


def test_unknown_function_is_resource_not_found() -> None:
    result = run(one({"Type": "Task", "Resource": lam("nope")}))
    assert result.error == "Lambda.ResourceNotFoundException"


# --- Parallel and Map -----------------------------------------------------------


def test_parallel_results_in_branch_order() -> None:
    branch = lambda v: {"StartAt": "P", "States": {"P": {"Type": "Pass", "Result": v, "End": True}}}  # noqa: E731
    result = run(one({"Type": "Parallel", "Branches": [branch(1), branch(2), branch(3)]}))
    assert result.output == [1, 2, 3]


def test_parallel_branch_failure_fails_the_state_and_can_be_caught() -> None:
    failing = {"StartAt": "F", "States": {"F": {"Type": "Fail", "Error": "Bad", "Cause": "why"}}}
    ok = {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}
    state = {
        "Type": "Parallel",
        "Branches": [ok, failing],
        "Catch": [{"ErrorEquals": ["Bad"], "Next": "H"}],
        "Next": "H",
    }
    definition = {"StartAt": "Par", "States": {"Par": state, "H": {"Type": "Pass", "End": True}}}
    assert run(definition).output == {"Error": "Bad", "Cause": "why"}


def test_map_items_selector_and_order() -> None:
    state = {
        "Type": "Map",
        "ItemsPath": "$.xs",
        "ItemSelector": {"v.$": "$$.Map.Item.Value", "i.$": "$$.Map.Item.Index", "k.$": "$.k"},
        "ItemProcessor": {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}},
    }
    result = run(one(state), {"xs": ["a", "b"], "k": 7})
    assert result.output == [{"v": "a", "i": 0, "k": 7}, {"v": "b", "i": 1, "k": 7}]


def test_map_max_concurrency_one_runs_items_in_sequence() -> None:
    state = {
        "Type": "Map",
        "MaxConcurrency": 1,
        "ItemProcessor": {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}},
    }
    result = run(one(state), [1, 2])
    assert types(result)[3:9] == [
        "MapIterationStarted",
        "PassStateEntered",
        "PassStateExited",
        "MapIterationSucceeded",
        "MapIterationStarted",
        "PassStateEntered",
    ]


def test_map_tolerated_failures() -> None:
    processor = {
        "StartAt": "C",
        "States": {
            "C": {
                "Type": "Choice",
                "Choices": [{"Variable": "$", "NumericEquals": 0, "Next": "F"}],
                "Default": "P",
            },
            "F": {"Type": "Fail", "Error": "Zero"},
            "P": {"Type": "Pass", "End": True},
        },
    }
    tolerant = one({"Type": "Map", "ItemProcessor": processor, "ToleratedFailureCount": 1})
    strict = one({"Type": "Map", "ItemProcessor": processor})
    assert run(tolerant, [0, 1, 2]).status == "SUCCEEDED"
    assert run(strict, [0, 1, 2]).error == "Zero"
    assert run(tolerant, [0, 0, 2]).error == "States.ExceedToleratedFailureThreshold"


# --- Callbacks, stale events, purity ----------------------------------------------


def test_wait_for_task_token_pauses_until_callback() -> None:
    from stepq.core.events import CallbackReceived

    machine = Machine(
        one(
            {
                "Type": "Task",
                "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken",
                "Parameters": {"FunctionName": "notify", "Payload": {"token.$": "$$.Task.Token"}},
            }
        ),
        name="sm",
    )
    state0 = LocalRunner.initial_state(machine)
    state1, d1 = decide(machine, state0, StartExecution({}, DEFAULT_START))
    task = next(c for c in d1.commands if isinstance(c, RunTask))
    assert task.token and task.input == {"token": task.token}
    assert parse_token(task.token) == (state0.meta.execution_arn, task.task_id)
    state2, d2 = decide(machine, state1, TaskSucceeded(task.task_id, {"ack": True}, DEFAULT_START))
    assert [e.type for e in d2.events] == ["TaskSubmitted"] and not state2.done
    state3, _ = decide(
        machine, state2, CallbackReceived(task.token, DEFAULT_START, output={"approved": True})
    )
    assert state3.status == "SUCCEEDED" and state3.output == {"approved": True}


def test_duplicate_and_stale_events_change_nothing() -> None:
    machine = Machine(one({"Type": "Task", "Resource": lam("f")}), name="sm")
    s0 = LocalRunner.initial_state(machine)
    s1, d1 = decide(machine, s0, StartExecution({}, DEFAULT_START))
    task = next(c for c in d1.commands if isinstance(c, RunTask))
    s2, _ = decide(machine, s1, TaskSucceeded(task.task_id, 1, DEFAULT_START))
    assert s2.status == "SUCCEEDED"
    _, d3 = decide(machine, s2, TaskSucceeded(task.task_id, 1, DEFAULT_START))
    assert d3.events == [] and d3.commands == []
    _, d4 = decide(machine, s1, TimerFired("no-such-timer", DEFAULT_START))
    assert d4.events == [] and d4.commands == []
    _, d5 = decide(machine, s1, StartExecution({}, DEFAULT_START))
    assert d5.events == []


def test_decide_does_not_modify_the_given_state() -> None:
    machine = Machine(one({"Type": "Task", "Resource": lam("f")}), name="sm")
    s0 = LocalRunner.initial_state(machine)
    s1, _ = decide(machine, s0, StartExecution({"a": 1}, DEFAULT_START))
    assert s0.last_event_id == 0 and not s0.frames
    assert s1.last_event_id > 0


def test_execution_timeout() -> None:
    definition = {
        "TimeoutSeconds": 10,
        "StartAt": "W",
        "States": {"W": {"Type": "Wait", "Seconds": 60, "End": True}},
    }
    result = run(definition)
    assert (result.status, result.error) == ("TIMED_OUT", "States.Timeout")


def test_token_round_trip() -> None:
    from stepq.core.execution import new_execution
    from stepq.core.interpreter import verify_token

    state = new_execution(name="e", state_machine_name="sm", start_time=DEFAULT_START)
    token = make_token(state.meta, "f1:7")
    assert parse_token(token) == (state.meta.execution_arn, "f1:7")
    assert verify_token(state, token)
    assert parse_token("not a token") is None


def test_jsonata_now_is_the_decision_instant_not_the_wall_clock() -> None:
    definition = one(
        {"Type": "Pass", "QueryLanguage": "JSONata", "Output": "{% [$now(), $millis()] %}"}
    )
    assert run(definition).output == ["2026-01-01T00:00:00.000Z", 1767225600000]

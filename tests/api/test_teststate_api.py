"""TestState over real HTTP with boto3's unchanged client, against ``stepq dev``."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from stepq.hosting.dev import DevServer

from api.server_support import client, module_server

LAMBDA = "arn:aws:lambda:us-east-1:111111111111:function:"


class Declined(Exception):
    pass


def double(event: Any, context: Any) -> Any:
    return {"doubled": event["n"] * 2}


def decline(event: Any, context: Any) -> Any:
    raise Declined(f"no to {event['n']}")


def whoami(event: Any, context: Any) -> Any:
    return {"key": context.idempotency_key, "function": context.function_name}


@pytest.fixture(scope="module")
def dev() -> Iterator[DevServer]:
    """One server for the module: TestState changes nothing a later test could see."""
    functions = {"double": double, "decline": decline, "whoami": whoami}
    with module_server(functions=functions) as server:
        yield server


@pytest.fixture(scope="module")
def sfn(dev: DevServer) -> Any:
    return client(dev)  # host prefixes off: TestState would go to ``sync-<host>``


def _test(sfn: Any, state: dict[str, Any], value: Any, **kwargs: Any) -> dict[str, Any]:
    reply = sfn.test_state(definition=json.dumps(state), input=json.dumps(value), **kwargs)
    reply.pop("ResponseMetadata")
    return reply


def _task(name: str, **more: Any) -> dict[str, Any]:
    return {"Type": "Task", "Resource": LAMBDA + name, "Next": "After", **more}


def test_a_pass_state_shows_each_step_of_its_data_flow(sfn: Any) -> None:
    state = {
        "Type": "Pass",
        "InputPath": "$.order",
        "Parameters": {"id.$": "$.id", "total.$": "States.MathAdd($.net, $.tax)"},
        "ResultPath": "$.summary",
        "OutputPath": "$.summary",
        "Next": "Ship",
    }
    reply = _test(
        sfn, state, {"order": {"id": "o-1", "net": 10, "tax": 2}}, inspectionLevel="DEBUG"
    )
    assert reply["status"] == "SUCCEEDED" and reply["nextState"] == "Ship"
    assert json.loads(reply["output"]) == {"id": "o-1", "total": 12}
    data = {k: json.loads(v) for k, v in reply["inspectionData"].items()}
    assert data["afterInputPath"] == {"id": "o-1", "net": 10, "tax": 2}
    assert data["afterParameters"] == {"id": "o-1", "total": 12}
    assert data["afterResultPath"] == {
        "order": {"id": "o-1", "net": 10, "tax": 2},
        "summary": {"id": "o-1", "total": 12},
    }


def test_info_leaves_the_inspection_out(sfn: Any) -> None:
    reply = _test(sfn, {"Type": "Pass", "End": True}, {"a": 1})
    assert reply == {"status": "SUCCEEDED", "output": '{"a":1}'}


def test_a_task_runs_the_hosted_step(sfn: Any) -> None:
    state = _task("double", ResultSelector={"value.$": "$.doubled"}, ResultPath="$.r")
    reply = _test(sfn, state, {"n": 21}, inspectionLevel="DEBUG")
    assert reply["status"] == "SUCCEEDED" and reply["nextState"] == "After"
    assert json.loads(reply["output"]) == {"n": 21, "r": {"value": 42}}
    data = reply["inspectionData"]
    assert json.loads(data["result"]) == {"doubled": 42}
    assert json.loads(data["afterResultSelector"]) == {"value": 42}


def test_each_test_is_a_run_of_its_own_for_the_step(sfn: Any) -> None:
    """Two tests are two runs: an idempotent step must not take the second for a redelivery."""
    first = json.loads(_test(sfn, _task("whoami"), {})["output"])
    second = json.loads(_test(sfn, _task("whoami"), {})["output"])
    assert first["function"] == "whoami" and first["key"] != second["key"]


def test_lambda_invoke_shapes_the_result_as_lambda_does(sfn: Any) -> None:
    state = {
        "Type": "Task",
        "Resource": "arn:aws:states:::lambda:invoke",
        "Parameters": {"FunctionName": "double", "Payload": {"n.$": "$.n"}},
        "End": True,
    }
    reply = _test(sfn, state, {"n": 4})
    output = json.loads(reply["output"])
    assert reply["status"] == "SUCCEEDED" and "nextState" not in reply
    assert output["Payload"] == {"doubled": 8} and output["StatusCode"] == 200


def test_a_failing_step_fails_the_state_with_lambdas_error(sfn: Any) -> None:
    reply = _test(sfn, _task("decline"), {"n": 1})
    assert reply["status"] == "FAILED" and reply["error"] == "Declined"
    assert json.loads(reply["cause"])["errorMessage"] == "no to 1"
    assert "output" not in reply and "nextState" not in reply


def test_an_unknown_function_fails_as_lambda_reports_it(sfn: Any) -> None:
    reply = _test(sfn, _task("nowhere"), {})
    assert reply["status"] == "FAILED"
    assert reply["error"] == "Lambda.ResourceNotFoundException"
    assert "Function not found" in reply["cause"]


def test_a_matching_retry_makes_the_state_retriable_until_it_is_used_up(sfn: Any) -> None:
    state = _task(
        "decline",
        Retry=[
            {"ErrorEquals": ["Other"]},
            {"ErrorEquals": ["Declined"], "MaxAttempts": 2, "IntervalSeconds": 3},
        ],
    )
    reply = _test(sfn, state, {"n": 1}, inspectionLevel="DEBUG")
    assert reply["status"] == "RETRIABLE" and reply["error"] == "Declined"
    assert reply["inspectionData"]["errorDetails"] == {
        "retryIndex": 1,
        "retryBackoffIntervalSeconds": 3,
    }
    second = _test(sfn, state, {"n": 1}, stateConfiguration={"retrierRetryCount": 1})
    assert second["status"] == "RETRIABLE"
    spent = _test(sfn, state, {"n": 1}, stateConfiguration={"retrierRetryCount": 2})
    assert spent["status"] == "FAILED" and spent["error"] == "Declined"


def test_a_matching_catch_goes_to_the_catchers_next_with_its_result_path(sfn: Any) -> None:
    state = _task(
        "decline",
        Catch=[
            {"ErrorEquals": ["Nope"], "Next": "Elsewhere"},
            {"ErrorEquals": ["States.ALL"], "ResultPath": "$.problem", "Next": "Apologise"},
        ],
    )
    reply = _test(sfn, state, {"n": 7}, inspectionLevel="DEBUG")
    assert reply["status"] == "CAUGHT_ERROR" and reply["nextState"] == "Apologise"
    output = json.loads(reply["output"])
    assert output["n"] == 7 and output["problem"]["Error"] == "Declined"
    assert json.loads(output["problem"]["Cause"])["errorMessage"] == "no to 7"
    assert reply["inspectionData"]["errorDetails"] == {"catchIndex": 1}


def test_a_mock_stands_in_for_the_step(sfn: Any) -> None:
    state = _task("not-hosted", ResultPath="$.r")
    ok = _test(sfn, state, {"a": 1}, mock={"result": '{"mocked": true}'})
    assert json.loads(ok["output"]) == {"a": 1, "r": {"mocked": True}}
    bad = _test(sfn, state, {}, mock={"errorOutput": {"error": "Mocked", "cause": "by test"}})
    assert (bad["status"], bad["error"], bad["cause"]) == ("FAILED", "Mocked", "by test")


def test_choice_wait_succeed_and_fail_are_decided_without_waiting(sfn: Any) -> None:
    choice = {
        "Type": "Choice",
        "Choices": [{"Variable": "$.n", "NumericGreaterThan": 10, "Next": "Big"}],
        "Default": "Small",
    }
    assert _test(sfn, choice, {"n": 11})["nextState"] == "Big"
    assert _test(sfn, choice, {"n": 1})["nextState"] == "Small"
    wait = _test(sfn, {"Type": "Wait", "Seconds": 3600, "Next": "Later"}, {"x": 1})
    assert (wait["status"], wait["nextState"], wait["output"]) == ("SUCCEEDED", "Later", '{"x":1}')
    assert _test(sfn, {"Type": "Succeed"}, [1])["output"] == "[1]"
    fail = _test(sfn, {"Type": "Fail", "ErrorPath": "$.e", "Cause": "why"}, {"e": "Bad"})
    assert (fail["status"], fail["error"], fail["cause"]) == ("FAILED", "Bad", "why")


def test_jsonata_with_variables_and_a_full_machine_with_a_state_name(sfn: Any) -> None:
    machine = {
        "QueryLanguage": "JSONata",
        "StartAt": "First",
        "States": {
            "First": {"Type": "Pass", "Next": "Second"},
            "Second": {
                "Type": "Pass",
                "Output": "{% $states.input.n * $factor %}",
                "Assign": {"seen": "{% $states.input.n %}"},
                "End": True,
            },
        },
    }
    reply = _test(
        sfn,
        machine,
        {"n": 3},
        stateName="Second",
        variables=json.dumps({"factor": 5}),
        inspectionLevel="DEBUG",
    )
    assert reply["status"] == "SUCCEEDED" and reply["output"] == "15"
    assert json.loads(reply["inspectionData"]["variables"]) == {"factor": 5, "seen": 3}


def test_map_and_parallel_need_a_mock_as_in_step_functions(sfn: Any) -> None:
    state = {
        "Type": "Map",
        "ItemsPath": "$.items",
        "ItemSelector": {"v.$": "$$.Map.Item.Value"},
        "MaxConcurrency": 2,
        "ItemProcessor": {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}},
        "End": True,
    }
    with pytest.raises(sfn.exceptions.ValidationException):
        _test(sfn, state, {"items": [1, 2]})
    reply = _test(
        sfn, state, {"items": [1, 2]}, mock={"result": "[10, 20]"}, inspectionLevel="DEBUG"
    )
    assert reply["status"] == "SUCCEEDED" and reply["output"] == "[10,20]"
    data = reply["inspectionData"]
    assert json.loads(data["afterItemSelector"]) == [{"v": 1}, {"v": 2}]
    assert data["maxConcurrency"] == 2


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"definition": "{not json", "input": "{}"}, "InvalidDefinition"),
        ({"definition": '{"Type": "Bogus"}', "input": "{}"}, "InvalidDefinition"),
        ({"definition": '{"Type": "Pass"}', "input": "{}"}, "InvalidDefinition"),
        (
            {"definition": '{"Type": "Pass", "End": true}', "input": "{oops"},
            "InvalidExecutionInput",
        ),
        (
            {"definition": '{"Type": "Pass", "End": true}', "roleArn": "arn:aws:nope"},
            "InvalidArn",
        ),
        (
            {
                "definition": '{"Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken", "Parameters": {"QueueUrl": "q", "MessageBody": {"t.$": "$$.Task.Token"}}, "End": true}'
            },
            "ValidationException",
        ),
        (
            {
                "definition": '{"StartAt": "A", "States": {"A": {"Type": "Pass", "End": true}}}',
                "stateName": "B",
            },
            "ValidationException",
        ),
    ],
)
def test_bad_requests_raise_step_functions_exceptions(
    sfn: Any, kwargs: dict[str, Any], error: str
) -> None:
    with pytest.raises(getattr(sfn.exceptions, error)) as caught:
        sfn.test_state(**kwargs)
    assert caught.value.response["Error"]["Message"]


def test_an_invalid_definition_names_the_problem(sfn: Any) -> None:
    with pytest.raises(sfn.exceptions.InvalidDefinition) as caught:
        sfn.test_state(definition='{"Type": "Pass", "Next": 5}')
    assert "/Next" in caught.value.response["Error"]["Message"]

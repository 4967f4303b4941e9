"""StartExecution, StartSyncExecution, DescribeExecution and StopExecution over real HTTP
with boto3's unchanged stepfunctions client."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from stepq.hosting.dev import DevServer

from api.executions_support import (
    FAILS,
    PASS_ONLY,
    WAIT_LONG,
    create_alias,
    create_machine,
    publish_version,
    shared_dev,
)


@pytest.fixture(scope="module")
def dev() -> Iterator[DevServer]:
    yield from shared_dev()


def _until_closed(sfn: Any, arn: str, seconds: float = 20.0) -> dict[str, Any]:
    deadline = time.monotonic() + seconds
    while True:
        described = sfn.describe_execution(executionArn=arn)
        if described["status"] != "RUNNING" or time.monotonic() > deadline:
            return described
        time.sleep(0.01)


def test_a_pass_only_machine_starts_and_is_described_succeeded(sfn: Any, dev: DevServer) -> None:
    machine = create_machine(sfn, dev, "passes", PASS_ONLY)
    started = sfn.start_execution(stateMachineArn=machine, name="first", input='{"a": 1}')
    arn = started["executionArn"]
    name = machine.rsplit(":", 1)[1]
    assert arn == f"arn:aws:states:us-east-1:111111111111:execution:{name}:first"
    described = _until_closed(sfn, arn)
    assert described["status"] == "SUCCEEDED"
    assert described["executionArn"] == arn
    assert described["stateMachineArn"] == machine
    assert described["name"] == "first"
    assert json.loads(described["input"]) == {"a": 1}
    assert json.loads(described["output"]) == {"a": 1, "first": {"one": 1}}
    assert described["inputDetails"] == {"included": True}
    assert described["outputDetails"] == {"included": True}
    assert described["startDate"] == started["startDate"]
    assert described["stopDate"] >= described["startDate"]
    assert described["redriveCount"] == 0 and described["redriveStatus"] == "NOT_REDRIVABLE"
    assert "error" not in described and "stateMachineVersionArn" not in described


def test_the_same_name_and_input_while_running_returns_the_same_execution(
    sfn: Any, dev: DevServer
) -> None:
    machine = create_machine(sfn, dev, "waits", WAIT_LONG)
    first = sfn.start_execution(stateMachineArn=machine, name="once", input='{"k": 1}')
    again = sfn.start_execution(stateMachineArn=machine, name="once", input='{ "k" : 1 }')
    assert again["executionArn"] == first["executionArn"]
    assert again["startDate"] == first["startDate"]
    with pytest.raises(sfn.exceptions.ExecutionAlreadyExists):
        sfn.start_execution(stateMachineArn=machine, name="once", input='{"k": 2}')


def test_a_closed_execution_s_name_cannot_be_used_again(sfn: Any, dev: DevServer) -> None:
    machine = create_machine(sfn, dev, "quick", PASS_ONLY)
    arn = sfn.start_execution(stateMachineArn=machine, name="done")["executionArn"]
    assert _until_closed(sfn, arn)["status"] == "SUCCEEDED"
    with pytest.raises(sfn.exceptions.ExecutionAlreadyExists):
        sfn.start_execution(stateMachineArn=machine, name="done")


def test_a_start_without_a_name_or_input_gets_a_uuid_and_empty_input(
    sfn: Any, dev: DevServer
) -> None:
    machine = create_machine(sfn, dev, "anon", PASS_ONLY)
    arn = sfn.start_execution(stateMachineArn=machine)["executionArn"]
    name = arn.rsplit(":", 1)[1]
    assert len(name) == 36 and name.count("-") == 4
    assert json.loads(_until_closed(sfn, arn)["input"]) == {}


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"name": "has space"}, "InvalidName"),
        ({"name": "a:b"}, "InvalidName"),
        ({"name": "x" * 81}, "ValidationException"),
        ({"input": "{not json"}, "InvalidExecutionInput"),
        ({"input": "NaN"}, "InvalidExecutionInput"),
        ({"input": '"' + "x" * 262144 + '"'}, "ValidationException"),
        ({"input": '"' + "é" * 140000 + '"'}, "InvalidExecutionInput"),
    ],
)
def test_bad_names_and_inputs_are_refused_as_step_functions_refuses_them(
    sfn: Any, dev: DevServer, kwargs: dict[str, str], error: str
) -> None:
    machine = create_machine(sfn, dev, "strict", PASS_ONLY)
    with pytest.raises(getattr(sfn.exceptions, error)):
        sfn.start_execution(stateMachineArn=machine, **kwargs)
    assert sfn.list_executions(stateMachineArn=machine)["executions"] == []


def test_an_input_of_any_json_value_is_accepted(sfn: Any, dev: DevServer) -> None:
    machine = create_machine(sfn, dev, "values", PASS_ONLY)
    arn = sfn.start_execution(stateMachineArn=machine, input="[1, 2]")["executionArn"]
    assert json.loads(_until_closed(sfn, arn)["input"]) == [1, 2]


@pytest.mark.parametrize(
    ("arn", "error"),
    [
        ("arn:aws:states:us-east-1:111111111111:stateMachine:nobody", "StateMachineDoesNotExist"),
        ("arn:aws:states:us-east-1:111111111111:stateMachine:nobody:3", "StateMachineDoesNotExist"),
        ("not-an-arn", "InvalidArn"),
        ("arn:aws:states:us-east-1:111111111111:activity:nobody", "InvalidArn"),
        ("arn:aws:states:eu-west-1:111111111111:stateMachine:other-region", "InvalidArn"),
    ],
)
def test_starting_what_does_not_exist_is_refused(sfn: Any, arn: str, error: str) -> None:
    with pytest.raises(getattr(sfn.exceptions, error)):
        sfn.start_execution(stateMachineArn=arn)


def test_a_start_through_a_version_or_an_alias_shows_it(sfn: Any, dev: DevServer) -> None:
    machine = create_machine(sfn, dev, "versioned", PASS_ONLY)
    version = publish_version(sfn, dev, machine)
    alias = create_alias(sfn, dev, machine, "live", version)
    by_version = sfn.start_execution(stateMachineArn=version, name="v")["executionArn"]
    by_alias = sfn.start_execution(stateMachineArn=alias, name="a")["executionArn"]
    plain = sfn.start_execution(stateMachineArn=machine, name="p")["executionArn"]
    described = _until_closed(sfn, by_version)
    assert described["status"] == "SUCCEEDED"
    assert described["stateMachineArn"] == machine
    assert described["stateMachineVersionArn"] == version
    assert "stateMachineAliasArn" not in described
    described = _until_closed(sfn, by_alias)
    assert described["stateMachineVersionArn"] == version
    assert described["stateMachineAliasArn"] == alias
    described = _until_closed(sfn, plain)
    assert "stateMachineVersionArn" not in described and "stateMachineAliasArn" not in described


def test_describe_refuses_bad_and_unknown_arns(sfn: Any) -> None:
    with pytest.raises(sfn.exceptions.InvalidArn):
        sfn.describe_execution(executionArn="arn:aws:states:us-east-1:111111111111:execution:m")
    with pytest.raises(sfn.exceptions.InvalidArn):
        sfn.describe_execution(executionArn="arn:aws:states:us-east-1:111111111111:stateMachine:m")
    with pytest.raises(sfn.exceptions.ExecutionDoesNotExist):
        sfn.describe_execution(executionArn="arn:aws:states:us-east-1:111111111111:execution:m:e")


def test_a_failed_execution_is_described_with_its_error_and_metadata_only_hides_data(
    sfn: Any, dev: DevServer
) -> None:
    machine = create_machine(sfn, dev, "fails", FAILS)
    arn = sfn.start_execution(stateMachineArn=machine, input='{"secret": 1}')["executionArn"]
    described = _until_closed(sfn, arn)
    assert described["status"] == "FAILED"
    assert (described["error"], described["cause"]) == ("Custom.Boom", "it had to")
    assert "output" not in described and described["redriveStatus"] == "REDRIVABLE"
    quiet = sfn.describe_execution(executionArn=arn, includedData="METADATA_ONLY")
    assert "input" not in quiet and quiet["inputDetails"] == {"included": False}


def test_stop_aborts_a_running_execution_with_its_error_and_cause(sfn: Any, dev: DevServer) -> None:
    machine = create_machine(sfn, dev, "stoppable", WAIT_LONG)
    arn = sfn.start_execution(stateMachineArn=machine, name="s")["executionArn"]
    assert sfn.describe_execution(executionArn=arn)["status"] == "RUNNING"
    stopped = sfn.stop_execution(executionArn=arn, error="Operator.Stop", cause="not needed")
    described = sfn.describe_execution(executionArn=arn)
    assert described["status"] == "ABORTED"
    assert (described["error"], described["cause"]) == ("Operator.Stop", "not needed")
    assert stopped["stopDate"] == described["stopDate"]
    # Stopping a closed execution changes nothing and answers with its stop date.
    assert sfn.stop_execution(executionArn=arn)["stopDate"] == described["stopDate"]
    assert sfn.describe_execution(executionArn=arn)["error"] == "Operator.Stop"


def test_stop_refuses_unknown_and_bad_arns(sfn: Any) -> None:
    with pytest.raises(sfn.exceptions.ExecutionDoesNotExist):
        sfn.stop_execution(executionArn="arn:aws:states:us-east-1:111111111111:execution:m:e")
    with pytest.raises(sfn.exceptions.InvalidArn):
        sfn.stop_execution(executionArn="execution:m:e")


def _sync_client(dev: DevServer) -> Any:
    # StartSyncExecution's endpoint has a host prefix ("sync-"): a local endpoint
    # needs it off, as for any Step Functions stand-in.
    import boto3
    from botocore.config import Config

    config = Config(inject_host_prefix=False, retries={"max_attempts": 1})
    return boto3.client("stepfunctions", endpoint_url=dev.url, config=config)


def test_start_sync_runs_an_express_machine_to_completion(sfn: Any, dev: DevServer) -> None:
    sfn = _sync_client(dev)
    machine = create_machine(sfn, dev, "express", PASS_ONLY, kind="EXPRESS")
    done = sfn.start_sync_execution(stateMachineArn=machine, name="sync", input='{"z": 0}')
    assert done["status"] == "SUCCEEDED"
    assert done["executionArn"].endswith(":sync")
    assert done["stateMachineArn"] == machine and done["name"] == "sync"
    assert json.loads(done["input"]) == {"z": 0}
    assert json.loads(done["output"]) == {"z": 0, "first": {"one": 1}}
    assert done["outputDetails"] == {"included": True}
    assert done["stopDate"] >= done["startDate"]
    assert done["billingDetails"]["billedDurationInMilliseconds"] >= 100
    failing = create_machine(sfn, dev, "express-fails", FAILS, kind="EXPRESS")
    failed = sfn.start_sync_execution(stateMachineArn=failing, includedData="METADATA_ONLY")
    assert (failed["status"], failed["error"], failed["cause"]) == (
        "FAILED",
        "Custom.Boom",
        "it had to",
    )
    assert "input" not in failed and "output" not in failed


def test_start_sync_refuses_a_standard_machine(sfn: Any, dev: DevServer) -> None:
    sfn = _sync_client(dev)
    machine = create_machine(sfn, dev, "standard", PASS_ONLY)
    with pytest.raises(sfn.exceptions.StateMachineTypeNotSupported):
        sfn.start_sync_execution(stateMachineArn=machine)
    assert sfn.list_executions(stateMachineArn=machine)["executions"] == []

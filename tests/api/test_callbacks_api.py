"""SendTaskSuccess/Failure/Heartbeat over real HTTP with boto3's client, in real time.

A ``.waitForTaskToken`` step hands its token to a step function that only
records it; the test answers through the API as an outside system would.
(State machines are deployed and started through the embedded runtime until
CreateStateMachine/StartExecution land from their own branch.)
"""

from __future__ import annotations

import base64
import json
import queue
from collections.abc import Iterator
from typing import Any

import pytest
from stepq.hosting.dev import DevServer

from api.server_support import client, module_server, unique

TOKENS: queue.Queue[str] = queue.Queue()


def hold(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """The step of a callback task: hand the token over, answer nothing."""
    TOKENS.put(event["token"])
    return {"accepted": True}


@pytest.fixture(scope="module")
def server() -> Iterator[DevServer]:
    with module_server(functions={"hold": hold}) as dev:
        dev.runtime.deploy("approve", machine())
        dev.runtime.deploy("beat", machine(heartbeat=1))
        yield dev


@pytest.fixture
def dev(server: DevServer) -> DevServer:
    while not TOKENS.empty():  # a token left by an earlier test
        TOKENS.get_nowait()
    return server


@pytest.fixture(scope="module")
def sfn(server: DevServer) -> Any:
    return client(server)


def machine(heartbeat: int | None = None) -> dict[str, Any]:
    wait: dict[str, Any] = {
        "Type": "Task",
        "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken",
        "Parameters": {"FunctionName": "hold", "Payload": {"token.$": "$$.Task.Token"}},
        "Catch": [{"ErrorEquals": ["Rejected"], "ResultPath": "$.error", "Next": "Handled"}],
        "Next": "Done",
    }
    if heartbeat:
        wait["HeartbeatSeconds"] = heartbeat
    return {
        "StartAt": "Wait",
        "States": {
            "Wait": wait,
            "Handled": {"Type": "Pass", "Result": "handled", "End": True},
            "Done": {"Type": "Succeed"},
        },
    }


def waiting(dev: DevServer, heartbeat: bool = False) -> tuple[str, str]:
    """(execution ARN, token) of a new execution waiting in its callback task."""
    arn = dev.runtime.start("beat" if heartbeat else "approve", {"order": 7}, name=unique())
    return arn, TOKENS.get(timeout=20)


def unchecked(dev: DevServer) -> Any:
    """A client that sends what botocore would refuse, so the server's checks show."""
    return client(dev, parameter_validation=False)


def test_send_task_success_resumes_the_execution_with_the_output(dev: DevServer, sfn: Any) -> None:
    arn, token = waiting(dev)
    sfn.send_task_success(taskToken=token, output=json.dumps({"approved": True}))
    outcome = dev.runtime.wait(arn, timeout=20)
    assert outcome.status == "SUCCEEDED"
    assert outcome.output == {"approved": True}
    types = [e["type"] for e in dev.runtime.history(arn)]
    assert "TaskSubmitted" in types and "TaskSucceeded" in types


def test_send_task_failure_is_caught_by_a_catch(dev: DevServer, sfn: Any) -> None:
    arn, token = waiting(dev)
    sfn.send_task_failure(taskToken=token, error="Rejected", cause="no budget")
    outcome = dev.runtime.wait(arn, timeout=20)
    assert outcome.status == "SUCCEEDED"
    assert outcome.output == "handled"
    failed = [e for e in dev.runtime.history(arn) if e["type"] == "TaskFailed"]
    assert failed and failed[0]["details"]["error"] == "Rejected"
    assert failed[0]["details"]["cause"] == "no budget"


def test_an_uncaught_failure_fails_the_execution_with_its_error(dev: DevServer, sfn: Any) -> None:
    arn, token = waiting(dev)
    sfn.send_task_failure(taskToken=token, error="Other", cause="why")
    outcome = dev.runtime.wait(arn, timeout=20)
    assert (outcome.status, outcome.error, outcome.cause) == ("FAILED", "Other", "why")


def test_heartbeats_keep_a_task_alive_past_its_heartbeat_seconds(dev: DevServer, sfn: Any) -> None:
    arn, token = waiting(dev, heartbeat=True)
    for _ in range(5):  # 2 s in all, twice the HeartbeatSeconds
        sfn.send_task_heartbeat(taskToken=token)
        dev.runtime.pause(0.4)
    assert dev.runtime.store.get_execution(arn).status == "RUNNING"
    sfn.send_task_success(taskToken=token, output='"late but alive"')
    assert dev.runtime.wait(arn, timeout=20).status == "SUCCEEDED"


def test_a_missing_heartbeat_times_the_task_out(dev: DevServer, sfn: Any) -> None:
    arn, token = waiting(dev, heartbeat=True)
    outcome = dev.runtime.wait(arn, timeout=20)
    assert (outcome.status, outcome.error) == ("FAILED", "States.HeartbeatTimeout")
    with pytest.raises(sfn.exceptions.TaskTimedOut):
        sfn.send_task_heartbeat(taskToken=token)
    with pytest.raises(sfn.exceptions.TaskTimedOut):
        sfn.send_task_success(taskToken=token, output="{}")


# --- errors, synchronous as Step Functions' ---------------------------------------


def test_a_token_this_service_never_issued_is_invalid(sfn: Any) -> None:
    for token in ["not-a-token", "x" * 2048, "abc.def", "e30.short"]:
        with pytest.raises(sfn.exceptions.InvalidToken):
            sfn.send_task_success(taskToken=token, output="{}")
        with pytest.raises(sfn.exceptions.InvalidToken):
            sfn.send_task_failure(taskToken=token)
        with pytest.raises(sfn.exceptions.InvalidToken):
            sfn.send_task_heartbeat(taskToken=token)


def test_a_forged_token_is_invalid_and_moves_nothing(dev: DevServer, sfn: Any) -> None:
    arn, token = waiting(dev)
    payload, _, mac = token.partition(".")
    forged = f"{payload}.{'A' * len(mac)}"
    with pytest.raises(sfn.exceptions.InvalidToken):
        sfn.send_task_success(taskToken=forged, output="{}")
    # Another task id of the same execution, signed with a made-up MAC: invalid too.
    other = base64.urlsafe_b64encode(json.dumps([arn, "0:99"]).encode()).decode().rstrip("=")
    with pytest.raises(sfn.exceptions.InvalidToken):
        sfn.send_task_heartbeat(taskToken=f"{other}.{mac}")
    assert dev.runtime.store.get_execution(arn).status == "RUNNING"
    sfn.send_task_success(taskToken=token, output="{}")  # the genuine one still works
    assert dev.runtime.wait(arn, timeout=20).status == "SUCCEEDED"


def test_a_token_of_an_execution_that_does_not_exist(sfn: Any) -> None:
    arn = "arn:aws:states:us-east-1:111111111111:execution:nope:gone"
    payload = base64.urlsafe_b64encode(json.dumps([arn, "0:2"]).encode()).decode().rstrip("=")
    token = f"{payload}.{'A' * 32}"
    with pytest.raises(sfn.exceptions.TaskDoesNotExist):
        sfn.send_task_success(taskToken=token, output="{}")


def test_a_token_answered_already_has_timed_out(dev: DevServer, sfn: Any) -> None:
    arn, token = waiting(dev)
    sfn.send_task_success(taskToken=token, output="{}")
    dev.runtime.wait(arn, timeout=20)
    with pytest.raises(sfn.exceptions.TaskTimedOut):
        sfn.send_task_success(taskToken=token, output="{}")
    with pytest.raises(sfn.exceptions.TaskTimedOut):
        sfn.send_task_failure(taskToken=token, error="E")


def test_a_token_of_a_stopped_execution_has_timed_out(dev: DevServer, sfn: Any) -> None:
    arn, token = waiting(dev)
    dev.runtime.client.stop_execution(arn)
    assert dev.runtime.wait(arn, timeout=20).status == "ABORTED"
    with pytest.raises(sfn.exceptions.TaskTimedOut):
        sfn.send_task_success(taskToken=token, output="{}")


def test_output_that_is_not_json_is_invalid_output(dev: DevServer, sfn: Any) -> None:
    arn, token = waiting(dev)
    with pytest.raises(sfn.exceptions.InvalidOutput):
        sfn.send_task_success(taskToken=token, output="{not json")
    assert dev.runtime.store.get_execution(arn).status == "RUNNING"


def test_outputs_and_errors_over_the_limits_are_refused(dev: DevServer) -> None:
    arn, token = waiting(dev)
    client = unchecked(dev)
    big = json.dumps("x" * (256 * 1024))  # over 262144 characters
    with pytest.raises(client.exceptions.ClientError) as caught:
        client.send_task_success(taskToken=token, output=big)
    assert caught.value.response["Error"]["Code"] == "ValidationException"
    wide = json.dumps("é" * (130 * 1024))  # under the characters, over the bytes
    with pytest.raises(client.exceptions.ClientError) as caught:
        client.send_task_success(taskToken=token, output=wide)
    assert caught.value.response["Error"]["Code"] == "ValidationException"
    with pytest.raises(client.exceptions.ClientError) as caught:
        client.send_task_failure(taskToken=token, error="E" * 257)
    assert caught.value.response["Error"]["Code"] == "ValidationException"
    with pytest.raises(client.exceptions.ClientError) as caught:
        client.send_task_failure(taskToken=token, error="E", cause="c" * 32769)
    assert caught.value.response["Error"]["Code"] == "ValidationException"
    assert dev.runtime.store.get_execution(arn).status == "RUNNING"
    # At the limits exactly: accepted.
    client.send_task_failure(taskToken=token, error="Rejected", cause="c" * 32768)
    assert dev.runtime.wait(arn, timeout=20).output == "handled"

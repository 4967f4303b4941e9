"""Task tokens reach only the targets of callback tasks (api/redaction.py, docs/API.md).

A ``stepq dev --dev-identities`` server, real HTTP: an execution waits in its
second callback task, the first token echoed in its state (answered with
``{"echo": token}``). Read as a person (the dev header), no reply holds
either token, wherever it would sit; read by the local operator (no
identity on loopback) the history shows them, as Step Functions' does.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import queue
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
from stepq.api.handler import ApiHandler
from stepq.api.identity import DEV_USER_HEADER
from stepq.api.protocol import ApiRequest
from stepq.api.redaction import REDACTED, redact_tokens
from stepq.hosting.dev import DevServer

from api.server_support import client, module_server, unique

TOKENS: queue.Queue[str] = queue.Queue()
CALLBACK = "arn:aws:states:::lambda:invoke.waitForTaskToken"


def hold(event: dict[str, Any], context: Any) -> dict[str, Any]:
    TOKENS.put(event["token"])
    return {"accepted": True}


def _ask(next_state: str | None) -> dict[str, Any]:
    state: dict[str, Any] = {
        "Type": "Task",
        "Resource": CALLBACK,
        "Parameters": {"FunctionName": "hold", "Payload": {"token.$": "$$.Task.Token"}},
        "ResultPath": "$.answer" if next_state else "$.again",
    }
    return {**state, "Next": next_state} if next_state else {**state, "End": True}


TWICE = {"StartAt": "Ask", "States": {"Ask": _ask("Again"), "Again": _ask(None)}}


@pytest.fixture(scope="module")
def dev() -> Iterator[DevServer]:
    with module_server(functions={"hold": hold}, dev_identities=True) as server:
        server.runtime.deploy("twice", TWICE)
        yield server


@pytest.fixture(scope="module")
def waiting(dev: DevServer) -> tuple[str, str, str]:
    """(execution ARN, first token, second token): waiting in ``Again``."""
    arn = dev.runtime.start("twice", {"order": 7}, name=unique())
    first = TOKENS.get(timeout=20)
    client(dev).send_task_success(taskToken=first, output=json.dumps({"echo": first}))
    second = TOKENS.get(timeout=20)
    return arn, first, second


def post(dev: DevServer, target: str, params: dict[str, Any], user: str | None) -> str:
    """The reply's JSON text (any status) of ``target`` as ``user`` (None: no identity)."""
    headers = {"Content-Type": "application/x-amz-json-1.0", "X-Amz-Target": target}
    if user is not None:
        headers[DEV_USER_HEADER] = user
    request = urllib.request.Request(
        dev.url + "/", data=json.dumps(params).encode(), headers=headers, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as reply:
            return str(reply.read().decode())
    except urllib.error.HTTPError as exc:
        return str(exc.read().decode())


def _reads(arn: str, machine: str) -> list[tuple[str, dict[str, Any]]]:
    """Every read a console makes of one execution and its machine."""
    return [
        ("AWSStepFunctions.GetExecutionHistory", {"executionArn": arn}),
        ("AWSStepFunctions.GetExecutionHistory", {"executionArn": arn, "includeExecutionData": True, "reverseOrder": True}),
        ("AWSStepFunctions.DescribeExecution", {"executionArn": arn}),
        ("AWSStepFunctions.DescribeStateMachineForExecution", {"executionArn": arn}),
        ("AWSStepFunctions.ListExecutions", {"stateMachineArn": machine}),
        ("Stepq.SearchExecutions", {}),
        ("Stepq.ListStuckExecutions", {}),
    ]  # fmt: skip


def test_a_person_reads_no_token_anywhere(dev: DevServer, waiting: tuple[str, str, str]) -> None:
    arn, first, second = waiting
    machine = arn.replace(":execution:", ":stateMachine:").rsplit(":", 1)[0]
    history = json.loads(post(dev, *_reads(arn, machine)[0], user="alice"))
    scheduled = [e for e in history["events"] if e["type"] == "TaskScheduled"]
    assert len(scheduled) == 2  # both callback tasks, their parameters redacted
    for event in scheduled:
        parameters = json.loads(event["taskScheduledEventDetails"]["parameters"])
        assert parameters["Payload"] == {"token": REDACTED}
    for target, params in _reads(arn, machine):
        text = post(dev, target, params, user="alice")
        assert first not in text and second not in text, target
        assert first.split(".")[1] not in text  # nor the secret half alone


def test_the_local_operator_sees_the_tokens(dev: DevServer, waiting: tuple[str, str, str]) -> None:
    arn, first, second = waiting
    text = post(dev, "AWSStepFunctions.GetExecutionHistory", {"executionArn": arn}, user=None)
    assert first in text and second in text
    assert REDACTED not in text
    # boto3's unchanged client (no identity) answers with the token read from history.
    events = client(dev).get_execution_history(executionArn=arn)["events"]
    last = [e for e in events if e["type"] == "TaskScheduled"][-1]
    token = json.loads(last["taskScheduledEventDetails"]["parameters"])["Payload"]["token"]
    client(dev).send_task_success(taskToken=token, output="{}")
    assert dev.runtime.wait(arn, timeout=20).status == "SUCCEEDED"
    # The output keeps the first answer, the token in it: the operator reads it, a person not.
    described = {"executionArn": arn}
    mine = json.loads(post(dev, "AWSStepFunctions.DescribeExecution", described, user=None))
    assert json.loads(mine["output"])["answer"] == {"echo": first}
    theirs = json.loads(post(dev, "AWSStepFunctions.DescribeExecution", described, "alice"))
    assert json.loads(theirs["output"])["answer"] == {"echo": REDACTED}


@pytest.mark.parametrize(
    ("caller", "local_operator", "sees"),
    [
        ("arn:aws:iam::111111111111:user/ops", False, True),  # IAM auth in AWS: a machine
        (None, False, False),  # no identity beyond loopback (Lambda never has none)
        (None, True, True),  # the local operator
    ],
)
def test_who_sees_tokens_as_the_lambda_handler_names_the_caller(
    dev: DevServer,
    waiting: tuple[str, str, str],
    caller: str | None,
    local_operator: bool,
    sees: bool,
) -> None:
    arn, first, _ = waiting
    ctx = dataclasses.replace(dev.context, local_operator=local_operator)
    request = ApiRequest(
        "POST",
        "/",
        {
            "content-type": "application/x-amz-json-1.0",
            "x-amz-target": "AWSStepFunctions.GetExecutionHistory",
        },
        json.dumps({"executionArn": arn}).encode(),
        caller=caller,
    )
    text = ApiHandler(ctx).handle(request).body.decode()
    assert (first in text) is sees and (REDACTED in text) is not sees


# --- the redaction itself ----------------------------------------------------------------


def _token(arn: str, task: str, mac: str = "m" * 32) -> str:
    raw = json.dumps([arn, task], separators=(",", ":")).encode()
    payload = base64.urlsafe_b64encode(raw).decode().rstrip("=")
    return f"{payload}.{mac}" if mac else payload


ARN = "arn:aws:states:us-east-1:123456789012:execution:m:e"


def test_tokens_are_found_wherever_they_sit_in_the_text() -> None:
    token = _token(ARN, "t-1")
    nested = json.dumps({"parameters": json.dumps({"token": token}), "cause": f"bad {token}!"})
    redacted = redact_tokens(nested.encode()).decode()
    assert token not in redacted and redacted.count(REDACTED) == 2
    legacy = _token(ARN, "t-2", mac="")  # minted before tokens were signed
    assert redact_tokens(legacy.encode()) == REDACTED.encode()
    run_on = token + "tail"  # the MAC runs into other text: the whole run goes
    assert redact_tokens(run_on.encode()) == REDACTED.encode()


def test_other_text_is_left_alone() -> None:
    for text in [
        b'{"a": "WyJhcm46"}',  # the prefix, but no token behind it
        b'{"data": "' + base64.urlsafe_b64encode(b'["arn:x"]') + b'"}',  # one element only
        b'{"plain": "hello.world"}',
    ]:
        assert redact_tokens(text) == text

"""A Task's Lambda function: registered by its bare name, invoked as its version or alias.

``task_state`` reduces a Resource ARN or ``lambda:invoke``'s ``FunctionName``
to the bare name the step is registered (and routed) under, and keeps the
version or alias as ``RunTask.qualifier``; the worker hands that to the step
(``context.extra["qualifier"]``), and a directly invoked Lambda function
(``stepq.backends.aws.lambda_invoke``) passes it as Invoke's ``Qualifier``.
"""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
from stepq.backends.memory.queues import MemoryQueues
from stepq.backends.memory.store import MemoryStore
from stepq.clock import ManualClock
from stepq.core.events import RunTask, StartExecution
from stepq.core.interpreter import decide
from stepq.core.machine import Machine
from stepq.core.states.task_state import function_name, split_function_name
from stepq.hosting.local_runner import DEFAULT_START, LocalRunner
from stepq.runtime import codec
from stepq.runtime.messages import EVENTS_QUEUE, parse_task, task_message, task_queue
from stepq.runtime.worker import Worker

ACCOUNT = "123456789012"
ARN = f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:charge"


@pytest.mark.parametrize(
    ("reference", "qualifier"),
    [
        ("charge", None),
        ("charge:prod", "prod"),
        ("charge:3", "3"),
        ("charge:$LATEST", "$LATEST"),
        (ARN, None),
        (ARN + ":prod", "prod"),
        (ARN + ":3", "3"),
        (ARN + ":$LATEST", "$LATEST"),
        (f"{ACCOUNT}:function:charge", None),
        (f"{ACCOUNT}:function:charge:prod", "prod"),
        ("function:charge:prod", "prod"),
        (f"arn:aws-us-gov:lambda:us-gov-west-1:{ACCOUNT}:function:charge:7", "7"),
        # Any region and account, as before (conformance cases use placeholders).
        ("arn:aws:lambda:region:account:function:charge:prod", "prod"),
    ],
)
def test_bare_name_and_qualifier(reference: str, qualifier: str | None) -> None:
    assert split_function_name(reference) == ("charge", qualifier)
    assert function_name(reference) == "charge"


@pytest.mark.parametrize(
    "reference",
    ["", "not a function", "charge:bad alias", "a:b:c", "arn:aws:s3:::bucket/key"],
)
def test_anything_else_is_left_alone(reference: str) -> None:
    assert split_function_name(reference) == (reference, None)
    assert function_name(reference) == reference


def test_not_a_string_has_no_name() -> None:
    assert split_function_name(None) == (None, None)
    assert split_function_name({"FunctionName": "charge"}) == (None, None)
    assert function_name(7) is None


# --- the command ---------------------------------------------------------------------


def _run_task(task: dict[str, Any]) -> RunTask:
    machine = Machine({"StartAt": "T", "States": {"T": {"Type": "Task", **task, "End": True}}})
    _, decision = decide(
        machine, LocalRunner.initial_state(machine), StartExecution({"n": 1}, DEFAULT_START)
    )
    return next(c for c in decision.commands if isinstance(c, RunTask))


INVOKE = "arn:aws:states:::lambda:invoke"


@pytest.mark.parametrize(
    ("task", "qualifier"),
    [
        ({"Resource": ARN}, None),
        ({"Resource": ARN + ":prod"}, "prod"),
        ({"Resource": ARN + ":$LATEST"}, "$LATEST"),
        ({"Resource": INVOKE, "Parameters": {"FunctionName": "charge"}}, None),
        ({"Resource": INVOKE, "Parameters": {"FunctionName": ARN}}, None),
        ({"Resource": INVOKE, "Parameters": {"FunctionName": ARN + ":prod"}}, "prod"),
        ({"Resource": INVOKE, "Parameters": {"FunctionName": "charge:3"}}, "3"),
        (
            {"Resource": INVOKE, "Parameters": {"FunctionName": f"{ACCOUNT}:function:charge:prod"}},
            "prod",
        ),
        # Invoke's own Qualifier parameter.
        (
            {"Resource": INVOKE, "Parameters": {"FunctionName": "charge", "Qualifier": "prod"}},
            "prod",
        ),
    ],
)
def test_the_command_carries_the_bare_name_and_the_qualifier(
    task: dict[str, Any], qualifier: str | None
) -> None:
    command = _run_task(task)
    assert command.function_name == "charge"
    assert command.qualifier == qualifier
    assert command.resource == task["Resource"]
    # Through a task message and back (the queue between decider and worker).
    assert parse_task(task_message("e", command).body).command == command


def test_a_command_without_the_field_decodes_as_unqualified() -> None:
    """Messages sent before the field existed."""
    data = codec.encode_command(_run_task({"Resource": ARN}))
    del data["qualifier"]
    command = codec.decode_command(data)
    assert isinstance(command, RunTask) and command.qualifier is None


def test_a_malformed_function_name_stays_not_found() -> None:
    result = LocalRunner({"charge": lambda event, context: "ran"}).run(
        Machine(
            {
                "StartAt": "T",
                "States": {
                    "T": {
                        "Type": "Task",
                        "Resource": INVOKE,
                        "Parameters": {"FunctionName": "charge:bad alias"},
                        "End": True,
                    }
                },
            }
        ),
        {},
    )
    assert result.status == "FAILED"
    assert result.error == "Lambda.ResourceNotFoundException"
    assert "function:charge:bad alias:$LATEST" in (result.cause or "")


@pytest.mark.parametrize(
    "task",
    [
        {"Resource": ARN + ":prod"},
        {"Resource": INVOKE, "Parameters": {"FunctionName": "charge:prod", "Payload.$": "$"}},
        {"Resource": INVOKE, "Parameters": {"FunctionName": f"{ACCOUNT}:function:charge:prod"}},
    ],
)
def test_a_local_step_runs_for_every_form(task: dict[str, Any]) -> None:
    def charge(event: Any, context: Any) -> Any:
        return {"qualifier": context.extra.get("qualifier")}

    result = LocalRunner({"charge": charge}).run(
        Machine({"StartAt": "T", "States": {"T": {"Type": "Task", **task, "End": True}}}), {}
    )
    assert result.status == "SUCCEEDED", result.cause
    output = result.output["Payload"] if task["Resource"] == INVOKE else result.output
    assert output == {"qualifier": None}  # the in-memory runner invokes no Lambda


# --- the worker, invoking Lambda directly -------------------------------------------


def _worker_result(command: RunTask, functions: Any) -> dict[str, Any]:
    queues = MemoryQueues()
    queues.ensure(EVENTS_QUEUE)
    # No applier: the result goes to the events queue; the store only lends its key.
    worker = Worker(functions, queues, ManualClock(DEFAULT_START), store=MemoryStore())
    body = task_message("exec-1", command).body
    worker.handle(worker.queues.keys.sign(task_queue(None), body))
    [received] = queues.receive(EVENTS_QUEUE)
    assert received.body is not None
    event: dict[str, Any] = received.body["event"]
    return event


def _direct(expected_request: dict[str, Any]) -> Any:
    boto3 = pytest.importorskip("boto3")
    from botocore.response import StreamingBody
    from botocore.stub import ANY, Stubber
    from stepq.backends.aws.lambda_invoke import DirectLambdaFunctions

    client = boto3.session.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing"
    ).client("lambda", region_name="us-east-1")
    stubber = Stubber(client)
    payload = json.dumps({"charged": True}).encode()
    stubber.add_response(
        "invoke",
        {"StatusCode": 200, "Payload": StreamingBody(io.BytesIO(payload), len(payload))},
        {"InvocationType": "RequestResponse", "Payload": ANY, **expected_request},
    )
    stubber.activate()
    return DirectLambdaFunctions({}, client), stubber


@pytest.mark.parametrize(
    ("task", "expected_request"),
    [
        ({"Resource": ARN + ":prod"}, {"FunctionName": "charge", "Qualifier": "prod"}),
        ({"Resource": ARN + ":$LATEST"}, {"FunctionName": "charge", "Qualifier": "$LATEST"}),
        (
            {"Resource": INVOKE, "Parameters": {"FunctionName": ARN + ":prod"}},
            {"FunctionName": "charge", "Qualifier": "prod"},
        ),
        (
            {"Resource": INVOKE, "Parameters": {"FunctionName": "charge:3"}},
            {"FunctionName": "charge", "Qualifier": "3"},
        ),
        # Unqualified: no Qualifier at all (Stubber compares the whole request).
        ({"Resource": ARN}, {"FunctionName": "charge"}),
        ({"Resource": INVOKE, "Parameters": {"FunctionName": ARN}}, {"FunctionName": "charge"}),
    ],
)
def test_the_worker_invokes_the_qualified_function(
    task: dict[str, Any], expected_request: dict[str, Any]
) -> None:
    functions, stubber = _direct(expected_request)
    result = _worker_result(_run_task(task), functions)
    stubber.assert_no_pending_responses()
    assert result["type"] == "TaskSucceeded"
    assert result["output"] == {"charged": True}

"""The inbox on the embedded runtime: messages from outside start and resume executions.

Messages are sent as an outside producer sends them (raw SQS text, unsigned)
and the runtime's loops pump the inbox. Machines are put in the API's
catalog directly (CreateStateMachine is another part of issue 10).
"""

from __future__ import annotations

import dataclasses
import json
import time
from typing import Any

import pytest
from stepq.api.catalog import AliasDoc, MachineDoc, VersionDoc
from stepq.api.inbox import inbox
from stepq.core.execution import ExecutionMeta
from stepq.core.tokens import make_token
from stepq.errors import StoreError
from stepq.hosting.embedded import EmbeddedRuntime
from stepq.runtime.inbox import INBOX_QUEUE
from stepq.runtime.signing import Keys

CREATED = "2026-01-01T00:00:00+00:00"
ASK = {
    "StartAt": "Ask",
    "States": {
        "Ask": {
            "Type": "Task",
            "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken",
            "Parameters": {"FunctionName": "ask", "Payload": {"token.$": "$$.Task.Token"}},
            "Catch": [{"ErrorEquals": ["Rejected"], "ResultPath": "$.why", "Next": "Caught"}],
            "End": True,
        },
        "Caught": {"Type": "Pass", "End": True},
    },
}
ECHO = {"StartAt": "Done", "States": {"Done": {"Type": "Pass", "End": True}}}


def _catalogued(runtime: EmbeddedRuntime, name: str, definition: dict[str, Any]) -> int:
    """A machine as CreateStateMachine leaves it: in the store and in the catalog."""
    revision = runtime.deploy(name, definition)
    doc = MachineDoc(creationDate=CREATED, revision=revision)
    runtime.store.put_doc("machine", name, doc.model_dump(), None)
    return revision


def _wait(predicate: Any, timeout: float = 15.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError("timed out waiting")


@pytest.fixture
def asker(embedded: Any) -> tuple[EmbeddedRuntime, list[str]]:
    tokens: list[str] = []
    runtime = embedded(
        {"ask": lambda event, context: tokens.append(event["token"])}, backend="memory"
    )
    _catalogued(runtime, "ask", ASK)
    runtime.start_loops()
    return runtime, tokens


def _started(runtime: EmbeddedRuntime, machine: str) -> list[Any]:
    return runtime.store.list_executions(machine)


def test_a_start_without_a_name_is_named_after_the_sqs_message(embedded: Any) -> None:
    runtime = embedded({})
    _catalogued(runtime, "echo", ECHO)
    runtime.start_loops()
    message_id = runtime.send_to_inbox(
        {"action": "StartExecution", "stateMachineName": "echo", "input": {"n": 1}}
    )
    assert message_id
    header = runtime.wait(runtime.api.arns.execution("echo", message_id), timeout=15)
    assert (header.status, header.name, header.output) == ("SUCCEEDED", message_id, {"n": 1})


def test_a_named_start_by_arn_takes_input_as_json_text_and_runs_once(embedded: Any) -> None:
    runtime = embedded({}, backend="memory")
    _catalogued(runtime, "echo", ECHO)
    runtime.start_loops()
    message = {
        "action": "StartExecution",
        "stateMachineArn": runtime.api.arns.machine("echo"),
        "name": "order-7",
        "input": '{"order": 7}',
    }
    runtime.send_to_inbox(message)
    arn = runtime.api.arns.execution("echo", "order-7")
    assert runtime.wait(arn, timeout=15).output == {"order": 7}
    runtime.send_to_inbox(message)  # the producer sent it twice: nothing new, nothing dead
    _wait(lambda: runtime.inbox_pump.stats.handled == 2)
    assert [h.name for h in _started(runtime, "echo")] == ["order-7"]
    assert runtime.inbox_pump.stats.dead_lettered == 0


def test_a_redelivered_message_starts_one_execution(embedded: Any) -> None:
    """The same SQS message handled twice (its delete lost): one execution, no dead letter."""
    runtime = embedded({}, backend="memory")
    _catalogued(runtime, "echo", ECHO)
    start = {"action": "StartExecution", "stateMachineName": "echo", "input": {"k": "v"}}
    runtime.send_to_inbox(start)
    first = runtime.queues.receive(INBOX_QUEUE, 10)
    message_id = first[0].message_id
    assert runtime.inbox.handle_batch(first).dead == []
    runtime.run_until_idle()  # the first start runs to its end before the copy arrives
    runtime.queues.change_visibility(INBOX_QUEUE, first[0].receipt, 0)  # as if never deleted
    again = runtime.queues.receive(INBOX_QUEUE, 10)
    assert [(m.message_id, m.receive_count) for m in again] == [(message_id, 2)]
    result = runtime.inbox.handle_batch(again)
    assert (result.dead, result.failed) == ([], [])
    headers = _started(runtime, "echo")
    assert [(h.name, h.status) for h in headers] == [(message_id, "SUCCEEDED")]


def test_an_eventbridge_event_is_unwrapped_and_named_after_its_id(embedded: Any) -> None:
    runtime = embedded({}, backend="memory")
    _catalogued(runtime, "echo", ECHO)
    runtime.start_loops()
    event = {
        "version": "0",
        "id": "6a7e8feb-b491-4cf7-a9f1-bf3703467718",
        "detail-type": "Order Placed",
        "source": "shop",
        "detail": {"action": "StartExecution", "stateMachineName": "echo", "input": {"a": 1}},
    }
    runtime.send_to_inbox(event)
    runtime.send_to_inbox(event)  # EventBridge delivered it twice: one execution
    _wait(lambda: runtime.inbox_pump.stats.handled == 2)
    arn = runtime.api.arns.execution("echo", event["id"])
    assert runtime.wait(arn, timeout=15).output == {"a": 1}
    assert len(_started(runtime, "echo")) == 1


def test_a_start_on_a_version_or_an_alias_runs_that_revision(embedded: Any) -> None:
    runtime = embedded({}, backend="memory")
    first = _catalogued(
        runtime, "sm", {**ECHO, "States": {"Done": {"Type": "Pass", "Result": 1, "End": True}}}
    )
    version = VersionDoc(revision=first, creationDate=CREATED)
    runtime.store.put_doc("version", "sm:1", version.model_dump(), None)
    alias = AliasDoc(
        routingConfiguration=[
            {"stateMachineVersionArn": runtime.api.arns.machine("sm", 1), "weight": 100}
        ],
        creationDate=CREATED,
    )
    runtime.store.put_doc("alias", "sm:live", alias.model_dump(), None)
    latest = runtime.deploy(
        "sm", {**ECHO, "States": {"Done": {"Type": "Pass", "Result": 2, "End": True}}}
    )
    doc = runtime.store.get_doc("machine", "sm")
    runtime.store.put_doc("machine", "sm", {**doc.body, "revision": latest}, doc.rev)
    runtime.start_loops()
    for name, target in [("v", "sm:1"), ("a", "sm:live"), ("l", "sm")]:
        runtime.send_to_inbox(
            {"action": "StartExecution", "stateMachineName": target, "name": name}
        )
    outputs = {
        name: runtime.wait(runtime.api.arns.execution("sm", name), timeout=15).output
        for name in "val"
    }
    assert outputs == {"v": 1, "a": 1, "l": 2}
    started = runtime.store.get_doc("started", runtime.api.arns.execution("sm", "a"))
    assert started is not None and started.body["stateMachineAliasArn"].endswith(":sm:live")


def test_task_success_through_the_inbox_resumes_the_waiting_step(asker: Any) -> None:
    runtime, tokens = asker
    runtime.send_to_inbox({"action": "StartExecution", "stateMachineName": "ask", "name": "e1"})
    token = _wait(lambda: tokens and tokens[0])
    runtime.send_to_inbox({"action": "SendTaskSuccess", "taskToken": token, "output": {"ok": True}})
    header = runtime.wait(runtime.api.arns.execution("ask", "e1"), timeout=15)
    assert (header.status, header.output) == ("SUCCEEDED", {"ok": True})


def test_task_failure_through_the_inbox_is_caught(asker: Any) -> None:
    runtime, tokens = asker
    runtime.send_to_inbox({"action": "StartExecution", "stateMachineName": "ask", "name": "e2"})
    token = _wait(lambda: tokens and tokens[0])
    failure = {"action": "SendTaskFailure", "taskToken": token, "error": "Rejected", "cause": "no"}
    runtime.send_to_inbox(failure)
    header = runtime.wait(runtime.api.arns.execution("ask", "e2"), timeout=15)
    assert header.status == "SUCCEEDED"
    assert header.output["why"] == {"Error": "Rejected", "Cause": "no"}


def test_heartbeats_through_the_inbox_keep_a_task_alive(embedded: Any) -> None:
    tokens: list[str] = []
    runtime = embedded(
        {"ask": lambda event, context: tokens.append(event["token"])},
        skip_time=False,
        backend="memory",
    )
    beating = {
        **ASK,
        "States": {**ASK["States"], "Ask": {**ASK["States"]["Ask"], "HeartbeatSeconds": 1}},
    }
    _catalogued(runtime, "beat", beating)
    runtime.start_loops()
    runtime.send_to_inbox({"action": "StartExecution", "stateMachineName": "beat", "name": "b"})
    token = _wait(lambda: tokens and tokens[0])
    for _ in range(8):  # 2 s: twice the heartbeat timeout
        runtime.send_to_inbox({"action": "SendTaskHeartbeat", "taskToken": token})
        time.sleep(0.25)
    runtime.send_to_inbox({"action": "SendTaskSuccess", "taskToken": token, "output": '"done"'})
    header = runtime.wait(runtime.api.arns.execution("beat", "b"), timeout=15)
    assert (header.status, header.output) == ("SUCCEEDED", "done")
    assert runtime.inbox_pump.stats.dead_lettered == 0


def test_an_outage_leaves_the_message_for_redelivery(embedded: Any) -> None:
    runtime = embedded({}, backend="memory")
    _catalogued(runtime, "echo", ECHO)
    runtime.send_to_inbox({"action": "StartExecution", "stateMachineName": "echo", "name": "x"})
    received = runtime.queues.receive(INBOX_QUEUE, 10)

    class Down:
        def __getattr__(self, name: str) -> Any:
            def fail(*args: Any, **kwargs: Any) -> Any:
                raise StoreError("the table is unreachable")

            return fail

    broken = inbox(dataclasses.replace(runtime.api, store=Down()))
    result = broken.handle_batch(received)
    assert (result.failed, result.dead) == (received, [])
    # Once the store is back the same message starts the execution.
    runtime.queues.change_visibility(INBOX_QUEUE, received[0].receipt, 0)
    runtime.run_until_idle()
    assert (
        runtime.store.get_execution(runtime.api.arns.execution("echo", "x")).status == "SUCCEEDED"
    )


# --- bad messages -------------------------------------------------------------------


def _dead_letters(runtime: EmbeddedRuntime, count: int) -> dict[str, str]:
    """raw text -> reason, of what the inbox dead-lettered (memory backend)."""

    def peek() -> list[tuple[str, dict[str, str]]] | None:
        found = runtime.queues.peek("inbox-dlq")
        return found if len(found) >= count else None

    return {text: attributes["stepq-reason"] for text, attributes in _wait(peek)}


def _token(runtime: EmbeddedRuntime, execution: str, task_id: str = "t1") -> str:
    secret = Keys(runtime.store).token_secret(execution)
    meta = ExecutionMeta(execution, "", "", "", "", runtime.clock.now(), token_secret=secret)
    return make_token(meta, task_id)


def test_bad_messages_are_dead_lettered_with_their_reason(embedded: Any) -> None:
    tokens: list[str] = []
    runtime = embedded(
        {"ask": lambda event, context: tokens.append(event["token"])}, backend="memory"
    )
    _catalogued(runtime, "ask", ASK)
    _catalogued(runtime, "echo", ECHO)
    runtime.start_loops()
    runtime.send_to_inbox({"action": "StartExecution", "stateMachineName": "ask", "name": "live"})
    runtime.send_to_inbox(
        {"action": "StartExecution", "stateMachineName": "echo", "name": "done", "input": {"a": 1}}
    )
    token = _wait(lambda: tokens and tokens[0])
    runtime.wait(runtime.api.arns.execution("echo", "done"), timeout=15)
    payload, mac = token.rsplit(".", 1)
    forged = payload + "." + ("A" if mac[0] != "A" else "B") + mac[1:]
    finished = runtime.api.arns.execution("echo", "done")
    # Well signed with the deployment's key: one of a finished execution, one of none.
    closed = _token(runtime, finished)
    ghost = _token(runtime, runtime.api.arns.execution("echo", "ghost"))
    # Well signed, of the running execution, but of no task that waits.
    shut = _token(runtime, runtime.api.arns.execution("ask", "live"), "no-such-task")
    start = {"action": "StartExecution", "stateMachineName": "echo"}
    cases = {
        "not json {": "not JSON",
        "[1, 2]": "not JSON",
        json.dumps({"stateMachineName": "echo"}): "field 'action' is missing",
        json.dumps({"action": "Launch"}): "field 'action' is missing or not one of",
        json.dumps({"action": "SendTaskSuccess", "output": 1}): "schema: taskToken: Field required",
        json.dumps({**start, "nmae": "typo"}): "schema: nmae: Extra inputs are not permitted",
        json.dumps(
            {**start, "stateMachineArn": "x"}
        ): "exactly one of stateMachineArn and stateMachineName",
        json.dumps({**start, "name": 5}): "schema: name: Input should be a valid string",
        json.dumps({**start, "stateMachineName": "nope"}): "StateMachineDoesNotExist",
        json.dumps({"action": "StartExecution", "stateMachineArn": "arn:aws:sqs:x"}): "InvalidArn",
        json.dumps({**start, "stateMachineName": "echo:9"}): "StateMachineDoesNotExist",
        json.dumps({**start, "name": "has space"}): "InvalidName",
        json.dumps({**start, "input": "{oops"}): "input is a string that is not JSON text",
        json.dumps({**start, "input": {"big": "x" * (256 * 1024)}}): "too large",
        json.dumps({**start, "name": "done", "input": {"a": 2}}): "ExecutionAlreadyExists",
        json.dumps(
            {"action": "SendTaskSuccess", "taskToken": "garbage!", "output": 1}
        ): "InvalidToken: Invalid Token: not a task token",
        json.dumps(
            {"action": "SendTaskSuccess", "taskToken": forged, "output": 1}
        ): "InvalidToken: Invalid Token: the token's signature",
        json.dumps({"action": "SendTaskHeartbeat", "taskToken": ghost}): "TaskDoesNotExist",
        json.dumps(
            {"action": "SendTaskFailure", "taskToken": closed}
        ): "TaskTimedOut: Task Timed Out",
        json.dumps({"action": "SendTaskHeartbeat", "taskToken": shut}): "TaskTimedOut: Task Timed",
    }
    for text in cases:
        runtime.queues.send_raw(INBOX_QUEUE, text)
    runtime.doorbell.ring(INBOX_QUEUE)
    dead = _dead_letters(runtime, len(cases))
    assert set(dead) == set(cases)
    for text, expected in cases.items():
        if len(text) > 256 * 1024:  # no room left in the DLQ copy: the reason is cut short
            assert expected.startswith(dead[text]), dead[text]
            continue
        assert expected in dead[text], (text[:80], dead[text])
    assert runtime.queues.depth(INBOX_QUEUE) == 0  # each deleted from the inbox
    # None of it moved the waiting execution, and the real token still works.
    runtime.send_to_inbox({"action": "SendTaskSuccess", "taskToken": token, "output": {"ok": 1}})
    assert runtime.wait(runtime.api.arns.execution("ask", "live"), timeout=15).output == {"ok": 1}

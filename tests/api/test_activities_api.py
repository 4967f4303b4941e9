"""Activities over real HTTP with boto3's client: the catalog operations, and a
worker anywhere (here a thread) polling GetActivityTask and answering with
SendTaskSuccess/Failure, as Step Functions' activity workers do.

(State machines are deployed and started through the embedded runtime until
CreateStateMachine/StartExecution land from their own branch.)
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from stepq.api.protocol import epoch
from stepq.hosting.dev import DevServer

from api.server_support import client, module_server, unique

ACCOUNT = "111111111111"
ARN = f"arn:aws:states:us-east-1:{ACCOUNT}:activity:"


@pytest.fixture(scope="module")
def dev() -> Iterator[DevServer]:
    with module_server() as server:
        server.context.receive_wait = 1.0  # an empty poll returns within a second
        yield server


@pytest.fixture(scope="module")
def sfn(dev: DevServer) -> Any:
    return client(dev)


def activity_machine(activity_arn: str, **task: Any) -> dict[str, Any]:
    return {
        "StartAt": "Work",
        "States": {
            "Work": {
                "Type": "Task",
                "Resource": activity_arn,
                "Catch": [{"ErrorEquals": ["Refused"], "ResultPath": "$.why", "Next": "Refused"}],
                "End": True,
                **task,
            },
            "Refused": {"Type": "Pass", "End": True},
        },
    }


def run_on(dev: DevServer, activity_arn: str, execution_input: Any, **task: Any) -> str:
    name = unique("machine")
    dev.runtime.deploy(name, activity_machine(activity_arn, **task))
    return dev.runtime.start(name, execution_input, name=unique())


def wait_for_event(dev: DevServer, execution: str, kind: str) -> dict[str, Any]:
    for _ in range(100):
        found = [e for e in dev.runtime.history(execution) if e["type"] == kind]
        if found:
            return found[0]
        dev.runtime.pause(0.05)
    raise AssertionError(f"no {kind} in the history of {execution}")


# --- the catalog -----------------------------------------------------------------------


def test_create_describe_and_delete_an_activity(dev: DevServer, sfn: Any) -> None:
    name = unique("approve")
    created = sfn.create_activity(name=name, tags=[{"key": "team", "value": "ops"}])
    assert created["activityArn"] == ARN + name
    described = sfn.describe_activity(activityArn=created["activityArn"])
    assert described["name"] == name and described["activityArn"] == ARN + name
    assert described["creationDate"] == created["creationDate"]
    assert described["encryptionConfiguration"] == {"type": "AWS_OWNED_KEY"}
    tags = dev.runtime.store.get_doc("tags", created["activityArn"])
    assert tags is not None and tags.body["tags"] == {"team": "ops"}
    # The same name again: the same activity (Step Functions' CreateActivity is idempotent).
    again = sfn.create_activity(name=name)
    assert again == {**created, "ResponseMetadata": again["ResponseMetadata"]}
    sfn.delete_activity(activityArn=created["activityArn"])
    with pytest.raises(sfn.exceptions.ActivityDoesNotExist):
        sfn.describe_activity(activityArn=created["activityArn"])
    sfn.delete_activity(activityArn=created["activityArn"])  # gone already: still fine
    assert dev.runtime.store.get_doc("tags", created["activityArn"]) is None


def test_list_activities_pages_through_every_activity(dev: DevServer, sfn: Any) -> None:
    names = {unique("listed") for _ in range(5)}
    for name in names:
        sfn.create_activity(name=name)
    seen: list[str] = []
    pages = 0
    kwargs: dict[str, Any] = {"maxResults": 2}
    while True:
        page = sfn.list_activities(**kwargs)
        pages += 1
        assert len(page["activities"]) <= 2
        for item in page["activities"]:
            assert item["activityArn"] == ARN + item["name"]
            assert item["creationDate"].year >= 2026
            seen.append(item["name"])
        if "nextToken" not in page:
            break
        kwargs["nextToken"] = page["nextToken"]
    assert names <= set(seen) and len(seen) == len(set(seen)) and pages >= 3
    assert seen == sorted(seen)
    with pytest.raises(sfn.exceptions.InvalidToken):
        sfn.list_activities(nextToken="not-a-token")


def test_names_and_arns_are_checked(sfn: Any) -> None:
    for bad in ["has space", "a" * 81, "semi;colon"]:
        with pytest.raises(sfn.exceptions.InvalidName):
            sfn.create_activity(name=bad)
    for arn in ["nope", ARN.replace("activity", "stateMachine") + "x", ARN + "a:b"]:
        with pytest.raises(sfn.exceptions.InvalidArn):
            sfn.describe_activity(activityArn=arn)
        with pytest.raises(sfn.exceptions.InvalidArn):
            sfn.get_activity_task(activityArn=arn)
    with pytest.raises(sfn.exceptions.ActivityDoesNotExist):
        sfn.get_activity_task(activityArn=ARN + "never-made")
    with pytest.raises(sfn.exceptions.InvalidArn):  # another account's
        sfn.describe_activity(activityArn=ARN.replace(ACCOUNT, "222222222222") + "x")


def test_an_empty_poll_returns_no_task(dev: DevServer, sfn: Any) -> None:
    arn = sfn.create_activity(name=unique("idle"))["activityArn"]
    reply = sfn.get_activity_task(activityArn=arn, workerName="w1")
    assert "taskToken" not in reply and "input" not in reply


# --- workers ---------------------------------------------------------------------------


def worker(sfn: Any, arn: str, answer: Any, stop: threading.Event, seen: list[Any]) -> None:
    """An activity worker: poll, work, answer; until stopped."""
    while not stop.is_set():
        task = sfn.get_activity_task(activityArn=arn, workerName="thread-worker")
        if "taskToken" not in task:
            continue
        seen.append(json.loads(task["input"]))
        answer(task["taskToken"], json.loads(task["input"]))


def test_a_worker_thread_completes_executions(dev: DevServer, sfn: Any) -> None:
    arn = sfn.create_activity(name=unique("double"))["activityArn"]
    stop, seen = threading.Event(), []

    def double(token: str, data: Any) -> None:
        sfn.send_task_success(taskToken=token, output=json.dumps({"doubled": data["n"] * 2}))

    thread = threading.Thread(target=worker, args=(sfn, arn, double, stop, seen), daemon=True)
    thread.start()
    try:
        executions = [run_on(dev, arn, {"n": n}, TimeoutSeconds=60) for n in (1, 2, 3)]
        outcomes = [dev.runtime.wait(e, timeout=30) for e in executions]
    finally:
        stop.set()
        thread.join(timeout=10)
    assert [o.status for o in outcomes] == ["SUCCEEDED"] * 3
    assert [o.output for o in outcomes] == [{"doubled": 2}, {"doubled": 4}, {"doubled": 6}]
    assert sorted(s["n"] for s in seen) == [1, 2, 3]
    history = dev.runtime.history(executions[0])
    types = [e["type"] for e in history]
    assert types.index("ActivityScheduled") < types.index("ActivityStarted")
    assert types.index("ActivityStarted") < types.index("ActivitySucceeded")
    assert not {"TaskScheduled", "TaskStarted", "TaskSucceeded", "TaskSubmitted"} & set(types)
    scheduled = next(e for e in history if e["type"] == "ActivityScheduled")["details"]
    assert scheduled["resource"] == arn and scheduled["timeoutInSeconds"] == 60


def test_a_worker_failure_is_caught_and_a_heartbeat_reaches_the_task(
    dev: DevServer, sfn: Any
) -> None:
    arn = sfn.create_activity(name=unique("refuse"))["activityArn"]
    execution = run_on(dev, arn, {"n": 1}, HeartbeatSeconds=30)
    task = sfn.get_activity_task(activityArn=arn, workerName="worker-7")
    assert json.loads(task["input"]) == {"n": 1}
    started = wait_for_event(dev, execution, "ActivityStarted")
    assert started["details"] == {"workerName": "worker-7"}
    sfn.send_task_heartbeat(taskToken=task["taskToken"])
    sfn.send_task_failure(taskToken=task["taskToken"], error="Refused", cause="not today")
    outcome = dev.runtime.wait(execution, timeout=30)
    assert outcome.status == "SUCCEEDED"
    assert outcome.output == {"n": 1, "why": {"Error": "Refused", "Cause": "not today"}}
    failed = [e for e in dev.runtime.history(execution) if e["type"] == "ActivityFailed"]
    assert failed[0]["details"] == {"error": "Refused", "cause": "not today"}
    with pytest.raises(sfn.exceptions.TaskTimedOut):  # answered: closed
        sfn.send_task_success(taskToken=task["taskToken"], output="{}")


def test_a_task_nobody_takes_times_out_and_is_not_handed_out_after(
    dev: DevServer, sfn: Any
) -> None:
    arn = sfn.create_activity(name=unique("nobody"))["activityArn"]
    execution = run_on(dev, arn, {"n": 1}, TimeoutSeconds=1)
    outcome = dev.runtime.wait(execution, timeout=30)
    assert (outcome.status, outcome.error) == ("FAILED", "States.Timeout")
    types = [e["type"] for e in dev.runtime.history(execution)]
    assert "ActivityTimedOut" in types and "ActivityStarted" not in types  # never taken
    reply = sfn.get_activity_task(activityArn=arn)
    assert "taskToken" not in reply  # its task closed: dropped, not handed out


def test_an_activity_task_is_handed_out_once(dev: DevServer, sfn: Any) -> None:
    arn = sfn.create_activity(name=unique("once"))["activityArn"]
    execution = run_on(dev, arn, {"n": 5})
    first = sfn.get_activity_task(activityArn=arn)
    assert json.loads(first["input"]) == {"n": 5}
    assert "taskToken" not in sfn.get_activity_task(activityArn=arn)
    sfn.send_task_success(taskToken=first["taskToken"], output='"done"')
    assert dev.runtime.wait(execution, timeout=30).output == "done"


def test_creation_dates_are_the_servers_clock(dev: DevServer, sfn: Any) -> None:
    before = epoch(dev.runtime.clock.now())
    created = sfn.create_activity(name=unique("dated"))
    assert created["creationDate"].timestamp() >= before - 1


def test_a_forged_task_message_on_the_activity_queue_is_never_handed_out(
    dev: DevServer, sfn: Any
) -> None:
    from stepq.core import events as ev
    from stepq.runtime.messages import activity_queue, task_message
    from stepq.runtime.ports import Message

    name = unique("forged")
    arn = sfn.create_activity(name=name)["activityArn"]
    execution = run_on(dev, arn, {"n": 1})
    genuine = sfn.get_activity_task(activityArn=arn)
    command = ev.RunTask("0:9", arn, None, {"steal": True}, 0, "k", token=genuine["taskToken"])
    body = task_message(execution, command).body
    unsigned = dev.runtime.queues.inner  # sends without the runtime's signature
    unsigned.send(activity_queue(name), [Message(id="forged", body=body)])
    assert "taskToken" not in sfn.get_activity_task(activityArn=arn)
    sfn.send_task_success(taskToken=genuine["taskToken"], output="{}")
    assert dev.runtime.wait(execution, timeout=30).status == "SUCCEEDED"


def test_a_task_for_an_activity_that_does_not_exist_fails_the_execution(
    dev: DevServer, sfn: Any
) -> None:
    # Step Functions records ActivityScheduleFailed: no Catch applies, the execution fails.
    ghost = ARN + unique("ghost")
    execution = run_on(dev, ghost, {}, Catch=[{"ErrorEquals": ["States.ALL"], "Next": "Refused"}])
    for _ in range(200):
        described = sfn.describe_execution(executionArn=execution)
        if described["status"] != "RUNNING":
            break
        dev.runtime.pause(0.05)
    assert described["status"] == "FAILED"
    assert described["error"] == "States.Runtime"
    assert "ActivityScheduleFailed" in described["cause"]

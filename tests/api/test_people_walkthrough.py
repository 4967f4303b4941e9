"""People in the loop over HTTP: ``stepq dev --dev-identities`` (the embedded runtime
on moto), people named by the ``X-Stepq-Dev-User`` header.

jane requests; Executives are tom and gary. A->B needs Approve by the
requester and by an Executive, A->C Deny by an Executive, B->C Deny by the
requester (``people_support.walkthrough``).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError
from stepq.hosting.dev import DevServer
from stepq.runtime.open_tasks import waiting_state
from stepq.runtime.signing import keys_of

from api.people_support import ROLE, Refused, by, call, human, walkthrough
from api.server_support import client, module_server, unique


@pytest.fixture(scope="module")
def dev() -> Iterator[DevServer]:
    with module_server(dev_identities=True) as server:
        # The operator at the machine (no identity, loopback) administers groups.
        call(server, "CreateGroup", {"name": "Executives", "members": ["tom", "gary"]}, None)
        yield server


@pytest.fixture(scope="module")
def sfn(dev: DevServer) -> Any:
    return client(dev)


def machine(sfn: Any, definition: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return sfn.create_state_machine(
        name=unique("people"), definition=json.dumps(definition), roleArn=ROLE, **extra
    )


def create_request(dev: DevServer, machine_arn: str, who: str = "jane", **more: Any) -> str:
    params = {"stateMachineArn": machine_arn, "input": json.dumps({"expense": {"amount": 120}})}
    answer = call(dev, "CreateRequest", {**params, **more}, who)
    assert set(answer) == {"executionArn", "startDate"}
    return str(answer["executionArn"])


def task_in(dev: DevServer, execution: str, state: str, who: str = "jane") -> dict[str, Any]:
    """The request's task in ``state`` once it has opened."""
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        tasks = call(dev, "ListRequestTasks", {"executionArn": execution}, who)["tasks"]
        found = [t for t in tasks if t["state"] == state]
        if found:
            return found[0]
        time.sleep(0.05)
    raise AssertionError(f"no task in {state} for {execution}")


def finished(sfn: Any, execution: str) -> dict[str, Any]:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        described = sfn.describe_execution(executionArn=execution)
        if described["status"] != "RUNNING":
            return described
        time.sleep(0.05)
    raise AssertionError(f"{execution} still running")


def entered(sfn: Any, execution: str) -> list[str]:
    events = sfn.get_execution_history(executionArn=execution, maxResults=1000)["events"]
    return [
        e["stateEnteredEventDetails"]["name"] for e in events if "stateEnteredEventDetails" in e
    ]


def requirements(detail: dict[str, Any]) -> dict[tuple[str, str, str], str]:
    """(transition, action, target) -> status."""
    return {
        (t["name"], r["action"], r["target"]): r["status"]
        for t in detail["transitions"]
        for r in t["requirements"]
    }


def token_of(dev: DevServer, execution: str) -> str:
    """The task token, from the table (no API shows it)."""
    store = dev.runtime.store
    state = waiting_state(store, keys_of(dev.runtime.queues, store), execution)
    assert state is not None and len(state.tokens) == 1
    return next(iter(state.tokens))


def test_walkthrough_jane_then_tom_moves_a_to_b(dev: DevServer, sfn: Any) -> None:
    arn = machine(sfn, walkthrough())["stateMachineArn"]
    execution = create_request(dev, arn)
    a = task_in(dev, execution, "A")
    detail = call(dev, "DescribeTask", {"taskId": a["taskId"]}, "jane")
    assert (detail["status"], detail["requester"], detail["data"]) == (
        "OPEN",
        "jane",
        {"amount": 120},
    )
    assert requirements(detail) == {
        ("toB", "Approve", "requester"): "ACTIVE",
        ("toB", "Approve", "group Executives"): "ACTIVE",
        ("toC", "Deny", "group Executives"): "ACTIVE",
    }
    assert detail["myActions"] == ["Approve"]

    assert call(dev, "ActOnTask", {"taskId": a["taskId"], "action": "Approve"}, "jane") == {
        "status": "OPEN"
    }
    still = call(dev, "DescribeTask", {"taskId": a["taskId"]}, "jane")
    assert still["status"] == "OPEN"
    assert requirements(still)[("toB", "Approve", "requester")] == "DONE"
    assert task_in(dev, execution, "A")["taskId"] == a["taskId"]

    done = call(
        dev, "ActOnTask", {"taskId": a["taskId"], "action": "Approve", "comment": "ok"}, "tom"
    )
    assert done == {"status": "COMPLETED", "transition": "toB"}
    after = call(dev, "DescribeTask", {"taskId": a["taskId"]}, "tom")
    assert (after["status"], after["transition"]) == ("COMPLETED", "toB")
    assert requirements(after)[("toC", "Deny", "group Executives")] == "DISABLED"
    assert [(x["by"], x.get("comment")) for x in after["actions"]] == [
        ("jane", None),
        ("tom", "ok"),
    ]

    b = task_in(dev, execution, "B")
    b_detail = call(dev, "DescribeTask", {"taskId": b["taskId"]}, "jane")
    assert requirements(b_detail) == {("toC", "Deny", "requester"): "ACTIVE"}
    assert entered(sfn, execution)[-1] == "B"
    # jane's inbox holds B (she is its target); tom's holds nothing of this request.
    mine = call(dev, "ListMyTasks", {}, "jane")["tasks"]
    assert b["taskId"] in [t["taskId"] for t in mine]
    assert execution not in [
        t["executionArn"] for t in call(dev, "ListMyTasks", {}, "tom")["tasks"]
    ]

    call(dev, "ActOnTask", {"taskId": b["taskId"], "action": "Deny"}, "jane")
    assert finished(sfn, execution)["status"] == "SUCCEEDED"
    assert entered(sfn, execution)[-1] == "C"
    everything = call(dev, "ListMyTasks", {"status": "ALL"}, "jane")["tasks"]
    statuses = {t["taskId"]: t["status"] for t in everything}
    assert (statuses[a["taskId"]], statuses[b["taskId"]]) == ("COMPLETED", "COMPLETED")


def test_walkthrough_gary_denying_in_a_moves_to_c(dev: DevServer, sfn: Any) -> None:
    arn = machine(sfn, walkthrough())["stateMachineArn"]
    execution = create_request(dev, arn)
    a = task_in(dev, execution, "A")
    answer = call(dev, "ActOnTask", {"taskId": a["taskId"], "action": "Deny"}, "gary")
    assert answer == {"status": "COMPLETED", "transition": "toC"}
    described = finished(sfn, execution)
    assert described["status"] == "SUCCEEDED"
    assert json.loads(described["output"])["task"]["CompletedBy"] == "gary"
    assert entered(sfn, execution) == ["A", "RouteA", "C"]


def test_walkthrough_a_non_member_is_refused_and_recorded(dev: DevServer, sfn: Any) -> None:
    arn = machine(sfn, walkthrough())["stateMachineArn"]
    execution = create_request(dev, arn)
    a = task_in(dev, execution, "A")
    with pytest.raises(Refused) as refused:
        call(dev, "ActOnTask", {"taskId": a["taskId"], "action": "Approve"}, "mallory")
    assert (refused.value.status, refused.value.type) == (403, "AccessDeniedException")
    with pytest.raises(Refused) as anonymous:
        call(dev, "ActOnTask", {"taskId": a["taskId"], "action": "Approve"}, None)
    assert (anonymous.value.status, anonymous.value.type) == (403, "AccessDeniedException")
    # jane (the requester) approving as an Executive is not one: refused too.
    with pytest.raises(Refused):
        call(dev, "ActOnTask", {"taskId": a["taskId"], "action": "Deny"}, "jane")
    detail = call(dev, "DescribeTask", {"taskId": a["taskId"]}, "jane")
    assert [(r["who"], r["what"]) for r in detail["refused"]] == [
        ("mallory", "Approve"),
        ("jane", "Deny"),
    ]
    assert detail["actions"] == [] and detail["status"] == "OPEN"
    # ... and in the request's audit trail (its history), once the events queue applied it.
    deadline = time.monotonic() + 20
    while True:
        audit = call(dev, "DescribeTask", {"taskId": a["taskId"]}, "jane")["audit"]
        lines = [(x["who"], x["what"]) for x in audit if x["what"].startswith("refused")]
        if len(lines) == 2 or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert lines == [("mallory", "refused Approve"), ("jane", "refused Deny")]
    with pytest.raises(Refused) as unseen:  # mallory may not even look
        call(dev, "DescribeTask", {"taskId": a["taskId"]}, "mallory")
    assert unseen.value.status == 403


def test_walkthrough_an_action_after_completion_is_refused(dev: DevServer, sfn: Any) -> None:
    arn = machine(sfn, walkthrough())["stateMachineArn"]
    execution = create_request(dev, arn)
    a = task_in(dev, execution, "A")
    call(dev, "ActOnTask", {"taskId": a["taskId"], "action": "Deny"}, "gary")
    with pytest.raises(Refused) as refused:
        call(dev, "ActOnTask", {"taskId": a["taskId"], "action": "Approve"}, "tom")
    assert refused.value.status == 403 and "completed" in refused.value.message
    finished(sfn, execution)
    detail = call(dev, "DescribeTask", {"taskId": a["taskId"]}, "tom")
    assert detail["transition"] == "toC" and detail["refused"][-1]["who"] == "tom"


def test_walkthrough_the_token_is_refused_and_never_shown(dev: DevServer, sfn: Any) -> None:
    arn = machine(sfn, walkthrough())["stateMachineArn"]
    execution = create_request(dev, arn)
    a = task_in(dev, execution, "A")
    token = token_of(dev, execution)
    for send in (
        lambda: sfn.send_task_success(taskToken=token, output='{"Transition": "toB"}'),
        lambda: sfn.send_task_failure(taskToken=token, error="x"),
        lambda: sfn.send_task_heartbeat(taskToken=token),
    ):
        with pytest.raises(ClientError) as refused:
            send()
        error = refused.value.response["Error"]
        assert error["Code"] == "InvalidToken"
        assert "answer a human task through the inbox" in error["Message"]
    shown = [
        sfn.get_execution_history(executionArn=execution, maxResults=1000),
        sfn.describe_execution(executionArn=execution),
        call(dev, "DescribeTask", {"taskId": a["taskId"]}, "jane"),
        call(dev, "ListMyTasks", {"status": "ALL"}, "tom"),
        call(dev, "DescribeRequest", {"executionArn": execution}, "jane"),
    ]
    call(dev, "ActOnTask", {"taskId": a["taskId"], "action": "Deny"}, "gary")
    finished(sfn, execution)
    shown.append(sfn.get_execution_history(executionArn=execution, maxResults=1000))
    assert token not in json.dumps(shown, default=str)
    assert token.split(".")[1] not in json.dumps(shown, default=str)  # not even its MAC


def test_walkthrough_concurrent_approvals_complete_one_transition(dev: DevServer, sfn: Any) -> None:
    board = [f"member{i}" for i in range(6)]
    group = unique("Board")
    call(dev, "CreateGroup", {"name": group, "members": board}, None)
    two_of = {"Group": group}
    definition = {
        "StartAt": "Vote",
        "States": {
            "Vote": human(
                "Vote",
                [
                    {"Name": "yes", "Requires": [by("Approve", two_of, Count=2)]},
                    {"Name": "no", "Requires": [by("Deny", two_of, Count=2)]},
                ],
                End=True,
            )
        },
    }
    execution = create_request(dev, machine(sfn, definition)["stateMachineArn"])
    vote = task_in(dev, execution, "Vote")
    answers: list[Any] = []
    barrier = threading.Barrier(len(board))

    def act(person: str, action: str) -> None:
        barrier.wait()
        try:
            answers.append(
                call(dev, "ActOnTask", {"taskId": vote["taskId"], "action": action}, person)
            )
        except Refused as exc:
            answers.append(exc.status)

    threads = [
        threading.Thread(target=act, args=(p, "Approve" if i % 2 else "Deny"))
        for i, p in enumerate(board)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    completed = [a for a in answers if isinstance(a, dict) and a["status"] == "COMPLETED"]
    assert len(completed) == 1, answers
    output = json.loads(finished(sfn, execution)["output"])
    assert output["task"]["Transition"] == completed[0]["transition"]
    assert all(a == 403 or a["status"] in ("OPEN", "COMPLETED") for a in answers)


def test_walkthrough_requests_on_two_versions(dev: DevServer, sfn: Any) -> None:
    created = machine(sfn, walkthrough("Version one"), publish=True)
    v1 = created["stateMachineVersionArn"]
    first = create_request(dev, v1)
    sfn.update_state_machine(
        stateMachineArn=created["stateMachineArn"],
        definition=json.dumps(walkthrough("Version two")),
        publish=True,
    )
    second = create_request(dev, created["stateMachineArn"])
    old, new = task_in(dev, first, "A"), task_in(dev, second, "A")
    assert (old["title"], new["title"]) == ("Version one", "Version two")
    assert sfn.describe_execution(executionArn=first)["stateMachineVersionArn"] == v1
    for task in (old, new):
        call(dev, "ActOnTask", {"taskId": task["taskId"], "action": "Deny"}, "tom")
    assert finished(sfn, first)["status"] == finished(sfn, second)["status"] == "SUCCEEDED"


def test_walkthrough_notes_claims_and_the_request(dev: DevServer, sfn: Any) -> None:
    arn = machine(sfn, walkthrough())["stateMachineArn"]
    execution = create_request(dev, arn, stakeholders=["sue"])
    a = task_in(dev, execution, "A")
    claimed = call(dev, "ClaimTask", {"taskId": a["taskId"]}, "tom")
    assert claimed["assignee"] == "tom"
    with pytest.raises(Refused):  # gary may not take what tom holds
        call(dev, "ClaimTask", {"taskId": a["taskId"]}, "gary")
    assert (
        call(dev, "ReassignTask", {"taskId": a["taskId"], "to": "gary"}, "tom")["assignee"]
        == "gary"
    )
    assert call(dev, "UnclaimTask", {"taskId": a["taskId"]}, "gary")["assignee"] is None
    with pytest.raises(Refused, match="tom takes part in this task in their own right"):
        call(dev, "DelegateTask", {"taskId": a["taskId"], "to": "tom"}, "gary")  # 2 votes in 1
    delegated = call(dev, "DelegateTask", {"taskId": a["taskId"], "to": "ann"}, "gary")
    assert delegated["taskId"] == a["taskId"]
    assert call(dev, "ListMyTasks", {}, "ann")["tasks"][0]["myActions"] == ["Approve", "Deny"]
    with pytest.raises(Refused):  # gary delegated this task away
        call(dev, "ActOnTask", {"taskId": a["taskId"], "action": "Deny"}, "gary")
    note = call(dev, "AddNote", {"executionArn": execution, "text": "receipt?"}, "sue")
    with pytest.raises(Refused):
        call(dev, "AddNote", {"executionArn": execution, "text": "spam"}, "mallory")
    answer = call(
        dev, "ActOnTask", {"taskId": a["taskId"], "action": "Deny", "onBehalfOf": "gary"}, "ann"
    )
    assert answer["transition"] == "toC"
    request = call(dev, "DescribeRequest", {"executionArn": execution}, "sue")
    assert (request["requester"], request["stakeholders"]) == ("jane", ["sue"])
    assert [n["noteId"] for n in request["notes"]] == [note["noteId"]]
    result = json.loads(finished(sfn, execution)["output"])["task"]
    assert result["Actions"] == [
        {"Action": "Deny", "By": "ann", "At": result["Actions"][0]["At"], "OnBehalfOf": "gary"}
    ]


def test_walkthrough_people_operations_need_an_identity(dev: DevServer, sfn: Any) -> None:
    arn = machine(sfn, walkthrough())["stateMachineArn"]
    with pytest.raises(Refused) as refused:
        call(dev, "CreateRequest", {"stateMachineArn": arn}, None)
    assert (refused.value.status, refused.value.type) == (403, "AccessDeniedException")
    with pytest.raises(Refused) as unknown:
        call(dev, "DescribeTask", {"taskId": "nope"}, "jane")
    assert unknown.value.type == "ResourceNotFound"

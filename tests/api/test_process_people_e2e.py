"""A process definition deployed with ``stepq process deploy`` and run by people
through the inbox on ``stepq dev --dev-identities``: the compiled human tasks open,
people act, and the route Choices take them where the file says."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from email import policy
from email.parser import BytesParser
from pathlib import Path
from typing import Any

import pytest
from stepq.backends.local_outbox import OutboxFolder
from stepq.hosting.dev import DevServer
from stepq.runtime.people.directory import Directory

from api.cli_support import stepq
from api.people_support import call
from api.server_support import client, module_server

EXAMPLE = Path(__file__).resolve().parents[2] / "state_machine" / "expense_approval.process.yaml"


@pytest.fixture(scope="module")
def outbox(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("outbox")


@pytest.fixture(scope="module")
def dev(outbox: Path) -> Iterator[DevServer]:
    with module_server(dev_identities=True, mailer=OutboxFolder(outbox)) as server:
        # jane's address, where the e-mail activities find it (docs/PEOPLE.md, "E-mail")
        server.runtime.store.put_doc("person", "jane", {"email": "jane@example.com"}, None)
        groups = Directory(server.runtime.store)
        groups.create("Managers", ["mary"])
        groups.create("Finance", ["f1", "f2", "f3"])
        groups.create("FinanceAdmins", ["boss"])
        yield server


def _deploy(dev: DevServer, path: Path) -> str:
    result = stepq(dev, "process", "deploy", str(path))
    assert result.exit_code == 0, result.output
    return str(result.output.split()[-1])  # the version ARN


def _request(dev: DevServer, version_arn: str, data: dict[str, Any]) -> str:
    params = {"stateMachineArn": version_arn, "input": json.dumps(data)}
    return str(call(dev, "CreateRequest", params, "jane")["executionArn"])


def _task(dev: DevServer, execution: str, state: str) -> dict[str, Any]:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        tasks = call(dev, "ListRequestTasks", {"executionArn": execution}, "jane")["tasks"]
        found = [t for t in tasks if t["state"] == state and t["status"] == "OPEN"]
        if found:
            return found[0]
        time.sleep(0.05)
    raise AssertionError(f"no open task in {state}")


def _act(dev: DevServer, task: dict[str, Any], who: str, action: str) -> dict[str, Any]:
    return dict(call(dev, "ActOnTask", {"taskId": task["taskId"], "action": action}, who))


def _events(dev: DevServer, execution: str, until: str) -> list[dict[str, Any]]:
    """The history once ``until`` was entered (or the execution ended)."""
    sfn = client(dev)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        events = sfn.get_execution_history(executionArn=execution, maxResults=1000)["events"]
        names = [
            e["stateEnteredEventDetails"]["name"] for e in events if "stateEnteredEventDetails" in e
        ]
        if until in names:
            return list(events)
        if sfn.describe_execution(executionArn=execution)["status"] != "RUNNING":
            # Read again: it may have ended after the history above was read.
            return list(
                sfn.get_execution_history(executionArn=execution, maxResults=1000)["events"]
            )
        time.sleep(0.05)
    raise AssertionError(f"{execution} never entered {until}")


def _entered(events: list[dict[str, Any]]) -> list[str]:
    return [
        e["stateEnteredEventDetails"]["name"] for e in events if "stateEnteredEventDetails" in e
    ]


def _left(events: list[dict[str, Any]], state: str) -> Any:
    for event in events:
        details = event.get("stateExitedEventDetails")
        if details and details["name"] == state:
            return json.loads(details["output"])
    raise AssertionError(f"{state} was not left")


def _finished(dev: DevServer, execution: str) -> str:
    sfn = client(dev)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        status = str(sfn.describe_execution(executionArn=execution)["status"])
        if status != "RUNNING":
            return status
        time.sleep(0.05)
    raise AssertionError(f"{execution} still runs")


def _mail(outbox: Path) -> list[tuple[str, str]]:
    """(To, Subject) of every e-mail in the outbox folder."""
    found = []
    for path in sorted(outbox.glob("*.eml")):
        message = BytesParser(policy=policy.default).parsebytes(path.read_bytes())
        found.append((str(message["To"]), str(message["Subject"])))
    return found


def test_a_large_expense_two_of_three_finance_approve(dev: DevServer, outbox: Path) -> None:
    version = _deploy(dev, EXAMPLE)
    expense = {"amount": 5000, "what": "laptop"}
    execution = _request(dev, version, {"expense": expense})

    review = _task(dev, execution, "ManagerReview")
    detail = call(dev, "DescribeTask", {"taskId": review["taskId"]}, "mary")
    assert (detail["title"], detail["data"]) == ("Approve the expense", expense)
    assert detail["myActions"] == ["Approve", "Deny"]
    assert call(dev, "DescribeTask", {"taskId": review["taskId"]}, "jane")["myActions"] == [
        "Cancel"
    ]
    assert _act(dev, review, "mary", "Approve") == {
        "status": "COMPLETED",
        "transition": "to_AmountCheck",
    }

    finance = _task(dev, execution, "FinanceReview")
    assert _act(dev, finance, "f1", "Approve") == {"status": "OPEN"}  # one of two
    assert _act(dev, finance, "f2", "Approve") == {
        "status": "COMPLETED",
        "transition": "to_Approved",
    }

    events = _events(dev, execution, "Approved")
    assert _entered(events)[:6] == [
        "ManagerReview",
        "ManagerReview.route",
        "AmountCheck",
        "FinanceReview",
        "FinanceReview.route",
        "Approved",
    ]
    data = _left(events, "FinanceReview")
    assert data["expense"] == expense  # the request's data, kept beside the people's results
    assert data["people"]["ManagerReview"]["Transition"] == "to_AmountCheck"
    assert [a["By"] for a in data["people"]["FinanceReview"]["Actions"]] == ["f1", "f2"]

    # Approved's e-mail to the requester goes out, then the request ends.
    assert _finished(dev, execution) == "SUCCEEDED"
    assert ("jane@example.com", "Your expense was approved") in _mail(outbox)


def test_the_requester_cancels_and_the_request_ends_in_cancelled(
    dev: DevServer, tmp_path: Path
) -> None:
    source = tmp_path / "leave.process.yaml"
    source.write_text(
        "process: leave\n"
        "start: Review\n"
        "states:\n"
        "  Review:\n"
        "    title: Approve the leave\n"
        "    data: $.leave\n"
        "    transitions:\n"
        "      - {action: Approve, by: {group: Managers}}\n"
        "      - {action: Cancel, by: requester}\n"
        "  Granted: {end: true}\n"
    )
    execution = _request(dev, _deploy(dev, source), {"leave": {"days": 3}})
    review = _task(dev, execution, "Review")
    assert _act(dev, review, "jane", "Cancel") == {
        "status": "COMPLETED",
        "transition": "to_Cancelled",
    }
    events = _events(dev, execution, "Cancelled")
    assert _entered(events) == ["Review", "Review.route", "Cancelled"]
    described = client(dev).describe_execution(executionArn=execution)
    deadline = time.monotonic() + 20
    while described["status"] == "RUNNING" and time.monotonic() < deadline:
        time.sleep(0.05)
        described = client(dev).describe_execution(executionArn=execution)
    assert described["status"] == "SUCCEEDED"
    assert json.loads(described["output"])["people"]["Review"]["CompletedBy"] == "jane"

"""Assignment notifications through ``stepq dev --dev-identities``: the API process
decides the reassignment or delegation, the worker side e-mails the person (the
outbox folder ``STEPQ_OUTBOX``), once, and a claim for oneself mails nobody."""

from __future__ import annotations

import email
import email.policy
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from stepq.hosting.dev import DevServer
from stepq.runtime.people.addresses import PERSON

from api.people_support import ROLE, by, call, human
from api.server_support import client, module_server, unique

EXECUTIVES = {"Group": "Executives"}
TITLE = "Approve the laptop"


@pytest.fixture(scope="module")
def outbox(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("notices") / "outbox"


@pytest.fixture(scope="module")
def dev(outbox: Path) -> Iterator[DevServer]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("STEPQ_OUTBOX", str(outbox))
        with module_server(dev_identities=True) as server:
            call(server, "CreateGroup", {"name": "Executives", "members": ["tom", "gary"]}, None)
            for person in ("tom", "gary", "ann"):
                address = {"email": f"{person}@example.com"}
                server.runtime.store.put_doc(PERSON, person, address, None)
            yield server


def mails(outbox: Path) -> list[Any]:
    return [
        email.message_from_bytes(p.read_bytes(), policy=email.policy.default)
        for p in sorted(outbox.glob("*.eml"))
    ]


def mails_to(outbox: Path, address: str, count: int) -> list[Any]:
    """The mails to ``address`` once ``count`` have come (then a moment more: no extra)."""
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        found = [m for m in mails(outbox) if m["To"] == address]
        if len(found) >= count:
            time.sleep(0.5)
            return [m for m in mails(outbox) if m["To"] == address]
        time.sleep(0.05)
    raise AssertionError(f"{count} mail(s) to {address} never came")


def open_task(dev: DevServer) -> str:
    sfn = client(dev)
    transitions = [{"Name": "approved", "Requires": [by("Approve", EXECUTIVES)]}]
    definition = {"StartAt": "A", "States": {"A": {**human(TITLE, transitions), "End": True}}}
    arn = sfn.create_state_machine(
        name=unique("notices"), definition=json.dumps(definition), roleArn=ROLE
    )["stateMachineArn"]
    params = {"stateMachineArn": arn, "input": json.dumps({"expense": {"amount": 9}})}
    execution = call(dev, "CreateRequest", params, "jane")["executionArn"]
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        tasks = call(dev, "ListRequestTasks", {"executionArn": execution}, "jane")["tasks"]
        if tasks:
            return str(tasks[0]["taskId"])
        time.sleep(0.05)
    raise AssertionError("the task never opened")


def test_reassigning_and_delegating_mail_the_person_once(dev: DevServer, outbox: Path) -> None:
    task_id = open_task(dev)
    call(dev, "ClaimTask", {"taskId": task_id}, "tom")
    call(dev, "ReassignTask", {"taskId": task_id, "to": "gary"}, "tom")
    (mail,) = mails_to(outbox, "gary@example.com", 1)
    assert mail["Subject"] == f"A task was assigned to you: {TITLE}"
    assert task_id in mail.get_content()
    call(dev, "DelegateTask", {"taskId": task_id, "to": "ann"}, "gary")
    (mail,) = mails_to(outbox, "ann@example.com", 1)
    assert mail["Subject"] == f"A task was delegated to you: {TITLE}"
    assert [m for m in mails(outbox) if m["To"] == "tom@example.com"] == []  # his own claim

"""Process activities on the embedded runtime: notes, e-mail to the outbox folder,
stakeholders, each once per key and each an audit line of the running execution."""

from __future__ import annotations

import email
import email.policy
from pathlib import Path
from typing import Any

import pytest
from pydantic import TypeAdapter
from stepq.backends.local_outbox import OutboxFolder
from stepq.core.people import model
from stepq.errors import MailError
from stepq.runtime.people.activities import (
    INVALID,
    MAIL_FAILED,
    REQUEST,
    ProcessActivities,
    run_task,
    visit_key,
)
from stepq.runtime.people.addresses import PERSON
from stepq.runtime.people.audit import AuditTrail
from stepq.runtime.people.directory import Directory
from stepq.runtime.steps import StepContext

CALLBACK = {
    "StartAt": "Ask",
    "States": {
        "Ask": {
            "Type": "Task",
            "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken",
            "Parameters": {"FunctionName": "ask", "Payload": {"token.$": "$$.Task.Token"}},
            "End": True,
        }
    },
}
ACTIVITIES: TypeAdapter[list[model.Activity]] = TypeAdapter(list[model.Activity])


class Refusing:
    """A mailer that refuses its first ``fails`` sends, then writes to ``outbox``."""

    def __init__(self, outbox: OutboxFolder, fails: int) -> None:
        self.outbox, self.fails = outbox, fails

    def send(self, to: list[str], subject: str, body: str) -> str:
        if self.fails:
            self.fails -= 1
            raise MailError("SES is down", "ServiceUnavailable")
        return self.outbox.send(to, subject, body)


class Request:
    """A running execution with a request document, and its process activities."""

    def __init__(self, embedded: Any, tmp_path: Path, fails: int = 0) -> None:
        self.runtime = embedded({"ask": lambda e, c: None}, backend="memory")
        self.runtime.deploy("sm", CALLBACK)
        self.arn = self.runtime.start("sm", {}, "req-1")
        self.runtime.run_until_idle()
        store = self.runtime.store
        store.put_doc(REQUEST, self.arn, {"requester": "rita", "stakeholders": ["sam"]}, None)
        store.put_doc(PERSON, "tom", {"email": "tom@example.com"}, None)
        directory = Directory(store)
        directory.create("Executives", ["tom", "bob", "ed@example.com"])
        self.outbox = OutboxFolder(tmp_path / "outbox", self.runtime.clock)
        self.activities = ProcessActivities(
            store,
            Refusing(self.outbox, fails),
            directory,
            AuditTrail(self.runtime.queues, self.runtime.clock),
            self.runtime.clock,
        )

    def run(self, activities: list[dict[str, Any]], key: str = "k1") -> list[str]:
        parsed = ACTIVITIES.validate_python(activities)
        facts = self.activities.facts_for(self.arn, parsed)
        return self.activities.run(self.arn, parsed, facts, task_id="t1", key=key)

    def doc(self) -> dict[str, Any]:
        found = self.runtime.store.get_doc(REQUEST, self.arn)
        assert found is not None
        return found.body

    def audit(self) -> list[dict[str, Any]]:
        self.runtime.run_until_idle()
        history = self.runtime.history(self.arn)
        return [e["details"] for e in history if e["type"] == "RequestAuditRecorded"]

    def mail(self) -> list[Any]:
        return [
            email.message_from_bytes(f.read_bytes(), policy=email.policy.default)
            for f in self.outbox.messages()
        ]


@pytest.fixture
def request_(embedded: Any, tmp_path: Path) -> Request:
    return Request(embedded, tmp_path)


EVERYTHING = [
    {"Type": "Note", "Text": "Sent to the executives"},
    {"Type": "Email", "To": {"Group": "Executives"}, "Subject": "An expense waits", "Body": "Hi"},
    {"Type": "AddStakeholders", "People": ["ann"], "Targets": [{"Requester": True}]},
    {"Type": "Email", "To": {"Stakeholders": True}, "Subject": "You are in"},
    {"Type": "RemoveStakeholders", "People": ["sam"]},
]


def test_each_activity_is_done_said_and_audited(request_: Request) -> None:
    lines = request_.run(EVERYTHING)
    assert lines == [
        "note added",
        "e-mailed ed@example.com, tom: An expense waits; no address for bob",
        "stakeholders added: ann, rita",
        "no address for ann, rita, sam",  # the stakeholders now, none with an address
        "stakeholders removed: sam",
    ]
    doc = request_.doc()
    assert doc["requester"] == "rita" and doc["stakeholders"] == ["ann", "rita"]
    [note] = doc["notes"]
    assert note["text"] == "Sent to the executives" and note["by"] == "process"
    [mail] = request_.mail()
    assert mail["To"] == "ed@example.com, tom@example.com"
    assert (mail["Subject"], mail.get_content()) == ("An expense waits", "Hi\n")
    audit = request_.audit()
    assert [(a["who"], a["what"], a["taskId"]) for a in audit] == [
        ("process", "Note", "t1"),
        ("process", "Email", "t1"),
        ("process", "AddStakeholders", "t1"),
        ("process", "Email", "t1"),
        ("process", "RemoveStakeholders", "t1"),
    ]
    assert [a["detail"]["line"] for a in audit] == lines


def test_the_same_key_again_repeats_nothing(request_: Request) -> None:
    first = request_.run(EVERYTHING)
    assert request_.run(EVERYTHING) == first  # a redelivered task: the same lines
    assert len(request_.mail()) == 1
    assert len(request_.doc()["notes"]) == 1
    assert len(request_.audit()) == len(EVERYTHING)  # the re-sent lines were dropped
    request_.run(EVERYTHING[:1], key="k2")  # another key is another run
    assert len(request_.doc()["notes"]) == 2


def test_a_refused_email_is_sent_on_the_next_run_and_nothing_else_twice(
    embedded: Any, tmp_path: Path
) -> None:
    request = Request(embedded, tmp_path, fails=1)
    with pytest.raises(MailError):
        request.run(EVERYTHING[:2])
    assert len(request.doc()["notes"]) == 1 and request.mail() == []
    assert request.run(EVERYTHING[:2])[1].startswith("e-mailed")
    assert len(request.doc()["notes"]) == 1 and len(request.mail()) == 1


def test_a_request_without_a_document_gets_one(request_: Request) -> None:
    request_.runtime.store.delete_doc(REQUEST, request_.arn)
    lines = request_.run([{"Type": "Email", "To": {"Requester": True}, "Subject": "Hi"}])
    assert lines == ["no one to e-mail: requester names nobody"]
    assert request_.doc()["activitiesDone"]["k1#0"]["line"] == lines[0]


def _context(key: str) -> StepContext:
    return StepContext(function_name="", aws_request_id="r", idempotency_key=key)


def test_the_task_resource_answers_done_or_a_named_failure(
    request_: Request, embedded: Any, tmp_path: Path
) -> None:
    runner = request_.activities
    key = f"{request_.arn}:/:1:0"
    done = run_task(runner, {"Activities": EVERYTHING[:1]}, _context(key), request_.arn)
    assert done.output == {"Done": ["note added"]} and not done.failed
    # A Retry of the state (attempt 1) finds the work of attempt 0 done.
    again = run_task(runner, {"Activities": EVERYTHING[:1]}, _context(key[:-1] + "1"), request_.arn)
    assert again.output == done.output and len(request_.doc()["notes"]) == 1
    assert visit_key(key) == f"{request_.arn}:/:1"
    bad = run_task(runner, {"Activities": [{"Type": "Fax"}]}, _context(key), request_.arn)
    assert bad.error == INVALID and "Activities.0" in (bad.cause or "")
    assert run_task(runner, {}, _context(key), request_.arn).error == INVALID
    refused = Request(embedded, tmp_path / "other", fails=5).activities
    mail = {"Activities": EVERYTHING[1:2]}
    failed = run_task(refused, mail, _context(key), request_.arn)
    assert failed.error == MAIL_FAILED and "SES is down" in (failed.cause or "")

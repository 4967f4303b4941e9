"""Assignment notifications on the embedded runtime (an outbox folder for a mailer):
whoever a human task is assigned or delegated to gets one e-mail, once; a claim
for oneself gets none; a notice whose assignment was never written sends none."""

from __future__ import annotations

import email
import email.policy
from pathlib import Path
from typing import Any

import pytest
from stepq.backends.local_outbox import OutboxFolder
from stepq.clock import ManualClock
from stepq.core.people.model import HUMAN_TASK_RESOURCE
from stepq.errors import ConflictError
from stepq.hosting.embedded import EmbeddedRuntime
from stepq.runtime.open_tasks import waiting_state
from stepq.runtime.people import notices
from stepq.runtime.people.addresses import PERSON
from stepq.runtime.people.directory import Directory
from stepq.runtime.people.documents import HTASK, Assignment, load_task, task_id_for
from stepq.runtime.people.service import PeopleService
from stepq.runtime.signing import keys_of

TITLE = "Approve the expense"


def definition(**extra: Any) -> dict[str, Any]:
    return {
        "StartAt": "Review",
        "States": {
            "Review": {
                "Type": "Task",
                "Resource": HUMAN_TASK_RESOURCE,
                "Parameters": {
                    "Title": TITLE,
                    "Transitions": [
                        {
                            "Name": "approved",
                            "Requires": [{"Action": "Approve", "By": {"Group": "Executives"}}],
                        }
                    ],
                    **extra,
                },
                "End": True,
            }
        },
    }


class Request:
    """A request waiting on its Review task; tom, gary (Executives) and ann have addresses."""

    def __init__(self, embedded: Any, tmp_path: Path, **spec: Any) -> None:
        clock = ManualClock()
        self.outbox = OutboxFolder(tmp_path / "outbox", clock)
        self.rt: EmbeddedRuntime = embedded({}, backend="memory", clock=clock, mailer=self.outbox)
        Directory(self.rt.store).create("Executives", ["tom", "gary"])
        for person in ("tom", "gary", "ann"):
            self.rt.store.put_doc(PERSON, person, {"email": f"{person}@example.com"}, None)
        self.rt.deploy("m", definition(**spec))
        self.arn = "arn:aws:states:us-east-1:111111111111:execution:m:r1"
        self.service = PeopleService(self.rt.store, self.rt.queues, self.rt.clock)
        self.service.create_request("jane", self.arn, [], lambda: self.rt.start("m", {}, "r1"))
        self.settle()
        state = waiting_state(self.rt.store, keys_of(self.rt.queues, self.rt.store), self.arn)
        assert state is not None
        self.run_task_id = next(iter(state.tasks))
        self.task_id = task_id_for(self.arn, self.run_task_id)

    def settle(self) -> None:
        """Fire what is due now and run until nothing moves."""
        for _ in range(3):
            self.rt.scheduler.drain()
            self.rt.run_until_idle(fire_timers=False)

    def mails(self) -> list[Any]:
        return [
            email.message_from_bytes(f.read_bytes(), policy=email.policy.default)
            for f in self.outbox.messages()
        ]

    def subjects(self) -> list[str]:
        return [f"{m['To']}: {m['Subject']}" for m in self.mails()]

    def audit(self) -> list[tuple[str, str]]:
        history = self.rt.history(self.arn)
        lines = [e["details"] for e in history if e["type"] == "RequestAuditRecorded"]
        return [(d["who"], d["what"]) for d in lines]

    def token(self) -> str:
        return self.rt.worker.people.completions.token(self.arn, self.run_task_id)


@pytest.fixture
def request_(embedded: Any, tmp_path: Path) -> Request:
    return Request(embedded, tmp_path)


def test_a_reassigned_task_mails_the_new_assignee_once(request_: Request) -> None:
    request_.service.claim("tom", request_.task_id)
    request_.settle()
    assert request_.subjects() == []  # tom claimed it for himself: no mail
    request_.service.reassign("tom", request_.task_id, "gary")
    request_.settle()
    assert request_.subjects() == [f"gary@example.com: A task was assigned to you: {TITLE}"]
    (mail,) = request_.mails()
    body = mail.get_content()
    assert request_.arn in body and request_.task_id in body and "State: Review" in body
    assert request_.token() not in body and "http" not in body
    assert ("process", notices.NOTIFIED) in request_.audit()
    # The same notice again (a redelivered RunTask, or a second timer): no second mail.
    people = request_.rt.worker.people
    notice = {"RunTaskId": request_.run_task_id, "Kind": "assign", "Index": 1, "To": "gary"}
    assert people.notices.run(request_.arn, notice).output == {"Notified": True}
    request_.settle()
    assert len(request_.mails()) == 1


def test_a_delegate_is_mailed_once(request_: Request) -> None:
    request_.service.delegate("tom", request_.task_id, "ann")
    request_.settle()
    assert request_.subjects() == [f"ann@example.com: A task was delegated to you: {TITLE}"]
    (mail,) = request_.mails()
    assert "Delegated by: tom" in mail.get_content()
    assert request_.token() not in mail.get_content()
    # Taking it back tells nobody.
    request_.service.delegate("tom", request_.task_id, "tom")
    request_.settle()
    assert len(request_.mails()) == 1


def test_a_notice_no_longer_in_effect_sends_nothing(request_: Request) -> None:
    request_.service.delegate("tom", request_.task_id, "ann")
    request_.service.delegate("tom", request_.task_id, "tom")  # taken back before it fired
    request_.settle()
    assert request_.subjects() == []


def test_a_task_opening_with_an_assignee_mails_them(embedded: Any, tmp_path: Path) -> None:
    request_ = Request(embedded, tmp_path, Assignee="gary")
    assert request_.subjects() == [f"gary@example.com: A task was assigned to you: {TITLE}"]
    assert request_.token() not in request_.mails()[0].get_content()
    # Opening again (a redelivered RunTask) puts no second notice.
    doc = request_.rt.store.get_doc(HTASK, request_.task_id)
    assert doc is not None
    request_.rt.store.put_doc(HTASK, request_.task_id, {**doc.body, "opened": False}, doc.rev)
    people = request_.rt.worker.people
    found = load_task(request_.rt.store, request_.task_id)
    assert found is not None
    people._run_opening(found[0], found[1], found[0].parsed_spec())
    request_.settle()
    assert len(request_.mails()) == 1


def test_a_notice_whose_assignment_write_was_lost_sends_nothing(request_: Request) -> None:
    # The inbox decided a reassignment and put its notice's timer, then crashed
    # before writing the task document.
    found = load_task(request_.rt.store, request_.task_id)
    assert found is not None
    task, rev = found
    logs = notices.log_lengths(task)
    task.assignee = "gary"
    task.assignments = [*task.assignments, Assignment(kind="Reassign", by="tom", to="gary", at="x")]
    notices.schedule(request_.rt.store, task, logs, rev + 1, request_.rt.clock.now())
    request_.settle()
    assert request_.subjects() == []
    assert ("process", notices.NOTIFIED) not in request_.audit()
    # Had the write been on its way still, it now fails (its writer decides again).
    with pytest.raises(ConflictError):
        request_.rt.store.put_doc(HTASK, request_.task_id, task.body(), rev)
    # And a reassignment made afterwards is told as usual.
    request_.service.claim("gary", request_.task_id)
    request_.service.reassign("gary", request_.task_id, "tom")
    request_.settle()
    assert request_.subjects() == [f"tom@example.com: A task was assigned to you: {TITLE}"]


def test_a_notice_that_fires_before_its_slow_write_still_mails_once(
    request_: Request, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The timer fires between its put and the task write: the runner finds no entry
    and fences the revision, the write fails its condition, the inbox decides again
    (a new timer), and the new assignee gets one mail."""
    request_.service.claim("tom", request_.task_id)
    schedule, fired = notices.schedule, []

    def schedule_then_fire(*args: Any) -> None:
        schedule(*args)
        if not fired:
            fired.append(True)
            request_.settle()  # the notice runs before the write lands

    monkeypatch.setattr(notices, "schedule", schedule_then_fire)
    assert request_.service.reassign("tom", request_.task_id, "gary")["assignee"] == "gary"
    assert fired and request_.subjects() == []  # the early notice sent nothing
    request_.settle()
    assert request_.subjects() == [f"gary@example.com: A task was assigned to you: {TITLE}"]
    found = load_task(request_.rt.store, request_.task_id)
    assert found is not None
    assert [a.to for a in found[0].assignments] == ["tom", "gary"]  # written once

"""A human task's reminders on the embedded runtime, time skipped by hand: the
reminder's e-mail lands in the outbox a day after the task opened, the task stays
open and actionable, and a reminder is sent once at most, and only to an open task."""

from __future__ import annotations

import email
import email.policy
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from stepq.backends.local_outbox import OutboxFolder
from stepq.clock import ManualClock
from stepq.core.events import RunTask
from stepq.core.people.model import HUMAN_TASK_RESOURCE
from stepq.hosting.embedded import EmbeddedRuntime
from stepq.runtime.open_tasks import waiting_state
from stepq.runtime.people.addresses import PERSON
from stepq.runtime.people.directory import Directory
from stepq.runtime.people.documents import load_task, task_id_for
from stepq.runtime.people.reminders import timer_id
from stepq.runtime.people.service import PeopleService
from stepq.runtime.ports import Timer
from stepq.runtime.signing import keys_of

DAY = 86400
REMIND = {"Type": "Email", "To": {"Group": "Executives"}, "Subject": "Reminder: an expense waits"}
DEFINITION = {
    "StartAt": "Review",
    "States": {
        "Review": {
            "Type": "Task",
            "Resource": HUMAN_TASK_RESOURCE,
            "Parameters": {
                "Title": "Approve the expense",
                "Transitions": [
                    {
                        "Name": "approved",
                        "Requires": [{"Action": "Approve", "By": {"Group": "Executives"}}],
                    }
                ],
                "Reminders": [{"AfterSeconds": DAY, "Activities": [REMIND]}],
            },
            "ResultPath": "$.review",
            "TimeoutSeconds": 3 * DAY,
            "Catch": [{"ErrorEquals": ["States.Timeout"], "ResultPath": None, "Next": "Late"}],
            "End": True,
        },
        "Late": {"Type": "Fail", "Error": "Late"},
    },
}


class Request:
    """A request waiting on its Review task; tom (an Executive) has an address."""

    def __init__(self, embedded: Any, tmp_path: Path) -> None:
        clock = ManualClock()
        self.outbox = OutboxFolder(tmp_path / "outbox", clock)
        self.rt: EmbeddedRuntime = embedded({}, backend="memory", clock=clock, mailer=self.outbox)
        Directory(self.rt.store).create("Executives", ["tom"])
        self.rt.store.put_doc(PERSON, "tom", {"email": "tom@example.com"}, None)
        self.rt.deploy("m", DEFINITION)
        self.arn = "arn:aws:states:us-east-1:111111111111:execution:m:r1"
        self.service = PeopleService(self.rt.store, self.rt.queues, self.rt.clock)
        self.service.create_request("jane", self.arn, [], lambda: self.rt.start("m", {}, "r1"))
        self.settle()
        state = waiting_state(self.rt.store, keys_of(self.rt.queues, self.rt.store), self.arn)
        assert state is not None
        self.run_task_id = next(iter(state.tasks))
        self.task_id = task_id_for(self.arn, self.run_task_id)

    def settle(self) -> None:
        """Fire what is due now and run until nothing moves, without skipping time."""
        for _ in range(3):
            self.rt.scheduler.drain()
            self.rt.run_until_idle(fire_timers=False)

    def skip(self, seconds: float) -> None:
        assert isinstance(self.rt.clock, ManualClock)
        self.rt.clock.set(self.rt.clock.now() + timedelta(seconds=seconds))
        self.settle()

    def subjects(self) -> list[str]:
        mails = [
            email.message_from_bytes(f.read_bytes(), policy=email.policy.default)
            for f in self.outbox.messages()
        ]
        return [f"{m['To']}: {m['Subject']}" for m in mails]

    def audit(self) -> list[tuple[str, str]]:
        history = self.rt.history(self.arn)
        lines = [e["details"] for e in history if e["type"] == "RequestAuditRecorded"]
        return [(d["who"], d["what"]) for d in lines]

    def status(self) -> str:
        return self.service.describe_task(self.task_id, "jane")["status"]


@pytest.fixture
def request_(embedded: Any, tmp_path: Path) -> Request:
    return Request(embedded, tmp_path)


def test_a_reminder_mails_after_a_day_and_the_task_stays_open(request_: Request) -> None:
    request_.skip(DAY - 60)
    assert request_.subjects() == []  # not yet
    request_.skip(60)
    assert request_.subjects() == ["tom@example.com: Reminder: an expense waits"]
    assert ("process", "ReminderSent") in request_.audit()
    assert request_.status() == "OPEN"
    assert request_.rt.store.get_execution(request_.arn).status == "RUNNING"
    # Still actionable: acting completes it, and the execution goes on.
    assert request_.service.act("tom", request_.task_id, "Approve")["status"] == "COMPLETED"
    request_.settle()
    header = request_.rt.store.get_execution(request_.arn)
    assert (header.status, header.output["review"]["Transition"]) == ("SUCCEEDED", "approved")
    assert len(request_.subjects()) == 1


def test_a_reminder_due_after_the_task_completed_does_nothing(request_: Request) -> None:
    request_.service.act("tom", request_.task_id, "Approve")
    request_.settle()
    assert request_.rt.store.get_execution(request_.arn).status == "SUCCEEDED"
    request_.skip(DAY)
    assert request_.subjects() == []
    assert ("process", "ReminderSent") not in request_.audit()


def test_a_reminder_due_after_the_task_timed_out_does_nothing(request_: Request) -> None:
    # The task document still says OPEN (a timeout does not write it): the core decides.
    request_.rt.store.claim_timer(
        Timer(timer_id(request_.task_id, 0), request_.arn, "")
    )  # keep the reminder back ...
    request_.skip(3 * DAY)
    header = request_.rt.store.get_execution(request_.arn)
    assert (header.status, header.error) == ("FAILED", "Late")
    found = load_task(request_.rt.store, request_.task_id)
    assert found is not None and found[0].status == "OPEN"
    from stepq.runtime.people.reminders import schedule

    schedule(request_.rt.store, found[0], found[0].parsed_spec())  # ... and let it fire late
    request_.settle()
    assert request_.subjects() == []


def test_a_refired_reminder_mails_once(request_: Request) -> None:
    found = load_task(request_.rt.store, request_.task_id)
    assert found is not None
    request_.skip(DAY)
    assert len(request_.subjects()) == 1
    # The timer fired and was claimed; a re-put (a redelivered opening) fires again.
    from stepq.runtime.people.reminders import schedule

    commits = len(request_.rt.store.recent(request_.arn, 1000))
    schedule(request_.rt.store, found[0], found[0].parsed_spec())
    request_.skip(60)
    assert len(request_.subjects()) == 1
    # The core's decision is not made twice either: the applier knows the message id.
    assert len(request_.rt.store.recent(request_.arn, 1000)) == commits
    assert request_.audit().count(("process", "ReminderSent")) == 1
    assert request_.status() == "OPEN"


def test_reopening_puts_each_timer_once(request_: Request) -> None:
    due = request_.rt.store.due_timers("9999-01-01T00:00:00+00:00")
    assert [t.timer_id for t in due if t.timer_id.startswith("reminder|")] == [
        timer_id(request_.task_id, 0)
    ]
    found = load_task(request_.rt.store, request_.task_id)
    assert found is not None
    from stepq.runtime.people.reminders import schedule

    schedule(request_.rt.store, found[0], found[0].parsed_spec())  # exists: no error, no second
    again = request_.rt.store.due_timers("9999-01-01T00:00:00+00:00")
    assert len(again) == len(due)


def test_a_reminder_run_again_after_the_execution_left_the_task_does_nothing(
    request_: Request,
) -> None:
    # A redelivered reminder RunTask, after the task completed (the document says so) ...
    people = request_.rt.worker.people
    reminder = {"RunTaskId": request_.run_task_id, "Index": 0}
    request_.service.act("tom", request_.task_id, "Approve")
    request_.settle()
    assert people.reminders.run(request_.arn, reminder).output == {"Reminded": False}
    assert request_.subjects() == []


def test_a_reminder_to_a_task_completed_but_not_yet_resumed_does_nothing(
    request_: Request,
) -> None:
    # The completing write is made, the completion not yet applied (or lost to a crash).
    doc = request_.rt.store.get_doc("htask", request_.task_id)
    assert doc is not None
    request_.rt.store.put_doc(
        "htask", request_.task_id, {**doc.body, "status": "COMPLETED"}, doc.rev
    )
    people = request_.rt.worker.people
    reminder = {"RunTaskId": request_.run_task_id, "Index": 0}
    assert people.reminders.run(request_.arn, reminder).output == {"Reminded": False}
    assert request_.subjects() == []


def test_a_reminder_run_again_after_a_timeout_does_nothing(request_: Request) -> None:
    # ... or after it timed out (the document still says OPEN: the execution tells).
    request_.rt.store.claim_timer(Timer(timer_id(request_.task_id, 0), request_.arn, ""))
    request_.skip(3 * DAY)
    people = request_.rt.worker.people
    reminder = {"RunTaskId": request_.run_task_id, "Index": 0}
    assert people.reminders.run(request_.arn, reminder).output == {"Reminded": False}
    assert request_.subjects() == []


def test_a_redelivered_reminder_task_is_run_again(request_: Request) -> None:
    """Owned by no frame, it is never outstanding: the worker must not skip it as
    recorded (a crash mid-run would lose the reminder); its keys make it once."""
    from stepq.core.events import ReminderDue
    from stepq.core.interpreter import decide
    from stepq.runtime.messages import parse_task, task_message

    state = waiting_state(
        request_.rt.store, keys_of(request_.rt.queues, request_.rt.store), request_.arn
    )
    assert state is not None
    machine, _ = request_.rt.orchestrator.applier.machines.get("m", None)
    event = ReminderDue(request_.rt.clock.now(), request_.run_task_id, 0)
    _, decision = decide(machine, state, event)
    (command,) = decision.commands
    message = parse_task(task_message(request_.arn, command).body)
    assert not request_.rt.worker._already_recorded(message)
    people = request_.rt.worker.people
    assert people(request_.arn, command, None).output == {"Reminded": True}
    request_.skip(60)  # redelivered a minute later
    assert people(request_.arn, command, None).output == {"Reminded": True}
    assert len(request_.subjects()) == 1


def _reminder_timers(request_: Request) -> list[str]:
    due = request_.rt.store.due_timers("9999-01-01T00:00:00+00:00")
    return [t.timer_id for t in due if t.timer_id.startswith("reminder|")]


def test_completing_a_task_claims_its_reminder_timers(request_: Request) -> None:
    assert _reminder_timers(request_) == [timer_id(request_.task_id, 0)]
    request_.service.act("tom", request_.task_id, "Approve")
    assert _reminder_timers(request_) == []  # claimed by the completing act
    request_.settle()
    request_.skip(DAY + 60)
    assert request_.subjects() == []
    assert ("process", "ReminderSent") not in request_.audit()


def test_a_reminder_firing_after_the_completing_write_mails_nothing_and_is_gone(
    request_: Request,
) -> None:
    # The completing write made, then a crash: no completion sent, no timer claimed.
    # The reminder falls due while the execution still waits on the task.
    doc = request_.rt.store.get_doc("htask", request_.task_id)
    assert doc is not None
    request_.rt.store.put_doc(
        "htask", request_.task_id, {**doc.body, "status": "COMPLETED"}, doc.rev
    )
    request_.skip(DAY + 60)
    assert request_.subjects() == []
    assert ("process", "ReminderSent") not in request_.audit()
    assert _reminder_timers(request_) == []  # fired once, claimed by the scheduler
    assert request_.rt.store.get_execution(request_.arn).status == "RUNNING"


def test_a_task_completed_before_its_opening_finished_schedules_no_reminder(
    request_: Request,
) -> None:
    # A crash after the task document's write, before its opening: someone completes
    # it; the redelivered RunTask finishes the opening, with no timer for a closed task.
    request_.rt.store.claim_timer(Timer(timer_id(request_.task_id, 0), request_.arn, ""))
    doc = request_.rt.store.get_doc("htask", request_.task_id)
    assert doc is not None
    body = {**doc.body, "status": "COMPLETED", "opened": False}
    request_.rt.store.put_doc("htask", request_.task_id, body, doc.rev)
    people = request_.rt.worker.people
    command = RunTask(request_.run_task_id, HUMAN_TASK_RESOURCE, None, doc.body["spec"], 1, "k")
    assert people(request_.arn, command, None).output == {"TaskId": request_.task_id}
    found = load_task(request_.rt.store, request_.task_id)
    assert found is not None and found[0].opened
    assert _reminder_timers(request_) == []

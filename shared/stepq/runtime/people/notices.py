"""Assignment notifications: an e-mail to whoever a human task is assigned or delegated to.

Sent by the worker (only it has the mailer), the way reminders go
(``reminders.py``): a durable timer due at once, an event, a RunTask the core
issues while the execution still waits on the task, the people runner.

1. ``schedule`` (the inbox, in ``PeopleService._change``, after deciding a
   change and BEFORE writing the task document): one ``Store.put_timer`` per
   log entry the change appended that gives the task to someone else: an
   assignment (ReassignTask) or a delegation (DelegateTask), never a
   person's own (a claim, taking a delegation back). Its id names
   the entry (kind, index), the person and the revision the write makes, its
   event a ``core.events.AssignmentNoticeDue``. A task opening with an
   ``Assignee``: ``schedule_open`` (the runner, after the document is created,
   before it is marked ``opened``: a crash between, and the redelivered
   RunTask puts it; an existing timer is not put twice).
2. The core, on ``AssignmentNoticeDue``: while the task still waits, a
   ``RunTask`` for ``NOTICE_RESOURCE``, owned by no frame.
3. ``Notices.run`` (the runner): reads the task document. The entry is there,
   names the person and is still in effect (the latest for the task or the
   principal, and the task still assigned or delegated so), the task OPEN:
   the e-mail (a process activity keyed by the entry, so sent once: see
   ``activities.py``), then the audit line ``AssignmentNotified``. The entry
   is not there: the write was lost (a crash after the timer) or is still on
   its way. The runner then rewrites the document unchanged on the revision it
   read, so a write still on its way fails, and its writer decides again (a
   new timer); a lost write stays lost; either way this notice sends nothing.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from stepq.core import events as ev
from stepq.core.people.model import Email, Target
from stepq.core.people.rules import Facts
from stepq.errors import AlreadyExistsError, ConflictError, MailError
from stepq.runtime import codec
from stepq.runtime.messages import event_message
from stepq.runtime.people.activities import PROCESS, ProcessActivities
from stepq.runtime.people.completion import Completions
from stepq.runtime.people.documents import HTASK, OPEN, TaskDoc, load_task, task_id_for
from stepq.runtime.ports import Store, Timer
from stepq.runtime.steps import Outcome

log = logging.getLogger(__name__)

ASSIGN, DELEGATE = "assign", "delegate"  # which log the entry is in
NOTIFIED = "AssignmentNotified"  # the audit line's ``what``
_RETRIES = 20


@dataclass(frozen=True)
class Notice:
    """One log entry to tell its person about."""

    kind: str  # ASSIGN or DELEGATE
    index: int  # in task.assignments or task.delegation_log
    to: str
    rev: int  # the task document's revision the entry's write makes


def log_lengths(task: TaskDoc) -> tuple[int, int]:
    """Where a change's new entries will start (read before ``change``)."""
    return len(task.assignments), len(task.delegation_log)


def new_notices(task: TaskDoc, since: tuple[int, int], rev: int) -> list[Notice]:
    """The entries appended after ``since`` that name someone to tell."""
    found = []
    for index in range(since[0], len(task.assignments)):
        entry = task.assignments[index]
        if entry.to is not None and entry.to != entry.by:
            found.append(Notice(ASSIGN, index, entry.to, rev))
    for index in range(since[1], len(task.delegation_log)):
        deleg = task.delegation_log[index]
        if deleg.to not in (deleg.principal, deleg.by):  # not a take-back, not one's own
            found.append(Notice(DELEGATE, index, deleg.to, rev))
    return found


def timer_id(task_id: str, notice: Notice) -> str:
    person = hashlib.blake2b(notice.to.encode(), digest_size=6).hexdigest()
    return f"notice|{task_id}|{notice.kind}|{notice.index}|{person}|{notice.rev}"


def mark_key(task_id: str, kind: str, index: int) -> str:
    """What makes the e-mail once: the entry (two timers for it send one)."""
    return f"notice|{task_id}|{kind}|{index}"


def schedule(store: Store, task: TaskDoc, since: tuple[int, int], rev: int, now: datetime) -> None:
    """A timer due ``now`` per new entry to tell about, before the write making ``rev``."""
    for notice in new_notices(task, since, rev):
        event = ev.AssignmentNoticeDue(
            now, task.run_task_id, notice.kind, notice.index, notice.to, notice.rev
        )
        tid = timer_id(task.task_id, notice)
        body = event_message(task.execution_arn, event, tid).body
        with contextlib.suppress(AlreadyExistsError):  # the same decision, put again
            store.put_timer(Timer(tid, task.execution_arn, codec.instant(now) or "", body))


def schedule_open(store: Store, task: TaskDoc, now: datetime) -> None:
    """The notice of a task that opened with an Assignee (the first entry, written by
    the document's creation: rev 1). Later entries have timers of their own."""
    if task.assignments and task.assignments[0].kind == "Open":
        opening = task.model_copy(update={"assignments": task.assignments[:1]})
        schedule(store, opening, (0, len(task.delegation_log)), 1, now)


class Notices:
    """Sends a due assignment notice (the ``NOTICE_RESOURCE`` RunTask)."""

    def __init__(
        self,
        store: Store,
        completions: Completions,
        activities: ProcessActivities,
    ) -> None:
        self.store = store
        self.completions = completions
        self.activities = activities

    def run(self, execution_arn: str, command_input: Any) -> Outcome:
        run_task_id, notice = _parsed(command_input)
        if run_task_id is None or notice is None:
            return Outcome(error="Stepq.InvalidNotice", cause="not {RunTaskId, Kind, Index, To}")
        task = self._written(task_id_for(execution_arn, run_task_id), notice)
        if (
            task is None
            or task.status != OPEN
            or not in_effect(task, notice)
            or self.completions.state_of(execution_arn, run_task_id) is None
        ):
            return Outcome(output={"Notified": False})
        key = mark_key(task.task_id, notice.kind, notice.index)
        detail: dict[str, Any] = {"to": notice.to, "kind": notice.kind}
        try:
            detail["done"] = self.activities.run(
                execution_arn,
                [_email(task, notice)],
                Facts(),  # an e-mail to a named person needs no facts
                task_id=task.task_id,
                key=key,
            )
        except MailError as exc:  # as a reminder's: logged, and the trail says so
            log.warning("an assignment notice was not sent: %s", exc)
            detail["mailError"] = str(exc)
        at = _entry_at(task, notice)
        self.activities.audit.record(
            execution_arn, PROCESS, NOTIFIED, task_id=task.task_id, detail=detail, key=key, at=at
        )
        return Outcome(output={"Notified": True})

    def _written(self, task_id: str, notice: Notice) -> TaskDoc | None:
        """The task, once the notice's entry is written; None when it is not (and,
        by a rewrite on the revision read, never will be under this notice)."""
        for _ in range(_RETRIES):
            found = load_task(self.store, task_id)
            if found is None:
                return None
            task, rev = found
            if notice.index < len(_log(task, notice.kind)):
                return task
            try:
                self.store.put_doc(HTASK, task_id, task.body(), rev)  # fences a late write
                return None
            except ConflictError:
                continue  # written meanwhile: perhaps the entry, read again
        return None


def in_effect(task: TaskDoc, notice: Notice) -> bool:
    """The entry names the person, and is the last word on the task (an assignment)
    or on its principal's standing (a delegation)."""
    entries = _log(task, notice.kind)
    if notice.index >= len(entries):
        return False
    if notice.kind == ASSIGN:
        entry = task.assignments[notice.index]
        last = notice.index == len(entries) - 1
        return last and entry.to == notice.to == task.assignee and entry.by != notice.to
    deleg = task.delegation_log[notice.index]
    later = task.delegation_log[notice.index + 1 :]
    return (
        deleg.to == notice.to
        and deleg.by != notice.to
        and task.delegations.get(deleg.principal) == notice.to
        and all(d.principal != deleg.principal for d in later)
    )


def _log(task: TaskDoc, kind: str) -> list[Any]:
    return list(task.assignments if kind == ASSIGN else task.delegation_log)


def _entry_at(task: TaskDoc, notice: Notice) -> datetime:
    return datetime.fromisoformat(_log(task, notice.kind)[notice.index].at)


def _email(task: TaskDoc, notice: Notice) -> Email:
    """What the person is told: the task, its request and state; never its token."""
    spec = task.parsed_spec()
    verb = "assigned" if notice.kind == ASSIGN else "delegated"
    entry = _log(task, notice.kind)[notice.index]
    lines = [
        f"A task was {verb} to you: {spec.Title}",
        "",
        f"Request: {task.execution_arn}",
        f"State: {task.state}",
        f"Task id: {task.task_id}",
    ]
    if entry.by is not None:
        lines.append(f"{verb.capitalize()} by: {entry.by}")
    if notice.kind == DELEGATE and entry.principal != entry.by:
        lines.append(f"On behalf of: {entry.principal}")
    subject = f"A task was {verb} to you: {spec.Title}"
    return Email(
        Type="Email",
        To=Target(Person=notice.to),
        Subject=subject[:200],
        Body="\n".join(lines) + "\n",
    )


def _parsed(value: Any) -> tuple[str | None, Notice | None]:
    if not isinstance(value, dict):
        return None, None
    run_task_id, kind, index = value.get("RunTaskId"), value.get("Kind"), value.get("Index")
    to, rev = value.get("To"), value.get("Rev", 0)
    if (
        not isinstance(run_task_id, str)
        or kind not in (ASSIGN, DELEGATE)
        or not isinstance(index, int)
        or index < 0
        or not isinstance(to, str)
        or not isinstance(rev, int)
    ):
        return None, None
    return run_task_id, Notice(kind, index, to, rev)

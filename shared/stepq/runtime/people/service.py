"""The inbox: people create requests and act on human tasks (docs/PEOPLE.md).

Long: every inbox operation shares one way of loading a task, deciding a change
on it and writing it back (``_change``); split, each part would re-export it.

Every change to a task is one conditional ``put_doc`` on the revision read.
Two people acting at once: one write wins, the other reads again and is
decided against the new state, so exactly one transition completes. The
completing write marks the task COMPLETED with its transition and result;
then the completion is sent (``completion.py``). A crash between the two is
repaired by any later read of the task: a COMPLETED task whose execution
still waits on it has its completion sent again (the core ignores a second).

Refusals (``core.people.rules.Refused``) are recorded in the task and the
audit trail, then raised as ``ActionRefusedError`` (the API's 403). Every
accepted or refused action, claim, delegation and note is a line of the
request's audit trail (``audit.AuditTrail``), keyed by the task document's
revision it wrote, so a retried send is one line; the completing action's
lines ride in the completion instead (``completion.completion_lines``).
"""

from __future__ import annotations

import contextlib
import dataclasses
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, TypeVar

from stepq.clock import Clock
from stepq.core.people.model import ActionRecord, HumanTaskSpec, check_person, task_result
from stepq.core.people.rules import (
    Facts,
    Refused,
    check_delegation,
    completed,
    is_target,
    principal_for,
)
from stepq.errors import (
    ActionRefusedError,
    AlreadyExistsError,
    ConflictError,
    ExecutionAlreadyExistsError,
    HumanTaskNotFoundError,
    NotFoundError,
)
from stepq.runtime.people import attachments, inbox, notices, reminders, views
from stepq.runtime.people.audit import AuditTrail
from stepq.runtime.people.completion import Completions
from stepq.runtime.people.directory import Directory
from stepq.runtime.people.documents import (
    COMPLETED,
    HTASK,
    OPEN,
    REQUEST,
    Assignment,
    Delegation,
    Note,
    Refusal,
    RequestDoc,
    TaskDoc,
    load_request,
    load_task,
    tasks_of,
)
from stepq.runtime.people.facts import facts_for
from stepq.runtime.ports import Queues, Store

T = TypeVar("T")
RETRIES = 50  # conditional writes lost in a row before the caller is told to retry
# A completed task whose execution still waits this long after its completion was
# sent has it sent again (the completing write, then a crash, sent nothing).
REPAIR_AFTER = timedelta(seconds=10)
AUDIT_EVENT = "RequestAuditRecorded"  # the history event of an audit line (core.interpreter)


@dataclasses.dataclass
class _Loaded:
    """One read of a task and everything a decision about it needs."""

    task: TaskDoc
    rev: int  # read; after a write, the revision written
    spec: HumanTaskSpec
    request: RequestDoc
    facts: Facts


class PeopleService:
    def __init__(
        self,
        store: Store,
        queues: Queues,
        clock: Clock,
        directory: Directory | None = None,
    ) -> None:
        self.store = store
        self.clock = clock
        self.directory = directory or Directory(store)
        self.completions = Completions(store, queues, clock)
        self.trail = AuditTrail(self.completions.queues, clock)

    # --- requests ---------------------------------------------------------------------

    def create_request(
        self, requester: str, execution_arn: str, stakeholders: list[str], start: Callable[[], T]
    ) -> T:
        """Write the request document, then ``start()`` the execution: no request ever
        runs without its requester. Asked again by the same requester (a retry) it
        starts again (the start answers as a retried start does)."""
        people = sorted({check_person(p) for p in stakeholders})
        body = RequestDoc(requester=requester, stakeholders=people).body()
        taken = ExecutionAlreadyExistsError(f"Execution Already Exists: '{execution_arn}'")
        inbox.add_request(self.store, execution_arn, [requester, *people])  # entries first
        try:
            self.store.put_doc(REQUEST, execution_arn, body, None)
        except AlreadyExistsError:
            existing, _ = load_request(self.store, execution_arn)
            if existing.requester != requester:
                raise taken from None
        else:
            if self._exists(execution_arn):  # started otherwise: nobody may claim it
                self.store.delete_doc(REQUEST, execution_arn)
                raise taken
        try:
            result = start()
        except BaseException:
            if not self._exists(execution_arn):  # a name a later start may take again
                with contextlib.suppress(NotFoundError):
                    self.store.delete_doc(REQUEST, execution_arn)
            raise
        self._audit(execution_arn, requester, "CreateRequest", None, {"stakeholders": people})
        return result

    def describe_request(self, execution_arn: str, person: str) -> dict[str, Any]:
        request, _ = load_request(self.store, execution_arn)
        tasks = tasks_of(self.store, execution_arn)
        loaded = [self._decided(t) for t in tasks]
        if not self._involved_in_request(person, request, loaded):
            raise ActionRefusedError(f"{person} takes no part in {execution_arn}")
        header = self.store.get_execution(execution_arn)  # NotFoundError
        return {
            "executionArn": execution_arn,
            "requester": request.requester,
            "stakeholders": list(request.stakeholders),
            "notes": views.notes(request),
            "attachments": attachments.shown(request.attachments),
            "status": header.status,
            "tasks": [self._summary(item, person) for item in loaded],
        }

    def add_note(
        self, person: str, execution_arn: str, text: str, task_id: str | None = None
    ) -> str:
        """A note on the request (and one of its tasks); its id."""
        self.store.get_execution(execution_arn)  # NotFoundError: no such request
        loaded = [self._decided(t) for t in tasks_of(self.store, execution_arn)]
        if task_id is not None and not any(item.task.task_id == task_id for item in loaded):
            raise HumanTaskNotFoundError(f"{execution_arn} has no task {task_id}")
        note_id = uuid.uuid4().hex
        for _ in range(RETRIES):
            request, rev = load_request(self.store, execution_arn)
            if not self._involved_in_request(person, request, loaded):
                detail = {"reason": f"{person} takes no part in the request"}
                self._audit(execution_arn, person, "refused AddNote", task_id, detail, note_id)
                raise ActionRefusedError(f"{person} takes no part in {execution_arn}")
            note = Note(note_id=note_id, by=person, at=self._now(), text=text, task_id=task_id)
            request.notes = [*request.notes, note]
            try:
                self.store.put_doc(REQUEST, execution_arn, request.body(), rev)
            except (ConflictError, AlreadyExistsError):
                continue
            self._audit(execution_arn, person, "AddNote", task_id, {"noteId": note_id}, note_id)
            return note_id
        raise ConflictError(f"the request {execution_arn} kept changing; try again")

    # --- acting on a task -------------------------------------------------------------

    def act(
        self,
        person: str,
        task_id: str,
        action: str,
        comment: str | None = None,
        on_behalf_of: str | None = None,
    ) -> dict[str, Any]:
        """Perform ``action``: ``{"status": OPEN|COMPLETED, "transition"?}``."""

        def change(item: _Loaded) -> None:
            principal = principal_for(item.spec, item.facts, person, action, on_behalf_of)
            record = ActionRecord(
                action=action, actor=person, principal=principal, at=self._now(), comment=comment
            )
            task = item.task
            actions = [*task.actions, record]
            done = completed(item.spec, actions, item.facts)
            task.actions = actions
            if done is not None:
                task.status, task.transition, task.completed_at = COMPLETED, done, record.at
                task.result = task_result(task.task_id, task.state, done, actions)

        item, token = self._change(task_id, person, action, change, on_behalf_of)
        task = item.task
        if task.status == COMPLETED:
            assert token is not None
            # Its ActOnTask and TaskCompleted lines ride in the completion and are
            # recorded in the commit that resumes the task (completion.py): sent
            # apart, they could land after the execution finished and be dropped.
            self.completions.send(task, token)
            reminders.cancel(self.store, task, item.spec)  # closed: none may fire now
            return {"status": COMPLETED, "transition": task.transition}
        detail: dict[str, Any] = {"action": action}
        if comment:
            detail["comment"] = comment
        if on_behalf_of and on_behalf_of != person:
            detail["onBehalfOf"] = on_behalf_of
        key = f"{task_id}|{item.rev}"
        self._audit(task.execution_arn, person, "ActOnTask", task_id, detail, key)
        return {"status": OPEN}

    def claim(self, person: str, task_id: str) -> dict[str, Any]:
        def change(item: _Loaded) -> None:
            task = item.task
            if task.assignee is not None and task.assignee != person:
                raise Refused(f"the task is assigned to {task.assignee}")
            if not is_target(item.spec, item.facts, person):
                raise Refused(f"{person} is not a target of this task")
            task.assignee = person
            task.assignments = [*task.assignments, self._assignment("Claim", person, person)]

        return self._assigned(person, task_id, "ClaimTask", change)

    def unclaim(self, person: str, task_id: str) -> dict[str, Any]:
        def change(item: _Loaded) -> None:
            task = item.task
            if task.assignee != person:
                raise Refused(f"{person} is not the task's assignee")
            task.assignee = None
            task.assignments = [*task.assignments, self._assignment("Unclaim", person, None)]

        return self._assigned(person, task_id, "UnclaimTask", change)

    def reassign(self, person: str, task_id: str, to: str) -> dict[str, Any]:
        check_person(to)

        def change(item: _Loaded) -> None:
            task = item.task
            if task.assignee != person and person not in item.facts.members(item.facts.admins):
                raise Refused(
                    f"only the assignee or a process admin reassigns ({person} is neither)"
                )
            task.assignee = to
            task.assignments = [*task.assignments, self._assignment("Reassign", person, to)]

        return self._assigned(person, task_id, "ReassignTask", change, {"to": to})

    def delegate(
        self, person: str, task_id: str, to: str, on_behalf_of: str | None = None
    ) -> dict[str, Any]:
        """``on_behalf_of`` (default: the caller) lets ``to`` stand in for them on this
        task; delegating to oneself takes a delegation back."""
        check_person(to)
        principal = on_behalf_of or person

        def change(item: _Loaded) -> None:
            task, facts = item.task, item.facts
            current = facts.delegations.get(principal)
            admin = person in facts.members(facts.admins)
            if person != principal and current != person and not admin:
                raise Refused(f"{person} may not delegate for {principal}")
            standing = dataclasses.replace(
                facts, delegations={p: d for p, d in facts.delegations.items() if p != principal}
            )
            if not is_target(item.spec, standing, principal):
                raise Refused(f"{principal} is not a target of this task")
            check_delegation(item.spec, standing, task.actions, principal, to)
            delegations = dict(task.delegations)
            if to == principal:
                delegations.pop(principal, None)
            else:
                delegations[principal] = to
            task.delegations = delegations
            entry = Delegation(principal=principal, to=to, by=person, at=self._now())
            task.delegation_log = [*task.delegation_log, entry]

        detail = {"to": to, "onBehalfOf": principal}
        return self._assigned(person, task_id, "DelegateTask", change, detail)

    # --- reading ----------------------------------------------------------------------

    def describe_task(self, task_id: str, person: str) -> dict[str, Any]:
        item = self._decided(self._load(task_id))
        if not self._involved(person, item):
            raise ActionRefusedError(f"{person} takes no part in task {task_id}")
        status = self._status(item)
        return views.detail(
            item.task,
            item.spec,
            item.facts,
            person,
            status,
            item.request,
            self.audit_trail(item.task.execution_arn),
        )

    def request_tasks(self, execution_arn: str, person: str) -> list[dict[str, Any]]:
        request, _ = load_request(self.store, execution_arn)
        loaded = [self._decided(t) for t in tasks_of(self.store, execution_arn)]
        if not self._involved_in_request(person, request, loaded):
            raise ActionRefusedError(f"{person} takes no part in {execution_arn}")
        return [self._summary(item, person) for item in loaded]

    def my_tasks(self, person: str, status: str = OPEN) -> list[dict[str, Any]]:
        """Tasks assigned or delegated to ``person``, or for which they are a target
        (``status`` OPEN: those still open; ALL: every one), oldest first."""
        requests: dict[str, RequestDoc] = {}
        mine = []
        for task, entries in inbox.candidates(self.store, self.directory, person, status):
            if status == OPEN and task.status != OPEN:
                inbox.retire(self.store, *entries)
                continue
            if task.execution_arn not in requests:
                requests[task.execution_arn] = load_request(self.store, task.execution_arn)[0]
            item = self._decided(task, requests[task.execution_arn])
            shown = self._status(item)
            if shown != OPEN:  # over for good: its entries move to done
                inbox.retire(self.store, *entries)
            if not self._mine(person, item) or (status == OPEN and shown != OPEN):
                continue
            mine.append(views.summary(item.task, item.spec, item.facts, person, shown))
        mine.sort(key=lambda s: (s["createdAt"], s["taskId"]))
        return mine

    def audit_trail(self, execution_arn: str) -> list[dict[str, Any]]:
        """The request's audit trail: its history's ``RequestAuditRecorded`` events."""
        try:
            history = self.store.history(execution_arn)
        except NotFoundError:
            return []
        return [
            {"at": e["timestamp"], **(e.get("details") or {})}
            for e in history
            if e.get("type") == AUDIT_EVENT
        ]

    # --- internals --------------------------------------------------------------------

    def _exists(self, execution_arn: str) -> bool:
        try:
            self.store.get_execution(execution_arn)
        except NotFoundError:
            return False
        return True

    def _now(self) -> str:
        return self.clock.now().isoformat()

    def _assignment(self, kind: str, by: str, to: str | None) -> Assignment:
        return Assignment(kind=kind, by=by, to=to, at=self._now())  # type: ignore[arg-type]

    def _load(self, task_id: str) -> TaskDoc:
        found = load_task(self.store, task_id)
        if found is None:
            raise HumanTaskNotFoundError(f"no human task {task_id!r}")
        return found[0]

    def _decided(self, task: TaskDoc, request: RequestDoc | None = None) -> _Loaded:
        """A task read for a view (its revision is not used)."""
        spec = task.parsed_spec()
        if request is None:
            request, _ = load_request(self.store, task.execution_arn)
        return _Loaded(task, 0, spec, request, facts_for(self.directory, spec, task, request))

    def _status(self, item: _Loaded) -> str:
        """OPEN, COMPLETED or CLOSED, decided now; a COMPLETED task whose execution still
        waits on it has its completion sent again (a crash after the completing write)."""
        task = item.task
        token = self.completions.waiting_token(task.execution_arn, task.run_task_id)
        if task.status == COMPLETED and token is not None:
            self._repair(task, token)
        return views.shown_status(task, token is not None)

    def _repair(self, task: TaskDoc, token: str) -> None:
        """Send a COMPLETED task's completion again, once it is overdue: sent just now,
        it is most likely on the events queue still (a repeat is harmless, but the
        applier would send the commit's work again for it)."""
        assert task.completed_at is not None
        completed_at = datetime.fromisoformat(task.completed_at)
        if self.clock.now() - completed_at >= REPAIR_AFTER:
            self.completions.send(task, token)

    def _summary(self, item: _Loaded, person: str) -> dict[str, Any]:
        return views.summary(item.task, item.spec, item.facts, person, self._status(item))

    def _mine(self, person: str, item: _Loaded) -> bool:
        return person in item.task.delegations.values() or is_target(item.spec, item.facts, person)

    def _involved(self, person: str, item: _Loaded) -> bool:
        """Whether ``person`` may see the task: a target, the assignee, a delegate, the
        requester or a stakeholder, someone who acted or delegated, or an admin."""
        task, facts = item.task, item.facts
        return (
            self._mine(person, item)
            or person in (facts.requester, task.assignee)
            or person in facts.stakeholders
            or person in task.delegations
            or any(a.actor == person for a in task.actions)
            or person in facts.members(facts.admins)
        )

    def _involved_in_request(self, person: str, request: RequestDoc, loaded: list[_Loaded]) -> bool:
        if person == request.requester or person in request.stakeholders:
            return True
        if any(self._involved(person, item) for item in loaded):
            return True
        return person in self.directory.members("Admins")

    def _change(
        self,
        task_id: str,
        person: str,
        what: str,
        change: Callable[[_Loaded], None],
        on_behalf_of: str | None = None,
    ) -> tuple[_Loaded, str | None]:
        """Decide ``change`` on the newest revision of the task and write it
        conditionally (read again and decided again when another write won).
        ``change`` raises ``Refused`` before it changes anything."""
        for _ in range(RETRIES):
            found = load_task(self.store, task_id)
            if found is None:
                raise HumanTaskNotFoundError(f"no human task {task_id!r}")
            task, rev = found
            spec = task.parsed_spec()
            request, _ = load_request(self.store, task.execution_arn)
            item = _Loaded(task, rev, spec, request, facts_for(self.directory, spec, task, request))
            token = self.completions.waiting_token(task.execution_arn, task.run_task_id)
            try:
                if task.status == COMPLETED:
                    if token is not None:  # the completion may not have been sent
                        self._repair(task, token)
                    raise Refused(f"the task is completed (transition {task.transition})")
                if token is None:
                    raise Refused("the task is closed: its execution no longer waits on it")
                before = inbox.people_of(task)
                logs = notices.log_lengths(task)
                change(item)
            except Refused as refused:
                task.refuse(
                    Refusal(
                        who=person,
                        what=what,
                        reason=refused.reason,
                        at=self._now(),
                        on_behalf_of=on_behalf_of,
                    )
                )
                written = self._put(task, rev)
                if written is None:
                    continue
                detail = {"reason": refused.reason}
                key = f"{task_id}|{written}"
                self._audit(task.execution_arn, person, f"refused {what}", task_id, detail, key)
                raise ActionRefusedError(refused.reason) from None
            added = inbox.people_of(task) - before  # their entries first (module docstring)
            inbox.add_task(self.store, task, map(inbox.person_owner, added))
            # The notices' timers first: a crash after the write cannot lose one.
            notices.schedule(self.store, task, logs, rev + 1, self.clock.now())
            written = self._put(task, rev)
            if written is None:
                continue
            item.rev = written
            return item, token
        raise ConflictError(f"the task {task_id} kept changing; try again")

    def _assigned(
        self,
        person: str,
        task_id: str,
        what: str,
        change: Callable[[_Loaded], None],
        detail: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        item, _ = self._change(task_id, person, what, change)
        key = f"{task_id}|{item.rev}"
        self._audit(item.task.execution_arn, person, what, task_id, detail or {}, key)
        after = self._decided(item.task, item.request)  # the facts as changed
        return views.summary(after.task, after.spec, after.facts, person, OPEN)

    def _put(self, task: TaskDoc, rev: int) -> int | None:
        """The revision written (None: another write won)."""
        try:
            return self.store.put_doc(HTASK, task.task_id, task.body(), rev)
        except ConflictError:
            return None

    def _audit(
        self,
        execution_arn: str,
        who: str,
        what: str,
        task_id: str | None,
        detail: dict[str, Any],
        key: str | None = None,
    ) -> None:
        """The one place every line of the audit trail goes through. ``key`` makes
        the line one of a kind (the task revision written; default: its words)."""
        self.trail.record(execution_arn, who, what, task_id=task_id, detail=detail, key=key)

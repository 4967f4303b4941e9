"""Process activities: a note, an e-mail, stakeholders added or removed (docs/PEOPLE.md).

``ProcessActivities(store, mailer, directory, audit, clock=None)``

- ``.run(execution_arn, activities, facts, *, task_id=None, key) -> list[str]``:
  does each activity once per ``key`` and returns one line per activity
  (what was done, or why not: ``no address for bob``). A human task opening
  passes its task id and a key of its own; the same key on a redelivery
  returns the same lines and repeats nothing (e-mail: see below).
- ``.facts_for(execution_arn, activities) -> Facts``: what the targets of
  ``activities`` need (the request's requester and stakeholders, the groups
  they name, the admins), read now.

``run_task(runner, resource_input, context, execution_arn) -> Outcome`` runs
the ``PROCESS_ACTIVITIES_RESOURCE`` Task (its resolved Parameters in
``resource_input``, the worker's ``StepContext`` in ``context``): output
``{"Done": [<line>, ...]}``; Parameters that are not ``core.people.model.
ProcessActivities`` fail with ``Stepq.InvalidProcessActivities``; an e-mail
the mailer refused fails with ``Stepq.MailError`` (a Retry on the Task runs
only what is left: the key is the state's visit, not the attempt).

What they change lives in the request's document ``request/<execution
ARN>`` (``{requester, stakeholders, notes, attachments}``, created here if
absent), by conditional puts on its revision. Which activities are done
lives apart, in ``processActivities/<execution ARN>``: ``{"done": {"<key>#<index>":
{line, at}}}``, so that a writer of the request document that keeps only the
fields it knows (the inbox's ``RequestDoc``) cannot erase the marks. The
request's changes are safe to make twice, so the mark may follow them: a note
carries its mark as its ``note_id`` and is not appended again; a stakeholder
change is a set operation. An e-mail is marked after it is sent (see
``_email``). Each activity is also an audit line (``who: "process"``), sent
with a key of its own, so a redelivery re-sends it harmlessly (the applier
drops the repeat).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from stepq.clock import Clock, SystemClock
from stepq.core.people import model
from stepq.core.people.rules import Facts, resolve
from stepq.errors import AlreadyExistsError, ConflictError, MailError
from stepq.runtime.people import inbox
from stepq.runtime.people.addresses import address_of
from stepq.runtime.people.audit import AuditTrail
from stepq.runtime.people.directory import Directory
from stepq.runtime.ports import Mailer, Store
from stepq.runtime.steps import Outcome, StepContext

REQUEST = "request"  # the document kind: request/<execution ARN>
MARKS = "processActivities"  # the document kind: processActivities/<execution ARN>
PROCESS = "process"  # who the audit trail names for what the process did
INVALID = "Stepq.InvalidProcessActivities"
MAIL_FAILED = "Stepq.MailError"
_RETRIES = 20

Change = Callable[[dict[str, Any]], None]


class ProcessActivities:
    def __init__(
        self,
        store: Store,
        mailer: Mailer,
        directory: Directory,
        audit: AuditTrail,
        clock: Clock | None = None,
    ) -> None:
        self.store = store
        self.mailer = mailer
        self.directory = directory
        self.audit = audit
        self.clock = clock or SystemClock()

    def run(
        self,
        execution_arn: str,
        activities: list[model.Activity],
        facts: Facts,
        *,
        task_id: str | None = None,
        key: str,
    ) -> list[str]:
        """Do each activity not done yet under ``key``; one line per activity.

        ``MailError`` if the mailer refused an e-mail: what came before it is
        done and marked, so running again with the same key does the rest."""
        lines = []
        for index, activity in enumerate(activities):
            mark = f"{key}#{index}"
            record = self._marks(execution_arn).get(mark)
            if record is None:
                record = self._do(execution_arn, activity, facts, mark, task_id)
            if isinstance(activity, model.Stakeholders):  # later targets see the change
                stakeholders = self._request(execution_arn)["stakeholders"]
                facts = dataclasses.replace(facts, stakeholders=frozenset(stakeholders))
            lines.append(record["line"])
            self.audit.record(
                execution_arn,
                PROCESS,
                activity.Type,
                task_id=task_id,
                detail={"line": record["line"]},
                key=f"activity|{mark}",
                at=datetime.fromisoformat(record["at"]),
            )
        return lines

    def facts_for(self, execution_arn: str, activities: list[model.Activity]) -> Facts:
        body = self._request(execution_arn)
        named = {model.ADMINS_GROUP}
        for activity in activities:
            targets = [activity.To] if isinstance(activity, model.Email) else []
            if isinstance(activity, model.Stakeholders):
                targets = list(activity.Targets)
            named.update(t.Group for t in targets if t.Group is not None)
        return Facts(
            requester=body.get("requester"),
            stakeholders=frozenset(body["stakeholders"]),
            groups=self.directory.groups(named),
        )

    # --- one activity -------------------------------------------------------------

    def _do(
        self, arn: str, activity: model.Activity, facts: Facts, mark: str, task_id: str | None
    ) -> dict[str, Any]:
        at = self.clock.now().isoformat()
        if isinstance(activity, model.Note):
            note = {"note_id": mark, "by": PROCESS, "at": at, "text": activity.Text}
            if task_id is not None:
                note["task_id"] = task_id

            def add_note(body: dict[str, Any]) -> None:
                if all(n.get("note_id") != mark for n in body["notes"]):  # not added yet
                    body["notes"].append(note)

            self._change(arn, add_note)
            return self._mark(arn, mark, "note added", at)
        if isinstance(activity, model.Stakeholders):
            people = set(activity.People)
            for target in activity.Targets:
                people |= resolve(target, facts)
            adding = activity.Type == "AddStakeholders"
            if adding:  # their inbox entries first: a crash between, and they are extra
                inbox.add_request(self.store, arn, people)

            def change(body: dict[str, Any]) -> None:
                now = set(body["stakeholders"])
                body["stakeholders"] = sorted(now | people if adding else now - people)

            self._change(arn, change)
            line = f"stakeholders {'added' if adding else 'removed'}: {', '.join(sorted(people))}"
            return self._mark(arn, mark, line, at)
        return self._email(arn, activity, facts, mark, at)

    def _email(
        self, arn: str, email: model.Email, facts: Facts, mark: str, at: str
    ) -> dict[str, Any]:
        people = sorted(resolve(email.To, facts))
        found = {p: address_of(self.store, p) for p in people}
        addresses = sorted({a for a in found.values() if a is not None})
        missing = [p for p, a in found.items() if a is None]
        parts = []
        if not people:
            parts.append(f"no one to e-mail: {email.To.describe()} names nobody")
        if addresses:
            # Sent before it is marked done: a crash in between sends it again on the
            # redelivery. At-least-once is the honest promise for mail; marking first
            # would lose the e-mail to a crash after the mark, and none may be lost.
            self.mailer.send(addresses, email.Subject, email.Body)
            parts.append(f"e-mailed {', '.join(p for p in people if found[p])}: {email.Subject}")
        if missing:
            parts.append(f"no address for {', '.join(missing)}")
        return self._mark(arn, mark, "; ".join(parts), at)

    # --- the documents ------------------------------------------------------------

    def _request(self, arn: str) -> dict[str, Any]:
        doc = self.store.get_doc(REQUEST, arn)
        return _complete(doc.body if doc is not None else {})

    def _marks(self, arn: str) -> dict[str, Any]:
        doc = self.store.get_doc(MARKS, arn)
        return dict(doc.body.get("done") or {}) if doc is not None else {}

    def _change(self, arn: str, change: Change) -> None:
        """``change`` the request document (created if absent), on its revision."""

        def changed(body: dict[str, Any]) -> dict[str, Any]:
            full = _complete(body)
            change(full)
            return full

        self._put(REQUEST, arn, changed)

    def _mark(self, arn: str, mark: str, line: str, at: str) -> dict[str, Any]:
        """``mark`` done with its line; the record kept (the first one, if two raced)."""
        kept: dict[str, Any] = {}

        def add(body: dict[str, Any]) -> dict[str, Any]:
            done = dict(body.get("done") or {})
            done.setdefault(mark, {"line": line, "at": at})
            kept.update(done[mark])
            return {**body, "done": done}

        self._put(MARKS, arn, add)
        return kept

    def _put(self, kind: str, arn: str, change: Callable[[dict[str, Any]], Any]) -> None:
        for _ in range(_RETRIES):
            doc = self.store.get_doc(kind, arn)
            body = change(dict(doc.body) if doc is not None else {})
            try:
                self.store.put_doc(kind, arn, body, doc.rev if doc is not None else None)
            except (ConflictError, AlreadyExistsError):
                continue  # another writer changed it: read it again
            return
        raise ConflictError(f"the {kind} document of {arn!r} kept changing; try again")


def _complete(body: dict[str, Any]) -> dict[str, Any]:
    """A request document with every field present (copies the lists it touches)."""
    out = dict(body)
    out.setdefault("requester", None)
    out["stakeholders"] = list(out.get("stakeholders") or [])
    out["notes"] = list(out.get("notes") or [])
    out["attachments"] = list(out.get("attachments") or [])
    return out


def visit_key(idempotency_key: str) -> str:
    """The step's idempotency key without its attempt: the same across Retries."""
    return idempotency_key.rsplit(":", 1)[0]


def run_task(
    runner: ProcessActivities, resource_input: Any, context: StepContext, execution_arn: str
) -> Outcome:
    """The ``PROCESS_ACTIVITIES_RESOURCE`` Task: ``{"Done": [...]}`` or a failure."""
    try:
        spec = model.ProcessActivities.model_validate(resource_input)
    except ValidationError as exc:
        return Outcome(error=INVALID, cause=_first_problem(exc))
    facts = runner.facts_for(execution_arn, spec.Activities)
    try:
        lines = runner.run(
            execution_arn, spec.Activities, facts, key=visit_key(context.idempotency_key)
        )
    except MailError as exc:
        return Outcome(error=MAIL_FAILED, cause=str(exc))
    return Outcome(output={"Done": lines})


def _first_problem(exc: ValidationError) -> str:
    error = exc.errors(include_url=False)[0]
    where = ".".join(str(p) for p in error["loc"])
    return f"{where}: {error['msg']}" if where else str(error["msg"])

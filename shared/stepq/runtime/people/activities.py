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

Everything lives in the request's document ``request/<execution ARN>``
(``{requester, stakeholders, notes, attachments}``, created here if absent),
changed by conditional puts on its revision. ``activitiesDone`` maps
``<key>#<index>`` to ``{line, at}``: a note or a stakeholder change is
written in the same put as its mark, so it happens exactly once. Each
activity is also an audit line (``who: "process"``), sent with a key of its
own, so a redelivery re-sends it harmlessly (the applier drops the repeat).
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
from stepq.runtime.people.addresses import address_of
from stepq.runtime.people.audit import AuditTrail
from stepq.runtime.people.directory import Directory
from stepq.runtime.ports import Mailer, Store
from stepq.runtime.steps import Outcome, StepContext

REQUEST = "request"  # the document kind: request/<execution ARN>
PROCESS = "process"  # who the audit trail names for what the process did
DONE = "activitiesDone"
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
            body = self._body(execution_arn)
            record = body.get(DONE, {}).get(mark)
            if record is None:
                body, record = self._do(execution_arn, activity, facts, mark)
            if isinstance(activity, model.Stakeholders):  # later targets see the change
                facts = dataclasses.replace(facts, stakeholders=frozenset(body["stakeholders"]))
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
        body = self._body(execution_arn)
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
        self, arn: str, activity: model.Activity, facts: Facts, mark: str
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        at = self.clock.now().isoformat()
        if isinstance(activity, model.Note):
            note = {"id": mark, "by": PROCESS, "at": at, "text": activity.Text}
            return self._mark(arn, mark, "note added", at, lambda b: b["notes"].append(note))
        if isinstance(activity, model.Stakeholders):
            people = set(activity.People)
            for target in activity.Targets:
                people |= resolve(target, facts)
            adding = activity.Type == "AddStakeholders"
            line = f"stakeholders {'added' if adding else 'removed'}: {', '.join(sorted(people))}"

            def change(body: dict[str, Any]) -> None:
                now = set(body["stakeholders"])
                body["stakeholders"] = sorted(now | people if adding else now - people)

            return self._mark(arn, mark, line, at, change)
        return self._email(arn, activity, facts, mark, at)

    def _email(
        self, arn: str, email: model.Email, facts: Facts, mark: str, at: str
    ) -> tuple[dict[str, Any], dict[str, Any]]:
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
        return self._mark(arn, mark, "; ".join(parts), at, lambda body: None)

    # --- the request document -----------------------------------------------------

    def _body(self, arn: str) -> dict[str, Any]:
        doc = self.store.get_doc(REQUEST, arn)
        return _complete(doc.body if doc is not None else {})

    def _mark(
        self, arn: str, mark: str, line: str, at: str, change: Change
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """Apply ``change`` and mark ``mark`` done in one conditional put (once:
        a writer that finds the mark there already changes nothing)."""
        for _ in range(_RETRIES):
            doc = self.store.get_doc(REQUEST, arn)
            body = _complete(dict(doc.body) if doc is not None else {})
            done = dict(body[DONE])
            if mark in done:
                return body, done[mark]
            change(body)
            done[mark] = {"line": line, "at": at}
            body[DONE] = done
            try:
                self.store.put_doc(REQUEST, arn, body, doc.rev if doc is not None else None)
            except (ConflictError, AlreadyExistsError):
                continue  # another writer changed the request: read it again
            return body, done[mark]
        raise ConflictError(f"the request {arn!r} kept changing; try again")


def _complete(body: dict[str, Any]) -> dict[str, Any]:
    """A request document with every field present (copies the lists it touches)."""
    out = dict(body)
    out.setdefault("requester", None)
    out["stakeholders"] = list(out.get("stakeholders") or [])
    out["notes"] = list(out.get("notes") or [])
    out.setdefault("attachments", [])
    out[DONE] = dict(out.get(DONE) or {})
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

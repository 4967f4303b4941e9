"""The worker's people runner: opens human tasks and runs process activities.

A human task (``HUMAN_TASK_RESOURCE``) is a callback task. Opening it writes
its inbox entries (``inbox.py``), then its document if absent (``put_doc``
creating: a redelivered or re-sent RunTask finds it, and repeats nothing
marked done), runs its opening
process activities (once: keyed by the task, marked in the request
document, and ``opened`` in the task's), puts a durable timer per reminder
(``reminders.py``, which also runs a ``REMINDER_RESOURCE`` RunTask) and one
to tell the spec's ``Assignee`` (``notices.py``, which also runs a
``NOTICE_RESOURCE`` RunTask), then answers an acknowledgement,
``{"TaskId": ...}``, which the core records as ``TaskSubmitted``; the task
completes when people act (``service.py``). A spec that does not parse
fails the task, ``Stepq.InvalidHumanTask``, with pydantic's problems as the
cause. A task found COMPLETED whose execution still waits has its
completion sent again (a crash between the two, repaired by a re-sent
RunTask: ``stepq ops reconcile ARN``).

A process activities Task (``PROCESS_ACTIVITIES_RESOURCE``) is
request-response: its output is ``{"Done": [...]}`` (``activities.run_task``).
"""

from __future__ import annotations

import logging

from pydantic import ValidationError

from stepq.clock import Clock
from stepq.core import events as ev
from stepq.core.people.model import (
    HUMAN_TASK_RESOURCE,
    NOTICE_RESOURCE,
    REMINDER_RESOURCE,
    HumanTaskSpec,
)
from stepq.errors import AlreadyExistsError, ConflictError, MailError
from stepq.runtime.people import inbox, notices
from stepq.runtime.people.activities import ProcessActivities, run_task
from stepq.runtime.people.audit import AuditTrail
from stepq.runtime.people.completion import Completions
from stepq.runtime.people.directory import Directory
from stepq.runtime.people.documents import (
    COMPLETED,
    HTASK,
    OPEN,
    Assignment,
    TaskDoc,
    load_request,
    load_task,
    task_id_for,
)
from stepq.runtime.people.facts import facts_for
from stepq.runtime.people.reminders import Reminders, schedule
from stepq.runtime.ports import Mailer, Queues, Store
from stepq.runtime.steps import Outcome, StepContext

log = logging.getLogger(__name__)

INVALID_HUMAN_TASK = "Stepq.InvalidHumanTask"
_RETRIES = 20


class NoMailer:
    """The mailer of a host given none: every e-mail is refused, saying so."""

    def send(self, to: list[str], subject: str, body: str) -> str:
        raise MailError("this worker has no mailer (e-mail is not configured)")


def problems(exc: ValidationError) -> str:
    """pydantic's problems, one per line: ``Transitions.0.Requires: Field required``."""
    return "\n".join(
        f"{'.'.join(str(p) for p in e['loc']) or 'Parameters'}: {e['msg']}" for e in exc.errors()
    )


class PeopleRunner:
    """``Worker(people=PeopleRunner(...))``: see the module's docstring."""

    def __init__(
        self, store: Store, queues: Queues, clock: Clock, mailer: Mailer | None = None
    ) -> None:
        self.store = store
        self.clock = clock
        self.directory = Directory(store)
        self.completions = Completions(store, queues, clock)
        trail = AuditTrail(self.completions.queues, clock)
        self.activities = ProcessActivities(
            store, mailer or NoMailer(), self.directory, trail, clock
        )
        self.reminders = Reminders(store, self.directory, self.completions, self.activities)
        self.notices = notices.Notices(store, self.completions, self.activities)

    def __call__(self, execution_id: str, command: ev.RunTask, context: StepContext) -> Outcome:
        if command.resource == HUMAN_TASK_RESOURCE:
            return self.open(execution_id, command)
        if command.resource == REMINDER_RESOURCE:
            return self.reminders.run(execution_id, command.input)
        if command.resource == NOTICE_RESOURCE:
            return self.notices.run(execution_id, command.input)
        return run_task(self.activities, command.input, context, execution_id)

    # --- human tasks ------------------------------------------------------------------

    def open(self, execution_id: str, command: ev.RunTask) -> Outcome:
        task_id = task_id_for(execution_id, command.task_id)
        try:
            spec = HumanTaskSpec.model_validate(command.input)
        except ValidationError as exc:
            return Outcome(error=INVALID_HUMAN_TASK, cause=problems(exc))
        found = load_task(self.store, task_id)
        if found is None:
            state = self.completions.state_of(execution_id, command.task_id)
            if state is None:  # the execution left the task already: nothing to open
                return Outcome(output={"TaskId": task_id})
            found = self._create(execution_id, command, task_id, state, spec)
        task, rev = found
        if not task.opened:
            self._run_opening(task, rev, spec)
        if task.status == COMPLETED:
            self._repair(task)
        return Outcome(output={"TaskId": task_id})

    def _run_opening(self, task: TaskDoc, rev: int, spec: HumanTaskSpec) -> None:
        """The reminders' timers and the opening process activities (each once:
        keyed by the task), then ``opened`` marked so a redelivery reads no more.
        The document is written first: a crash before the mark leaves it not
        ``opened``, and the redelivered RunTask does what is left."""
        if task.status == OPEN:  # completed before it was marked opened: none is due
            schedule(self.store, task, spec)
            notices.schedule_open(self.store, task, self.clock.now())  # an Assignee's
        if spec.Activities:
            request, _ = load_request(self.store, task.execution_arn)
            facts = facts_for(self.directory, spec, task, request)
            try:
                self.activities.run(
                    task.execution_arn,
                    list(spec.Activities),
                    facts,
                    task_id=task.task_id,
                    key=f"open|{task.task_id}",
                )
            except MailError as exc:  # the task opens all the same; the trail says why
                log.warning("a human task's opening e-mail was not sent: %s", exc)
        for _ in range(_RETRIES):
            task.opened = True
            try:
                self.store.put_doc(HTASK, task.task_id, task.body(), rev)
                return
            except ConflictError:  # someone acted meanwhile: mark the newest revision
                found = load_task(self.store, task.task_id)
                assert found is not None
                task, rev = found
                if task.opened:
                    return

    def _create(
        self, execution_id: str, command: ev.RunTask, task_id: str, state: str, spec: HumanTaskSpec
    ) -> tuple[TaskDoc, int]:
        now = self.clock.now().isoformat()
        assignments = [Assignment(kind="Open", by=None, to=spec.Assignee, at=now)]
        task = TaskDoc(
            task_id=task_id,
            execution_arn=execution_id,
            run_task_id=command.task_id,
            state=state,
            spec=spec.model_dump(mode="json", exclude_none=True),
            created_at=now,
            requester=load_request(self.store, execution_id)[0].requester,
            assignee=spec.Assignee,
            assignments=assignments if spec.Assignee else [],
        )
        # The inbox entries first: a crash before the task is written leaves entries
        # with nothing behind them (skipped), and the redelivered RunTask writes both.
        inbox.add_task(self.store, task, inbox.owners_of(task, spec))
        try:
            rev = self.store.put_doc(HTASK, task_id, task.body(), None)
        except AlreadyExistsError:  # a redelivery opened it meanwhile
            again = load_task(self.store, task_id)
            assert again is not None  # tasks are never deleted
            return again
        return task, rev

    def _repair(self, task: TaskDoc) -> None:
        """Completed, but the completion may not have been sent (a crash between)."""
        token = self.completions.waiting_token(task.execution_arn, task.run_task_id)
        if token is not None:
            self.completions.send(task, token)

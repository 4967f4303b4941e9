"""The worker's people runner: opens human tasks and runs process activities.

A human task (``HUMAN_TASK_RESOURCE``) is a callback task. Opening it writes
its document if absent (``put_doc`` creating: a redelivered or re-sent
RunTask finds it, and repeats nothing marked done), then answers an
acknowledgement, ``{"TaskId": ...}``, which the core records as
``TaskSubmitted``; the task completes when people act (``service.py``). A
spec that does not parse fails the task, ``Stepq.InvalidHumanTask``, with
pydantic's problems as the cause.

A process activities Task (``PROCESS_ACTIVITIES_RESOURCE``) is
request-response: its output is ``{"Done": [...]}``.
"""

from __future__ import annotations

import logging

from pydantic import ValidationError

from stepq.clock import Clock
from stepq.core import events as ev
from stepq.core.people.model import HUMAN_TASK_RESOURCE, HumanTaskSpec
from stepq.errors import AlreadyExistsError
from stepq.runtime.people.completion import Completions
from stepq.runtime.people.directory import Directory
from stepq.runtime.people.documents import (
    COMPLETED,
    HTASK,
    Assignment,
    TaskDoc,
    load_request,
    load_task,
    task_id_for,
)
from stepq.runtime.ports import Queues, Store
from stepq.runtime.steps import Outcome, StepContext

log = logging.getLogger(__name__)

INVALID_HUMAN_TASK = "Stepq.InvalidHumanTask"
NOT_AVAILABLE = "Stepq.ProcessActivitiesUnavailable"


def problems(exc: ValidationError) -> str:
    """pydantic's problems, one per line: ``Transitions.0.Requires: Field required``."""
    return "\n".join(
        f"{'.'.join(str(p) for p in e['loc']) or 'Parameters'}: {e['msg']}" for e in exc.errors()
    )


class PeopleRunner:
    """``Worker(people=PeopleRunner(...))``: see the module's docstring."""

    def __init__(self, store: Store, queues: Queues, clock: Clock) -> None:
        self.store = store
        self.clock = clock
        self.directory = Directory(store)
        self.completions = Completions(store, queues, clock)

    def __call__(self, execution_id: str, command: ev.RunTask, context: StepContext) -> Outcome:
        if command.resource == HUMAN_TASK_RESOURCE:
            return self.open(execution_id, command)
        return self.process_activities(execution_id, command)

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
        task, _rev = found
        if task.status == COMPLETED:
            self._repair(task)
        return Outcome(output={"TaskId": task_id})

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
            self.completions.send(task.execution_arn, task.run_task_id, token, task.result)

    # --- process activities -----------------------------------------------------------

    def process_activities(self, execution_id: str, command: ev.RunTask) -> Outcome:
        # Built by the process activities module (issue 12, i12-activities); until
        # it lands the Task fails rather than pretending to have sent anything.
        return Outcome(error=NOT_AVAILABLE, cause="process activities not available")

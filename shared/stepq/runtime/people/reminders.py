"""A human task's reminders: durable timers put when it opens, run while it is open.

Why through the core, and not a timer straight to the people runner: the
execution's state is the truth of whether it still waits on the task (a task
document shows COMPLETED, never that the task timed out or its execution was
stopped), and the RunTask the core issues is routed to the queue the human
task's own RunTask went to, so the runner is reached however a host routes.

1. ``schedule`` (the runner, while opening the task, before it is marked
   ``opened``): one ``Store.put_timer`` per reminder, id
   ``reminder|<task id>|<index>``, due at the task's ``created_at`` plus
   ``AfterSeconds``, its event a ``core.events.ReminderDue``. A timer that
   exists is not written twice (AlreadyExistsError is ignored), so a
   redelivered opening schedules nothing more; the scheduler fires each once.
2. The core, on ``ReminderDue``: while the task still waits, a ``RunTask`` for
   ``REMINDER_RESOURCE`` with ``{"RunTaskId", "Index"}``, owned by no frame.
3. ``Reminders.run`` (the runner, on that RunTask): if the task document is
   still OPEN and the execution still waits on it, the reminder's activities,
   keyed ``reminder|<task id>|<index>`` (each done once; e-mail at least once),
   then the audit line ``ReminderSent``. Its result is ignored by the core.
4. ``cancel`` (the inbox, once a task completes): its pending timers are
   claimed, so none fires later. Best effort: a timer left (a crash, or the
   execution leaving the task by a timeout or a stop, which nothing here sees)
   fires, and step 2 or 3 finds the task closed and sends nothing.
"""

from __future__ import annotations

import contextlib
import logging
from datetime import datetime, timedelta
from typing import Any

from stepq.core import events as ev
from stepq.core.people.model import HumanTaskSpec
from stepq.errors import AlreadyExistsError, MailError, StoreError
from stepq.runtime import codec
from stepq.runtime.messages import event_message
from stepq.runtime.people.activities import PROCESS, ProcessActivities
from stepq.runtime.people.completion import Completions
from stepq.runtime.people.directory import Directory
from stepq.runtime.people.documents import OPEN, TaskDoc, load_request, load_task, task_id_for
from stepq.runtime.people.facts import facts_for
from stepq.runtime.ports import Store, Timer
from stepq.runtime.steps import Outcome

log = logging.getLogger(__name__)

REMINDER_SENT = "ReminderSent"  # the audit line's ``what``


def timer_id(task_id: str, index: int) -> str:
    return f"reminder|{task_id}|{index}"


def due_at(task: TaskDoc, spec: HumanTaskSpec, index: int) -> datetime:
    return datetime.fromisoformat(task.created_at) + timedelta(
        seconds=spec.Reminders[index].AfterSeconds
    )


def schedule(store: Store, task: TaskDoc, spec: HumanTaskSpec) -> None:
    """One durable timer per reminder (each once, whoever opens the task again)."""
    for index in range(len(spec.Reminders)):
        due = due_at(task, spec, index)
        event = ev.ReminderDue(due, task.run_task_id, index)
        tid = timer_id(task.task_id, index)
        body = event_message(task.execution_arn, event, tid).body
        # AlreadyExistsError: put by an earlier opening of the same task.
        with contextlib.suppress(AlreadyExistsError):
            store.put_timer(Timer(tid, task.execution_arn, codec.instant(due) or "", body))


def cancel(store: Store, task: TaskDoc, spec: HumanTaskSpec) -> int:
    """Claim the closed task's pending reminder timers (best effort); how many were."""
    claimed = 0
    for index in range(len(spec.Reminders)):
        try:
            claimed += store.claim_timer(
                Timer(timer_id(task.task_id, index), task.execution_arn, "")
            )
        except StoreError as exc:  # left to fire: it finds the task closed (step 3)
            log.warning("a reminder of closed task %s was left: %s", task.task_id, exc)
    return claimed


class Reminders:
    """Runs a due reminder's activities (the ``REMINDER_RESOURCE`` RunTask)."""

    def __init__(
        self,
        store: Store,
        directory: Directory,
        completions: Completions,
        activities: ProcessActivities,
    ) -> None:
        self.store = store
        self.directory = directory
        self.completions = completions
        self.activities = activities

    def run(self, execution_arn: str, command_input: Any) -> Outcome:
        run_task_id, index = _parsed(command_input)
        if run_task_id is None:
            return Outcome(error="Stepq.InvalidReminder", cause="not {RunTaskId, Index}")
        found = load_task(self.store, task_id_for(execution_arn, run_task_id))
        if found is None:
            return Outcome(output={"Reminded": False})
        task, _ = found
        spec = task.parsed_spec()
        if (
            task.status != OPEN
            or index >= len(spec.Reminders)
            # The core checked when it fell due; a redelivery may come after the
            # execution left the task (a timeout does not change the document).
            or self.completions.state_of(execution_arn, run_task_id) is None
        ):
            return Outcome(output={"Reminded": False})
        key = timer_id(task.task_id, index)
        request, _ = load_request(self.store, execution_arn)
        facts = facts_for(self.directory, spec, task, request)
        detail: dict[str, Any] = {"reminder": index}
        try:
            detail["done"] = self.activities.run(
                execution_arn,
                list(spec.Reminders[index].Activities),
                facts,
                task_id=task.task_id,
                key=key,
            )
        except MailError as exc:  # as at the opening: logged, and the trail says so
            log.warning("a human task's reminder e-mail was not sent: %s", exc)
            detail["mailError"] = str(exc)
        # At the instant it fell due, so a re-fire however late is found and dropped.
        self.activities.audit.record(
            execution_arn,
            PROCESS,
            REMINDER_SENT,
            task_id=task.task_id,
            detail=detail,
            key=key,
            at=due_at(task, spec, index),
        )
        return Outcome(output={"Reminded": True})


def _parsed(value: Any) -> tuple[str | None, int]:
    if not isinstance(value, dict):
        return None, 0
    run_task_id, index = value.get("RunTaskId"), value.get("Index")
    if not isinstance(run_task_id, str) or not isinstance(index, int) or index < 0:
        return None, 0
    return run_task_id, index

"""The core's part of a reminder: ``ReminderDue`` becomes a reminder RunTask while the
human task waits, and nothing otherwise (docs/PEOPLE.md, "Reminders"); so does an
``AssignmentNoticeDue`` ("Assignment notifications")."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from stepq.core.events import AssignmentNoticeDue, ReminderDue, RunTask, StartExecution
from stepq.core.execution import ExecutionState, new_execution
from stepq.core.interpreter import decide
from stepq.core.machine import Machine
from stepq.core.people.model import HUMAN_TASK_RESOURCE, NOTICE_RESOURCE, REMINDER_RESOURCE

START = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)
LATER = START + timedelta(days=1)


def started(resource: str, parameters: dict[str, Any]) -> tuple[Machine, ExecutionState, str]:
    definition = {
        "StartAt": "A",
        "States": {
            "A": {"Type": "Task", "Resource": resource, "Parameters": parameters, "End": True}
        },
    }
    machine = Machine(definition, name="m")
    state = new_execution(name="e", state_machine_name="m", start_time=START)
    state, decision = decide(machine, state, StartExecution({}, START))
    (task,) = [c for c in decision.commands if isinstance(c, RunTask)]
    return machine, state, task.task_id


HUMAN = {
    "Title": "t",
    "Transitions": [{"Name": "ok", "Requires": [{"Action": "Approve", "By": {"Requester": True}}]}],
}


def test_a_waiting_human_task_gets_its_reminder_run() -> None:
    machine, state, task_id = started(HUMAN_TASK_RESOURCE, HUMAN)
    after, decision = decide(machine, state, ReminderDue(LATER, task_id, 2))
    assert decision.events == []  # no history: the runner's audit line is the record
    (command,) = decision.commands
    assert isinstance(command, RunTask)
    assert (command.resource, command.input) == (
        REMINDER_RESOURCE,
        {"RunTaskId": task_id, "Index": 2},
    )
    assert command.function_name is None and command.token is None
    assert command.task_id not in after.tasks  # owned by no frame: its result changes nothing


def test_a_task_no_longer_waiting_gets_no_reminder() -> None:
    machine, state, task_id = started(HUMAN_TASK_RESOURCE, HUMAN)
    _, decision = decide(machine, state, ReminderDue(LATER, task_id + "x", 0))
    assert decision.commands == []


def test_a_task_that_is_not_a_human_task_gets_no_reminder() -> None:
    resource = "arn:aws:states:::lambda:invoke"
    machine, state, task_id = started(resource, {"FunctionName": "f", "Payload": {}})
    _, decision = decide(machine, state, ReminderDue(LATER, task_id, 0))
    assert decision.commands == []


def test_a_waiting_human_task_gets_its_assignment_notice_run() -> None:
    machine, state, task_id = started(HUMAN_TASK_RESOURCE, HUMAN)
    due = AssignmentNoticeDue(LATER, task_id, "delegate", 1, "ann", 7)
    after, decision = decide(machine, state, due)
    assert decision.events == []
    (command,) = decision.commands
    assert isinstance(command, RunTask)
    assert (command.resource, command.input) == (
        NOTICE_RESOURCE,
        {"RunTaskId": task_id, "Kind": "delegate", "Index": 1, "To": "ann", "Rev": 7},
    )
    assert command.task_id not in after.tasks
    gone = AssignmentNoticeDue(LATER, task_id + "x", "assign", 0, "ann", 1)
    assert decide(machine, state, gone)[1].commands == []  # no longer waiting: no notice


def test_an_assignment_notice_due_survives_the_wire() -> None:
    from stepq.runtime import codec

    due = AssignmentNoticeDue(LATER, "t1", "assign", 3, "gary", 9)
    assert codec.decode_event(codec.encode_event(due)) == due

"""The compiled expense process, run by the pure core with the people simulated:
each human task is answered with a task result (or left to time out), process
activities succeed. What is checked: the route each answer takes, and that the
request's data comes out as it went in, beside the people's results.
"""

from __future__ import annotations

import heapq
import itertools
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from stepq.core.events import (
    CallbackReceived,
    RunTask,
    StartExecution,
    TaskSucceeded,
    TaskTimedOut,
)
from stepq.core.execution import new_execution
from stepq.core.interpreter import decide
from stepq.core.machine import Machine
from stepq.core.people.model import HUMAN_TASK_RESOURCE, PROCESS_ACTIVITIES_RESOURCE

EXAMPLE = Path(__file__).resolve().parents[2] / "state_machine" / "expense_approval.asl.json"
START = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)


def _run(answers: dict[str, str | None], data: dict[str, Any]) -> tuple[Any, list[str], list]:
    """Run to the end. ``answers``: a human task's state -> the transition it completes
    with (an hour after it opens, through the inbox: the only way the core takes a
    human task's completion), or None: nobody acts and it times out."""
    machine = Machine(json.loads(EXAMPLE.read_text()), name="expense_approval")
    state = new_execution(name="e1", state_machine_name=machine.name, start_time=START)
    queue: list[tuple[datetime, int, Any]] = [(START, 0, StartExecution(data, START))]
    order = itertools.count(1)
    entered: list[str] = []
    activities: list[dict[str, Any]] = []
    while queue and not state.done:
        now, _, event = heapq.heappop(queue)
        state, decision = decide(machine, state, event)
        entered += [e.details["name"] for e in decision.events if e.type.endswith("StateEntered")]
        for command in decision.commands:
            if not isinstance(command, RunTask):
                continue
            if command.resource == PROCESS_ACTIVITIES_RESOURCE:
                activities += command.input["Activities"]
                done = {"Done": [a["Type"] for a in command.input["Activities"]]}
                heapq.heappush(queue, (now, next(order), TaskSucceeded(command.task_id, done, now)))
                continue
            assert command.resource == HUMAN_TASK_RESOURCE
            task_state = entered[-1]
            if command.timeout_seconds is not None:
                late = now + timedelta(seconds=command.timeout_seconds)
                heapq.heappush(queue, (late, next(order), TaskTimedOut(command.task_id, late)))
            transition = answers[task_state]
            if transition is not None:
                at = now + timedelta(hours=1)
                result = {"Transition": transition, "TaskId": command.task_id, "State": task_state}
                heapq.heappush(
                    queue,
                    (
                        at,
                        next(order),
                        CallbackReceived(command.token or "", at, result, via_inbox=True),
                    ),
                )
    assert state.done
    return state, entered, activities


EXPENSE = {"expense": {"amount": 500, "what": "train"}}
LARGE = {"expense": {"amount": 5000, "what": "laptop"}}


def test_a_small_expense_needs_only_the_manager() -> None:
    state, entered, activities = _run({"ManagerReview": "to_AmountCheck"}, EXPENSE)
    assert state.status == "SUCCEEDED"
    assert entered == [
        "ManagerReview",
        "ManagerReview.route",
        "AmountCheck",
        "Approved",
        "Approved.end",
    ]
    assert state.output["expense"] == EXPENSE["expense"]  # the request's data, kept
    assert state.output["people"]["ManagerReview"]["Transition"] == "to_AmountCheck"
    assert [a["Subject"] for a in activities if a["Type"] == "Email"][-1] == (
        "Your expense was approved"
    )


def test_a_large_expense_goes_to_finance() -> None:
    answers = {"ManagerReview": "to_AmountCheck", "FinanceReview": "to_Approved"}
    state, entered, _ = _run(answers, LARGE)
    assert state.status == "SUCCEEDED"
    assert entered[2:5] == ["AmountCheck", "FinanceReview", "FinanceReview.route"]
    assert entered[-2:] == ["Approved", "Approved.end"]


def test_finance_silent_for_two_days_escalates_to_the_admins() -> None:
    answers = {"ManagerReview": "to_AmountCheck", "FinanceReview": None, "Escalated": "to_Denied"}
    state, entered, activities = _run(answers, LARGE)
    assert state.status == "SUCCEEDED"
    assert entered[3:] == [
        "FinanceReview",
        "FinanceReview.timeout",
        "Escalated",
        "Escalated.route",
        "Escalated.to_Denied",
        "Denied",
    ]
    assert state.output["people"]["FinanceReview"]["Error"] == "States.Timeout"
    assert state.output["expense"] == LARGE["expense"]
    assert {
        "Type": "Email",
        "To": {"Requester": True},
        "Subject": ("Your expense was denied by the process admins"),
    } in activities


def test_the_requester_cancels() -> None:
    state, entered, _ = _run({"ManagerReview": "to_Cancelled"}, EXPENSE)
    assert state.status == "SUCCEEDED"
    assert entered == ["ManagerReview", "ManagerReview.route", "Cancelled"]

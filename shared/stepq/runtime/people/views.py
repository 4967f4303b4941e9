"""What the inbox shows of a task: TaskSummary and TaskDetail (docs/PEOPLE.md).

Views are built from the task's document, the facts read for this call,
and whether the execution still waits on the task (an OPEN document whose
execution left the task shows as CLOSED). A token is never part of a view.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from stepq.core.people.model import ActionRecord, HumanTaskSpec
from stepq.core.people.rules import Facts, possible_actions, progress
from stepq.runtime.people import attachments
from stepq.runtime.people.documents import CLOSED, OPEN, RequestDoc, TaskDoc


def shown_status(task: TaskDoc, waiting: bool) -> str:
    return CLOSED if task.status == OPEN and not waiting else task.status


def summary(
    task: TaskDoc, spec: HumanTaskSpec, facts: Facts, person: str, status: str
) -> dict[str, Any]:
    view: dict[str, Any] = {
        "taskId": task.task_id,
        "executionArn": task.execution_arn,
        "state": task.state,
        "title": spec.Title,
        "status": status,
        "assignee": task.assignee,
        "createdAt": datetime.fromisoformat(task.created_at),
        "myActions": possible_actions(spec, facts, person) if status == OPEN else [],
    }
    if task.completed_at is not None:
        view["completedAt"] = datetime.fromisoformat(task.completed_at)
    if task.transition is not None:
        view["transition"] = task.transition
    return view


def detail(
    task: TaskDoc,
    spec: HumanTaskSpec,
    facts: Facts,
    person: str,
    status: str,
    request: RequestDoc,
    audit: list[dict[str, Any]],
) -> dict[str, Any]:
    done = task.transition if task.status != OPEN else None
    transitions = progress(spec, task.actions, facts, done)
    if status == CLOSED:  # the execution left it: nothing can be done any more
        transitions = progress(spec, task.actions, facts, "\x00closed")
    return {
        **summary(task, spec, facts, person, status),
        "description": spec.Description,
        "data": spec.Data,
        "requester": request.requester or task.requester,
        "stakeholders": list(request.stakeholders),
        "transitions": [
            {
                "name": t.name,
                "status": t.status,
                "requirements": [
                    {
                        "action": r.action,
                        "target": r.target,
                        "needed": r.needed,
                        "counted": r.counted,
                        "status": r.status,
                    }
                    for r in t.requirements
                ],
            }
            for t in transitions
        ],
        "actions": [action_view(a) for a in task.actions],
        "refused": [
            {"who": r.who, "what": r.what, "reason": r.reason, "at": r.at}
            | ({"onBehalfOf": r.on_behalf_of} if r.on_behalf_of else {})
            for r in task.refused
        ],
        "delegations": [
            {"principal": d.principal, "to": d.to, "by": d.by, "at": d.at}
            for d in task.delegation_log
        ],
        "assignments": [
            {"kind": a.kind, "by": a.by, "to": a.to, "at": a.at} for a in task.assignments
        ],
        "notes": notes(request),
        "attachments": attachments.shown(request.attachments),
        "audit": audit,
    }


def action_view(action: ActionRecord) -> dict[str, Any]:
    """An accepted action as the API shows it (camelCase; the task's result, which a
    Choice reads, keeps the result schema's ``Action``, ``By``, ...)."""
    view: dict[str, Any] = {"action": action.action, "by": action.actor, "at": action.at}
    if action.principal != action.actor:
        view["onBehalfOf"] = action.principal
    if action.comment:
        view["comment"] = action.comment
    return view


def notes(request: RequestDoc) -> list[dict[str, Any]]:
    return [
        {"noteId": n.note_id, "by": n.by, "at": n.at, "text": n.text}
        | ({"taskId": n.task_id} if n.task_id else {})
        for n in request.notes
    ]

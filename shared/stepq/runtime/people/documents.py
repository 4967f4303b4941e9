"""The people documents in the table: a request (``request/<execution ARN>``) and
a human task (``htask/<task id>``).

A task document holds the spec (the resolved Parameters), the facts the
task itself owns (assignee, delegations), every accepted action, refusal,
assignment and delegation, and its status. It never holds the task token:
the runtime derives it again when it completes the task (``completion.py``).
The task id is derived from the execution and the RunTask's task id, so a
redelivered or re-sent RunTask finds the same document; it starts with a
digest of the execution ARN, so a request's tasks share a key prefix.
"""

from __future__ import annotations

import hashlib
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from stepq.core.people.model import ActionRecord, HumanTaskSpec
from stepq.runtime.ports import Doc, Store

REQUEST, HTASK = "request", "htask"
OPEN, COMPLETED, CLOSED = "OPEN", "COMPLETED", "CLOSED"
MAX_REFUSALS = 200  # kept per task, newest last (the audit trail keeps every one)


def request_prefix(execution_arn: str) -> str:
    """The key prefix of every task of one execution."""
    return hashlib.sha256(execution_arn.encode()).hexdigest()[:16]


def task_id_for(execution_arn: str, run_task_id: str) -> str:
    """The human task's id: stable for (execution, the RunTask's task id)."""
    digest = hashlib.sha256(f"{execution_arn}|{run_task_id}".encode()).hexdigest()[:16]
    return f"{request_prefix(execution_arn)}-{digest}"


class _Doc(BaseModel):
    model_config = ConfigDict(extra="ignore")


class Refusal(_Doc):
    who: str
    what: str  # the action, or Claim, Delegate, ...
    reason: str
    at: str
    on_behalf_of: str | None = None


class Delegation(_Doc):
    principal: str  # whose standing is delegated
    to: str  # the delegate (== principal: taken back)
    by: str  # who asked (the principal, their delegate, or an admin)
    at: str


class Assignment(_Doc):
    kind: Literal["Open", "Claim", "Unclaim", "Reassign"]
    by: str | None  # None: the task's spec (Assignee) when it opened
    to: str | None  # None: unassigned
    at: str


class Note(_Doc):
    """A note on the request: by a person (AddNote) or the process (a Note activity)."""

    note_id: str
    by: str
    at: str
    text: str
    task_id: str | None = None


class RequestDoc(BaseModel):
    """``request/<execution ARN>``. Fields it does not name (the process activities'
    ``activitiesDone`` marks, ``runtime/people/activities.py``) are kept as they are."""

    model_config = ConfigDict(extra="allow")

    requester: str | None = None
    stakeholders: list[str] = []
    notes: list[Note] = []
    attachments: list[dict[str, Any]] = []

    def body(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude_none=True) | {"requester": self.requester}


class TaskDoc(_Doc):
    task_id: str
    execution_arn: str
    run_task_id: str  # the core's task id (its token names it)
    state: str
    spec: dict[str, Any]  # the resolved Parameters; HumanTaskSpec parses it
    created_at: str
    requester: str | None = None  # from the request document, when the task opened
    status: Literal["OPEN", "COMPLETED"] = OPEN
    completed_at: str | None = None
    transition: str | None = None
    result: dict[str, Any] | None = None
    assignee: str | None = None
    delegations: dict[str, str] = {}  # principal -> delegate
    delegation_log: list[Delegation] = []
    assignments: list[Assignment] = []
    actions: list[ActionRecord] = []
    refused: list[Refusal] = []
    opened: bool = False  # the opening process activities ran

    def parsed_spec(self) -> HumanTaskSpec:
        return HumanTaskSpec.model_validate(self.spec)

    def body(self) -> dict[str, Any]:
        return self.model_dump(mode="json")

    def refuse(self, refusal: Refusal) -> None:
        self.refused = [*self.refused, refusal][-MAX_REFUSALS:]


def load_task(store: Store, task_id: str) -> tuple[TaskDoc, int] | None:
    """The task and its revision (None: no such task)."""
    doc = store.get_doc(HTASK, task_id)
    return None if doc is None else (TaskDoc.model_validate(doc.body), doc.rev)


def load_request(store: Store, execution_arn: str) -> tuple[RequestDoc, int | None]:
    """The request document and its revision (an empty one, revision None, when absent:
    an execution started without CreateRequest is a request without a requester)."""
    doc = store.get_doc(REQUEST, execution_arn)
    return (RequestDoc(), None) if doc is None else (RequestDoc.model_validate(doc.body), doc.rev)


def tasks_of(store: Store, execution_arn: str) -> list[TaskDoc]:
    """Every human task of one execution, oldest id first."""
    found = [_task(d) for d in store.list_docs(HTASK, request_prefix(execution_arn) + "-")]
    return [t for t in found if t.execution_arn == execution_arn]


def all_tasks(store: Store) -> list[TaskDoc]:
    """Every human task (a scan: only the inbox index's one-time fill, inbox.py)."""
    return [_task(d) for d in store.list_docs(HTASK)]


def _task(doc: Doc) -> TaskDoc:
    return TaskDoc.model_validate(doc.body)

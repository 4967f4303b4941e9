"""The inbox index: which tasks ``ListMyTasks`` reads for a person (docs/PEOPLE.md).

One ``inbox`` document per (owner, task or request), no body to speak of. An
owner is a person (``p:tom``) or a group (``g:Executives``). The index only
narrows: ``ListMyTasks`` still decides each candidate with the rules, so an
entry too many costs a read, never a wrong answer; an entry missing would
hide a task, so every entry is written BEFORE the document change it stands
for (a crash in between leaves an entry with nothing behind it, skipped).

- ``<owner>|open|t:<task id>``: a task of a Group or Admins target (under the
  group: membership is read when the inbox is, and may change), a Person
  target, its assignee, anyone it was assigned or delegated to.
- ``<owner>|open|r:<execution ARN>``: a request's requester and stakeholders
  (they change on the request document, and cover every task of it).

``open`` entries move to ``done`` (done entry put, then open entry deleted:
idempotent) when a read finds the task no longer OPEN or the request's
execution finished, so listing OPEN tasks reads what is open plus what
closed since the last read; ``ALL`` reads both. Tables from before the index
are filled once (``ensure_built``) from a scan, marked by ``MARKER``.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import quote

from stepq.core.people.model import HumanTaskSpec
from stepq.errors import AlreadyExistsError, NotFoundError
from stepq.runtime.people.directory import Directory
from stepq.runtime.people.documents import (
    OPEN,
    REQUEST,
    RequestDoc,
    TaskDoc,
    all_tasks,
    load_task,
    tasks_of,
)
from stepq.runtime.ports import Store

INBOX = "inbox"
MARKER = "built"  # present: every task and request is indexed
OPEN_AREA, DONE_AREA = "open", "done"
_LONGEST = 200  # longer names are hashed (DynamoDB sort keys hold 1024 bytes)


def _name(name: str) -> str:
    quoted = quote(name, safe="@._-+:/ ")  # no '|' left: owners cannot run together
    return quoted if len(quoted) <= _LONGEST else "#" + hashlib.sha256(name.encode()).hexdigest()


def person_owner(person: str) -> str:
    return f"p:{_name(person)}"


def group_owner(group: str) -> str:
    return f"g:{_name(group)}"


@dataclass(frozen=True)
class Entry:
    key: str
    owner: str
    area: str  # OPEN_AREA or DONE_AREA
    task_id: str | None  # a task entry
    execution_arn: str  # the task's or the request's


def people_of(task: TaskDoc) -> set[str]:
    """The people a task names itself: assignee, anyone assigned, delegates."""
    named = {task.assignee, *task.delegations.values(), *(a.to for a in task.assignments)}
    return {p for p in named if p is not None}


def owners_of(task: TaskDoc, spec: HumanTaskSpec) -> set[str]:
    """Every owner whose inbox the task belongs in, the request's people aside."""
    found = {person_owner(p) for p in people_of(task)}
    if spec.Assignee:
        found.add(person_owner(spec.Assignee))
    for transition in spec.Transitions:
        for requirement in transition.Requires:
            target = requirement.By
            if target.Group is not None:
                found.add(group_owner(target.Group))
            elif target.Admins:
                found.add(group_owner(spec.Admins))
            elif target.Person is not None:
                found.add(person_owner(target.Person))
    return found


def _put(store: Store, key: str, body: dict[str, str]) -> None:
    with contextlib.suppress(AlreadyExistsError):  # written before: the same entry
        store.put_doc(INBOX, key, body, None)


def add_task(store: Store, task: TaskDoc, owners: Iterable[str], area: str = OPEN_AREA) -> None:
    """Entries for ``task`` under ``owners`` (before the task document is written)."""
    body = {"taskId": task.task_id, "executionArn": task.execution_arn}
    for owner in sorted(set(owners)):
        _put(store, f"{owner}|{area}|t:{task.task_id}", body)


def add_request(
    store: Store, execution_arn: str, people: Iterable[str | None], area: str = OPEN_AREA
) -> None:
    """Entries for the request under its requester or stakeholders ``people``
    (before the request document names them)."""
    body = {"executionArn": execution_arn}
    for person in sorted({p for p in people if p is not None}):
        _put(store, f"{person_owner(person)}|{area}|r:{_name(execution_arn)}", body)


def entries(store: Store, owners: Iterable[str], areas: Iterable[str]) -> list[Entry]:
    """The entries of ``owners`` in ``areas``: one query of a key prefix each."""
    found = []
    for owner in sorted(set(owners)):
        for area in areas:
            for doc in store.list_docs(INBOX, f"{owner}|{area}|"):
                ref = doc.key[len(owner) + len(area) + 2 :]
                task_id = ref[2:] if ref.startswith("t:") else None
                found.append(Entry(doc.key, owner, area, task_id, doc.body["executionArn"]))
    return found


def retire(store: Store, *entries: Entry) -> None:
    """Move open entries to done: their task or request is over (idempotent)."""
    for entry in entries:
        if entry.area != OPEN_AREA:
            continue
        ref = entry.key[len(entry.owner) + len(OPEN_AREA) + 2 :]
        body = {"executionArn": entry.execution_arn}
        if entry.task_id is not None:
            body["taskId"] = entry.task_id
        _put(store, f"{entry.owner}|{DONE_AREA}|{ref}", body)
        with contextlib.suppress(NotFoundError):  # another reader moved it
            store.delete_doc(INBOX, entry.key)


def candidates(
    store: Store, directory: Directory, person: str, status: str
) -> list[tuple[TaskDoc, list[Entry]]]:
    """The tasks the index names for ``person`` (``status`` OPEN: the open area;
    else both): theirs, their groups' now, their requests'; each with the task
    entries that named it (to retire). The rules decide which are theirs."""
    ensure_built(store)
    owners = [person_owner(person), *(group_owner(g) for g in directory.groups_of(person))]
    areas = [OPEN_AREA] if status == OPEN else [OPEN_AREA, DONE_AREA]
    named: dict[str, list[Entry]] = {}
    found: dict[str, TaskDoc] = {}
    for entry in entries(store, owners, areas):
        if entry.task_id is not None:
            named.setdefault(entry.task_id, []).append(entry)
            continue
        found.update((t.task_id, t) for t in tasks_of(store, entry.execution_arn))  # one query
        if entry.area == OPEN_AREA and _finished(store, entry.execution_arn):
            retire(store, entry)
    for task_id in sorted(named.keys() - found.keys()):
        loaded = load_task(store, task_id)
        if loaded is not None:
            found[task_id] = loaded[0]
            continue
        left = [e for e in named[task_id] if e.area == OPEN_AREA]
        if left and _finished(store, left[0].execution_arn, missing=True):
            retire(store, *left)  # its task was never written: a crash, or gone
        # else: written, the task not yet (an opening in flight): skipped, kept
    return [(task, named.get(task_id, [])) for task_id, task in found.items()]


def _finished(store: Store, execution_arn: str, missing: bool = False) -> bool:
    """The execution ended, so every task of it is over (``missing``: what an
    execution that does not exist counts as)."""
    try:
        return store.get_execution(execution_arn).status != "RUNNING"
    except NotFoundError:  # a request's: not started yet (CreateRequest writes entries first)
        return missing


def ensure_built(store: Store) -> None:
    """Index a table's tasks and requests from before the index, once: a scan of
    both, then the marker (a crash before it: the next read scans again)."""
    if store.get_doc(INBOX, MARKER) is not None:
        return
    for task in all_tasks(store):
        area = OPEN_AREA if task.status == OPEN else DONE_AREA
        add_task(store, task, owners_of(task, task.parsed_spec()), area)
    for doc in store.list_docs(REQUEST):
        request = RequestDoc.model_validate(doc.body)
        add_request(store, doc.key, [request.requester, *request.stakeholders])
    _put(store, MARKER, {"executionArn": ""})

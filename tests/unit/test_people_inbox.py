"""ListMyTasks through the inbox index (``runtime/people/inbox.py``), on the memory
store and on moto's DynamoDB: it reads only the tasks the index names, and what
it shows is what the rules decide (groups read now, delegations, reassignment,
an entry whose task write was lost).

Reads are counted by a thin wrapper around the runtime's real store: every
human-task document it returns is noted.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from stepq.core import events as ev
from stepq.core.people.model import HUMAN_TASK_RESOURCE
from stepq.hosting.embedded import EmbeddedRuntime
from stepq.runtime.open_tasks import waiting_state
from stepq.runtime.people import inbox
from stepq.runtime.people.directory import Directory
from stepq.runtime.people.documents import HTASK, load_task, task_id_for
from stepq.runtime.people.runner import PeopleRunner
from stepq.runtime.people.service import PeopleService
from stepq.runtime.ports import Doc, Store
from stepq.runtime.signing import keys_of

ACCOUNT = "arn:aws:states:us-east-1:111111111111:execution"


class CountingStore:
    """The real store, noting the key of every human-task document read."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self.tasks_read: list[str] = []
        self.scans = 0  # list_docs of every human task

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)

    def get_doc(self, kind: str, key: str) -> Doc | None:
        doc = self._store.get_doc(kind, key)
        if kind == HTASK and doc is not None:
            self.tasks_read.append(key)
        return doc

    def list_docs(self, kind: str, prefix: str = "") -> list[Doc]:
        docs = self._store.list_docs(kind, prefix)
        if kind == HTASK:
            self.scans += not prefix
            self.tasks_read.extend(d.key for d in docs)
        return docs


def task_state(transitions: list[dict[str, Any]], **more: Any) -> dict[str, Any]:
    parameters = {"Title": "Approve", "Transitions": transitions, **more}
    state = {"Type": "Task", "Resource": HUMAN_TASK_RESOURCE, "Parameters": parameters}
    return {"StartAt": "A", "States": {"A": {**state, "End": True}}}


def approve_by(target: dict[str, Any], **more: Any) -> dict[str, Any]:
    return task_state([{"Name": "ok", "Requires": [{"Action": "Approve", "By": target}]}], **more)


@pytest.fixture(params=["memory", "moto"])
def runtime(request: pytest.FixtureRequest) -> Iterator[EmbeddedRuntime]:
    rt = EmbeddedRuntime({}, backend=request.param)
    directory = Directory(rt.store)
    directory.create("Executives", ["tom", "gary"])
    directory.create("Finance", ["fran"])
    directory.create("Auditors", [])
    ids(rt, "nobody")  # the index of the empty table: every entry after is a live write
    yield rt
    rt.close()


def service(rt: EmbeddedRuntime, store: Any = None) -> PeopleService:
    return PeopleService(store or rt.store, rt.queues, rt.clock)


def start(rt: EmbeddedRuntime, machine: str, name: str, requester: str = "jane") -> str:
    """A request of ``machine`` by ``requester``; its one open task's id."""
    arn = f"{ACCOUNT}:{machine}:{name}"
    service(rt).create_request(requester, arn, [], lambda: rt.start(machine, {}, name))
    rt.run_until_idle()
    state = waiting_state(rt.store, keys_of(rt.queues, rt.store), arn)
    assert state is not None and len(state.tasks) == 1
    return task_id_for(arn, next(iter(state.tasks)))


def ids(rt: EmbeddedRuntime, person: str, status: str = "OPEN") -> list[str]:
    return [t["taskId"] for t in service(rt).my_tasks(person, status)]


def test_my_tasks_reads_only_the_candidates(runtime: EmbeddedRuntime) -> None:
    runtime.deploy("fin", approve_by({"Group": "Finance"}))
    runtime.deploy("exec", approve_by({"Group": "Executives"}))
    runtime.deploy("named", approve_by({"Person": "tom"}))
    others = [start(runtime, "fin", f"f{i}", requester=f"r{i}") for i in range(8)]
    mine = [start(runtime, "exec", "e1"), start(runtime, "named", "n1", requester="sue")]
    counting = CountingStore(runtime.store)
    shown = [t["taskId"] for t in service(runtime, counting).my_tasks("tom")]
    assert sorted(shown) == sorted(mine)
    assert counting.scans == 0
    assert sorted(counting.tasks_read) == sorted(mine)  # each candidate once, no other
    counting.tasks_read.clear()
    shown = [t["taskId"] for t in service(runtime, counting).my_tasks("fran")]
    assert sorted(shown) == sorted(counting.tasks_read) == sorted(others)


def test_a_group_is_read_when_the_inbox_is(runtime: EmbeddedRuntime) -> None:
    runtime.deploy("audit", approve_by({"Group": "Auditors"}))
    task_id = start(runtime, "audit", "a1")
    directory = Directory(runtime.store)
    assert ids(runtime, "ann") == []
    directory.change("Auditors", add=["ann"])
    assert ids(runtime, "ann") == [task_id]
    directory.change("Auditors", remove=["ann"])
    assert ids(runtime, "ann") == []


def test_delegate_and_reassign_move_the_task(runtime: EmbeddedRuntime) -> None:
    runtime.deploy("exec", approve_by({"Group": "Executives"}))
    runtime.deploy("own", approve_by({"Assignee": True}, Assignee="tom"))
    delegated, assigned = start(runtime, "exec", "e1"), start(runtime, "own", "o1")
    svc = service(runtime)
    assert ids(runtime, "dana") == [] and ids(runtime, "ria") == []

    svc.delegate("gary", delegated, "dana")
    assert ids(runtime, "dana") == [delegated]
    assert svc.act("dana", delegated, "Approve", on_behalf_of="gary")["status"] == "COMPLETED"
    runtime.run_until_idle()
    assert ids(runtime, "dana") == []
    assert ids(runtime, "dana", "ALL") == [delegated]  # completed: still listed under ALL

    assert ids(runtime, "tom") == [assigned]
    svc.reassign("tom", assigned, "ria")
    assert ids(runtime, "ria") == [assigned]
    assert ids(runtime, "tom") == []


def test_an_entry_whose_task_write_was_lost_shows_nothing(runtime: EmbeddedRuntime) -> None:
    """A crash between the entry and the task: no error, nothing shown; the
    redelivered RunTask writes the task, and it is there."""
    runtime.deploy("exec", approve_by({"Group": "Executives"}))
    task_id = start(runtime, "exec", "e1")
    found = load_task(runtime.store, task_id)
    assert found is not None
    task, _ = found
    runtime.store.delete_doc(HTASK, task_id)  # as if its write never happened
    owner = inbox.group_owner("Executives")
    assert [e.task_id for e in inbox.entries(runtime.store, [owner], ["open"])] == [task_id]

    assert ids(runtime, "tom") == [] and ids(runtime, "tom", "ALL") == []
    # Kept (its execution still runs: the opening may be in flight)...
    assert [e.task_id for e in inbox.entries(runtime.store, [owner], ["open"])] == [task_id]
    # ... and the redelivered RunTask writes the task again.
    runner = PeopleRunner(runtime.store, runtime.queues, runtime.clock)
    command = ev.RunTask(
        task_id=task.run_task_id,
        resource=HUMAN_TASK_RESOURCE,
        function_name=None,
        input=task.spec,
        attempt=1,
        idempotency_key="again",
    )
    runner.open(task.execution_arn, command)
    assert ids(runtime, "tom") == [task_id]


def test_stakeholders_added_by_the_process_see_their_task(runtime: EmbeddedRuntime) -> None:
    adding = [{"Type": "AddStakeholders", "People": ["sam"]}]
    runtime.deploy("st", approve_by({"Stakeholders": True}, Activities=adding))
    task_id = start(runtime, "st", "s1")
    assert ids(runtime, "sam") == [task_id]
    assert ids(runtime, "jane") == []  # the requester's entry names it; not her task


def test_closed_tasks_leave_the_open_area(runtime: EmbeddedRuntime) -> None:
    runtime.deploy("exec", approve_by({"Group": "Executives"}))
    task_id = start(runtime, "exec", "e1")
    service(runtime).act("gary", task_id, "Approve")
    runtime.run_until_idle()
    owner = inbox.group_owner("Executives")
    assert ids(runtime, "tom") == []  # the read that sees it over moves its entry
    assert inbox.entries(runtime.store, [owner], ["open"]) == []
    done = inbox.entries(runtime.store, [owner], ["done"])
    assert [e.task_id for e in done] == [task_id]
    assert ids(runtime, "tom", "ALL") == [task_id]


def test_an_entry_without_its_task_leaves_once_the_execution_ended(
    runtime: EmbeddedRuntime,
) -> None:
    runtime.deploy("exec", approve_by({"Group": "Executives"}))
    task_id = start(runtime, "exec", "e1")
    service(runtime).act("gary", task_id, "Approve")
    runtime.run_until_idle()
    runtime.store.delete_doc(HTASK, task_id)  # an entry with no task, its execution over
    owner = inbox.group_owner("Executives")
    assert ids(runtime, "tom") == []
    assert inbox.entries(runtime.store, [owner], ["open"]) == []
    assert [e.task_id for e in inbox.entries(runtime.store, [owner], ["done"])] == [task_id]


def test_a_table_from_before_the_index_is_filled_once(runtime: EmbeddedRuntime) -> None:
    runtime.deploy("exec", approve_by({"Group": "Executives"}))
    task_id = start(runtime, "exec", "e1")
    for doc in runtime.store.list_docs(inbox.INBOX):  # no index yet, nor its marker
        runtime.store.delete_doc(inbox.INBOX, doc.key)
    assert ids(runtime, "tom") == [task_id]
    assert ids(runtime, "jane", "ALL") == []  # her request's entry: the task is not hers
    assert runtime.store.get_doc(inbox.INBOX, inbox.MARKER) is not None

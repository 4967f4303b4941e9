"""``renewal.execution_docs`` finds every document of one execution, and no other's
(a name that extends another's, ``r1`` and ``r10``, included); the kinds it finds
are the ones that expire (``retention.EXECUTION_DOC_KINDS``) and the modules' own."""

from __future__ import annotations

from stepq.api.arns import Arns
from stepq.api.redrive import REDRIVE_DOC
from stepq.backends.memory.store import MemoryStore
from stepq.runtime import renewal
from stepq.runtime.people.activities import MARKS
from stepq.runtime.people.documents import HTASK, REQUEST, task_id_for
from stepq.runtime.retention import EXECUTION_DOC_KINDS

ARNS = Arns("us-east-1", "111111111111")


def _write_all(store: MemoryStore, name: str) -> list[tuple[str, str]]:
    arn = ARNS.execution("m", name)
    docs = [
        (REQUEST, arn),
        (MARKS, arn),
        (renewal.STARTED, arn),
        (HTASK, task_id_for(arn, "t-1")),
        (HTASK, task_id_for(arn, "t-2")),
        (REDRIVE_DOC, f"{arn}|token"),
        (renewal.MAP_RUN, ARNS.map_run("m", name, "label")),
    ]
    for kind, key in docs:
        store.put_doc(kind, key, {}, None)
    return docs


def test_the_documents_of_one_execution_and_no_other() -> None:
    store = MemoryStore()
    mine = _write_all(store, "r1")
    _write_all(store, "r10")
    found = renewal.execution_docs(store, ARNS.execution("m", "r1"))
    assert sorted(found) == sorted(mine)
    assert {kind for kind, _ in found} == EXECUTION_DOC_KINDS


def test_named_documents_are_listed_even_before_they_exist() -> None:
    arn = ARNS.execution("m", "r2")
    assert renewal.execution_docs(MemoryStore(), arn) == [
        (REQUEST, arn),
        (MARKS, arn),
        (renewal.STARTED, arn),
    ]

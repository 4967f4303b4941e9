"""Retention of an execution's documents on every ``Store`` backend: a document of
an execution's kind (``retention.EXECUTION_DOC_KINDS``) carries the table's TTL
attribute from its write, reads as absent once expired, is created over then,
and ``renew_doc`` keeps it while its execution runs. Catalog documents never
expire. Time is skipped with a ``ManualClock``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from stepq.backends.memory.store import MemoryStore
from stepq.clock import ManualClock
from stepq.errors import ConflictError, NotFoundError
from stepq.runtime.ports import Store
from stepq.runtime.retention import CLOCK_SKEW, EXECUTION_DOC_KINDS, SLACK, epoch

R = 90  # days
RW = timedelta(days=R) + SLACK
T0 = datetime(2026, 1, 1, tzinfo=UTC)
ARN = "arn:aws:states:us-east-1:123456789012:execution:kept:r1"


def _raw_expiry(backend: Any, store: Any, kind: str, key: str) -> int | None:
    """The stored expires_at of a document, as the backend holds it."""
    if isinstance(store, MemoryStore):
        return store._doc_expiry.get((kind, key))
    item = backend.client.get_item(
        TableName=store._table, Key={"pk": {"S": f"DOC#{kind}"}, "sk": {"S": key}}
    ).get("Item")
    assert item is not None, "the item is still in the table (TTL deletes late)"
    return int(item["expires_at"]["N"]) if "expires_at" in item else None


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(T0)


@pytest.fixture
def kept(store_factory: Callable[..., Store], clock: ManualClock) -> Store:
    return store_factory(clock=clock, retention_days=R)


@pytest.mark.parametrize("kind", sorted(EXECUTION_DOC_KINDS))
def test_an_execution_document_expires_r_plus_w_after_its_write(
    backend: Any, kept: Store, clock: ManualClock, kind: str
) -> None:
    kept.put_doc(kind, ARN, {"n": 1}, None)
    assert _raw_expiry(backend, kept, kind, ARN) == epoch(T0 + CLOCK_SKEW + RW)
    clock.set(T0 + timedelta(days=10))
    assert kept.put_doc(kind, ARN, {"n": 2}, 1) == 2  # every write stamps it again
    written = clock.now()
    assert _raw_expiry(backend, kept, kind, ARN) == epoch(written + CLOCK_SKEW + RW)

    clock.set(written + CLOCK_SKEW + RW - timedelta(seconds=1))
    doc = kept.get_doc(kind, ARN)
    assert doc is not None and doc.body == {"n": 2}
    assert [d.key for d in kept.list_docs(kind, ARN[:20])] == [ARN]

    clock.set(written + CLOCK_SKEW + RW + timedelta(seconds=1))
    assert kept.get_doc(kind, ARN) is None
    assert kept.list_docs(kind) == []
    with pytest.raises(ConflictError):
        kept.put_doc(kind, ARN, {"n": 3}, 2)  # it is gone: not replaced
    with pytest.raises(NotFoundError):
        kept.delete_doc(kind, ARN)
    assert kept.put_doc(kind, ARN, {"n": 9}, None) == 1  # a reused name creates it again
    doc = kept.get_doc(kind, ARN)
    assert doc is not None and (doc.body, doc.rev) == ({"n": 9}, 1)


@pytest.mark.parametrize("kind", ["machine", "group", "person", "version", "alias"])
def test_a_catalog_document_never_expires(
    backend: Any, kept: Store, clock: ManualClock, kind: str
) -> None:
    kept.put_doc(kind, "x", {"n": 1}, None)
    assert _raw_expiry(backend, kept, kind, "x") is None
    clock.set(T0 + 10 * RW)
    doc = kept.get_doc(kind, "x")
    assert doc is not None and doc.body == {"n": 1}


def test_without_retention_nothing_is_stamped(
    backend: Any, store_factory: Callable[..., Store], clock: ManualClock
) -> None:
    store = store_factory(clock=clock)
    store.put_doc("request", ARN, {}, None)
    assert _raw_expiry(backend, store, "request", ARN) is None
    assert store.renew_doc("request", ARN, clock.now()) is False
    clock.set(T0 + 10 * RW)
    assert store.get_doc("request", ARN) is not None


def test_renew_doc_raises_a_due_expiry_only(backend: Any, kept: Store, clock: ManualClock) -> None:
    kept.put_doc("htask", "abc-1", {}, None)
    first = _raw_expiry(backend, kept, "htask", "abc-1")
    assert kept.renew_doc("htask", "abc-1", clock.now()) is False  # not due: R + W away
    assert kept.renew_doc("htask", "absent", clock.now()) is False
    clock.set(T0 + SLACK / 2 + timedelta(days=1))  # within R + W/2 of expiring: due
    observed = clock.now()
    assert kept.renew_doc("htask", "abc-1", observed) is True
    renewed = _raw_expiry(backend, kept, "htask", "abc-1")
    assert first is not None and renewed == epoch(observed - CLOCK_SKEW + RW) > first
    assert kept.renew_doc("htask", "abc-1", observed) is False  # done: not due again
    clock.set(datetime.fromtimestamp(renewed, UTC) + timedelta(seconds=1))
    assert kept.renew_doc("htask", "abc-1", clock.now()) is False  # expired: never revived
    assert kept.get_doc("htask", "abc-1") is None

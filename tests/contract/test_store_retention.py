"""Retention on every ``Store`` backend: commits expire R + W after they are written
(the final one last), readers treat expired items as absent, and the renewal keeps
a running execution alive (``stepq.runtime.retention``, ``runtime.renewal``).

Time is skipped with a ``ManualClock``. DynamoDB's TTL deletes expired items late
and in any order; ``_ttl_deletes`` plays it (every expired item, at once).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from stepq.backends.memory.store import MemoryStore
from stepq.clock import ManualClock
from stepq.errors import ConflictError, ExecutionAlreadyExistsError, NotFoundError
from stepq.runtime.ports import Commit, ExecutionHeader, Store
from stepq.runtime.renewal import Renewal
from stepq.runtime.retention import SLACK, epoch

MACHINE = "arn:aws:states:us-east-1:123456789012:stateMachine:kept"
R = 90  # days
DAY = timedelta(days=1)
RW = timedelta(days=R) + SLACK
T0 = datetime(2026, 1, 1, tzinfo=UTC)


def _header(name: str, **kw: Any) -> ExecutionHeader:
    return ExecutionHeader(
        execution_id=MACHINE.replace(":stateMachine:", ":execution:") + f":{name}",
        machine=MACHINE,
        machine_version=1,
        name=name,
        status=kw.pop("status", "RUNNING"),
        start_time=kw.pop("start_time", T0.isoformat()),
        input=kw.pop("input", {"n": 1}),
        **kw,
    )


def _commit(seq: int, at: datetime, **kw: Any) -> Commit:
    return Commit(
        seq=seq,
        snapshot={"seq": seq},
        events=kw.pop("events", [{"id": seq, "type": f"Event{seq}"}]),
        commands=[],
        cause_id=f"cause-{seq}",
        at=at.isoformat(),
        **kw,
    )


def _finish(store: Store, clock: ManualClock, name: str, seq: int) -> ExecutionHeader:
    """Write the final commit ``seq`` of ``name`` now."""
    end = clock.now()
    done = _header(name, status="SUCCEEDED", stop_time=end.isoformat(), output=[1])
    done.input = None
    store.append(done.execution_id, _commit(seq, end, status="SUCCEEDED", outcome=done))
    return done


def _run(store: Store, clock: ManualClock, name: str, gaps: list[timedelta]) -> ExecutionHeader:
    """An execution with one commit per gap (the first at once), then its final commit."""
    header = _header(name)
    store.create_execution(header, _commit(1, clock.now()))
    for seq, gap in enumerate(gaps[1:], start=2):
        clock.advance(gap.total_seconds())
        store.append(header.execution_id, _commit(seq, clock.now()))
    clock.advance(gaps[0].total_seconds())
    return _finish(store, clock, name, len(gaps) + 1)


def _raw_expiries(backend: Any, store: Any, execution_id: str) -> dict[int, int | None]:
    """seq -> the stored expires_at, as the backend holds it."""
    if isinstance(store, MemoryStore):
        commits = store._commits[execution_id]
        return {seq: store._expiry.get((execution_id, seq)) for seq in sorted(commits)}
    items = backend.client.query(
        TableName=store._table,
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": f"EX#{execution_id}"}},
    )["Items"]
    return {
        int(i["sk"]["S"][2:]): (int(i["expires_at"]["N"]) if "expires_at" in i else None)
        for i in items
    }


def _ttl_deletes(backend: Any, store: Any, now: datetime) -> int:
    """Delete every expired commit, as DynamoDB's TTL eventually does; how many."""
    gone = 0
    if isinstance(store, MemoryStore):
        for (eid, seq), expires in list(store._expiry.items()):
            if expires <= now.timestamp():
                store._commits[eid].pop(seq, None)
                del store._expiry[(eid, seq)]
                gone += 1
        return gone
    for item in backend.client.scan(TableName=store._table)["Items"]:
        if "expires_at" in item and int(item["expires_at"]["N"]) <= now.timestamp():
            key = {"pk": item["pk"], "sk": item["sk"]}
            backend.client.delete_item(TableName=store._table, Key=key)
            gone += 1
    return gone


def _ttl_deletes_only(backend: Any, store: Any, execution_id: str, seqs: list[int]) -> None:
    """Delete these commits, as DynamoDB's TTL does first (it deletes in any order)."""
    for seq in seqs:
        if isinstance(store, MemoryStore):
            del store._commits[execution_id][seq], store._expiry[(execution_id, seq)]
        else:
            key = {"pk": {"S": f"EX#{execution_id}"}, "sk": {"S": f"C#{seq:010d}"}}
            backend.client.delete_item(TableName=store._table, Key=key)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(T0)


@pytest.fixture
def kept(store_factory: Callable[..., Store], clock: ManualClock) -> Store:
    store = store_factory(clock=clock, retention_days=R)
    store.put_machine(MACHINE, {"StartAt": "A"})  # list_machines names it (the renewal walks it)
    return store


def test_a_finished_execution_is_kept_for_r_then_gone_everywhere(
    backend: Any, kept: Store, clock: ManualClock
) -> None:
    done = _run(kept, clock, "fin", [timedelta(hours=1), timedelta(minutes=5)])
    eid, end = done.execution_id, clock.now()
    expiries = _raw_expiries(backend, kept, eid)
    assert expiries[3] == epoch(end + RW)  # the final commit: end + R + W
    assert expiries[1] == epoch(T0 + RW) and expiries[1] < expiries[2] < expiries[3]

    clock.set(end + timedelta(days=R) - DAY)
    assert kept.get_execution(eid).status == "SUCCEEDED"
    assert kept.describe(eid)[1].seq == 3
    assert [h.name for h in kept.list_executions(MACHINE)] == ["fin"]
    assert [h.name for h in kept.list_executions(MACHINE, "SUCCEEDED")] == ["fin"]
    assert [e["id"] for e in kept.history(eid)] == [1, 2, 3]
    assert kept.commit(eid, 1).seq == 1

    clock.set(end + RW + timedelta(seconds=1))
    for read in (kept.get_execution, kept.describe, kept.latest, kept.history):
        with pytest.raises(NotFoundError):
            read(eid)
    for seq in (1, 3):
        with pytest.raises(NotFoundError):
            kept.commit(eid, seq)
    assert kept.recent(eid, 5) == [] and list(kept.commit_range(eid, 1, 3)) == []
    assert kept.list_executions(MACHINE) == []
    assert kept.list_executions(MACHINE, "SUCCEEDED") == []


def test_an_execution_is_gone_once_its_first_commit_has_expired(
    backend: Any, kept: Store, clock: ManualClock
) -> None:
    """A long run's first commit expires before its final one: from then on it is gone
    everywhere at once, even while the final commit (in the status index) remains."""
    done = _run(kept, clock, "long", [DAY, 10 * DAY])  # ran 11 days, renewed never
    clock.set(T0 + RW + timedelta(seconds=1))
    assert _raw_expiries(backend, kept, done.execution_id)[3] > clock.now().timestamp()
    with pytest.raises(NotFoundError):
        kept.get_execution(done.execution_id)
    with pytest.raises(NotFoundError):
        kept.history(done.execution_id)
    assert kept.list_executions(MACHINE) == []
    assert kept.list_executions(MACHINE, "SUCCEEDED") == []


def test_ttl_deleting_in_any_order_never_shows_a_finished_execution_running(
    backend: Any, kept: Store, clock: ManualClock
) -> None:
    """The final commit expires last: whatever TTL has deleted, a reader sees the
    execution finished or not at all, never its last remaining commit as RUNNING."""
    done = _run(kept, clock, "order", [DAY, 3 * DAY, 5 * DAY])
    expiries = _raw_expiries(backend, kept, done.execution_id)
    assert expiries[4] == max(expiries.values())
    instants = sorted({e + d for e in expiries.values() if e is not None for d in (-1, 0, 1)})
    for at in instants:
        clock.set(datetime.fromtimestamp(at, UTC))
        _ttl_deletes(backend, kept, clock.now())
        try:
            assert kept.get_execution(done.execution_id).status == "SUCCEEDED"
            assert kept.latest(done.execution_id).status == "SUCCEEDED"
        except NotFoundError:
            pass
        assert all(h.status != "RUNNING" for h in kept.list_executions(MACHINE))
    with pytest.raises(NotFoundError):
        kept.get_execution(done.execution_id)


def test_a_long_running_execution_is_renewed_and_finishes_whole(
    backend: Any, kept: Store, clock: ManualClock
) -> None:
    header = _header("waits")  # waits on a callback for longer than R + W
    eid = header.execution_id
    kept.create_execution(header, _commit(1, clock.now()))
    clock.advance(DAY.total_seconds())
    kept.append(eid, _commit(2, clock.now()))
    renewal, renewed_on = Renewal(kept, clock), []
    for day in range(2, R + 45):
        clock.set(T0 + day * DAY)
        report = renewal.run()
        if report is not None and report.renewed:
            renewed_on.append(day)
        _ttl_deletes(backend, kept, clock.now())
        assert kept.get_execution(eid).status == "RUNNING", day
    assert clock.now() > T0 + RW + DAY  # past the first commit's written expiry
    assert renewed_on[0] == 16 and all(b - a == 15 for a, b in itertools.pairwise(renewed_on))
    assert all(
        e >= epoch(clock.now() + timedelta(days=R))
        for e in _raw_expiries(backend, kept, eid).values()
    )
    _finish(kept, clock, "waits", 3)
    assert kept.get_execution(eid).status == "SUCCEEDED"
    assert [e["id"] for e in kept.history(eid)] == [1, 2, 3]


def test_a_renewal_that_saw_running_never_outlives_the_final_commit(
    backend: Any, kept: Store, clock: ManualClock
) -> None:
    header = _header("race")
    eid = header.execution_id
    kept.create_execution(header, _commit(1, clock.now()))
    clock.set(T0 + 20 * DAY)  # due for renewal
    observed = clock.now()
    assert [h.name for h in kept.list_executions(MACHINE, "RUNNING")] == ["race"]
    clock.advance(3600)
    _finish(kept, clock, "race", 2)  # the final commit lands between the read and the stamps
    clock.advance(3600)
    assert kept.renew_expiry(eid, observed)
    expiries = _raw_expiries(backend, kept, eid)
    assert expiries[1] > epoch(T0 + RW)  # renewed...
    assert expiries[1] <= expiries[2] == epoch(T0 + 20 * DAY + timedelta(hours=1) + RW)
    assert not kept.renew_expiry(eid, clock.now())  # ... once: commit 1 is fresh again


def test_an_expired_execution_is_never_renewed(kept: Store, clock: ManualClock) -> None:
    header = _header("late")
    kept.create_execution(header, _commit(1, clock.now()))
    clock.set(T0 + RW)
    assert not kept.renew_expiry(header.execution_id, clock.now())
    with pytest.raises(NotFoundError):
        kept.get_execution(header.execution_id)


def test_without_retention_nothing_expires(
    backend: Any, store_factory: Callable[..., Store], clock: ManualClock
) -> None:
    store = store_factory(clock=clock)
    done = _run(store, clock, "forever", [DAY])
    assert set(_raw_expiries(backend, store, done.execution_id).values()) == {None}
    clock.set(T0 + 10 * RW)
    assert store.get_execution(done.execution_id).status == "SUCCEEDED"
    assert [h.name for h in store.list_executions(MACHINE, "SUCCEEDED")] == ["forever"]
    assert not store.renew_expiry(done.execution_id, clock.now())
    assert Renewal(store, clock).run() is None


@pytest.mark.parametrize(
    "deleted", [[], [1], [8], list(range(1, 8))], ids=["all", "no-first", "no-final", "only-final"]
)
def test_a_name_is_reused_once_its_old_execution_has_expired(
    backend: Any, kept: Store, clock: ManualClock, deleted: list[int]
) -> None:
    """Step Functions frees a name once its execution is gone. TTL deletes the old
    commits days late and in any order: a new start overwrites the expired ones in
    its slots, and readers read past those still above the new commits."""
    old = _run(kept, clock, "again", [timedelta(hours=1)] * 7)  # commits 1..8, 8 final
    eid = old.execution_id
    clock.advance((RW + timedelta(seconds=1)).total_seconds())
    _ttl_deletes_only(backend, kept, eid, deleted)
    assert set(_raw_expiries(backend, kept, eid)) == set(range(1, 9)) - set(deleted)
    with pytest.raises(NotFoundError):
        kept.get_execution(eid)

    start = clock.now()
    new = _header("again", start_time=start.isoformat(), input={"n": 2})
    kept.create_execution(new, _commit(1, start, events=[{"id": "new-1"}]))
    assert (kept.get_execution(eid).status, kept.get_execution(eid).input) == ("RUNNING", {"n": 2})
    assert kept.latest(eid).seq == 1 and kept.describe(eid)[1].seq == 1
    assert [(h.name, h.status) for h in kept.list_executions(MACHINE)] == [("again", "RUNNING")]
    assert [h.name for h in kept.list_executions(MACHINE, "RUNNING")] == ["again"]
    assert kept.list_executions(MACHINE, "SUCCEEDED") == []  # not the old final commit
    clock.advance(60)
    kept.append(eid, _commit(2, clock.now(), events=[{"id": "new-2"}]))
    assert [c.seq for c in kept.recent(eid, 5)] == [2, 1]
    clock.advance(60)
    end = clock.now()
    done = _header("again", status="SUCCEEDED", start_time=start.isoformat(), input=None)
    done.stop_time, done.output = end.isoformat(), [2]
    kept.append(eid, _commit(3, end, events=[{"id": "new-3"}], status="SUCCEEDED", outcome=done))

    header, latest = kept.describe(eid)
    assert (header.status, header.output, header.input, latest.seq) == (
        "SUCCEEDED",
        [2],
        {"n": 2},
        3,
    )
    assert header.start_time == start.isoformat()
    assert [e["id"] for e in kept.history(eid)] == ["new-1", "new-2", "new-3"]
    assert [c.seq for c in kept.recent(eid, 5)] == [3, 2, 1]
    assert [c.seq for c in kept.commit_range(eid, 1, 8)] == [1, 2, 3]
    with pytest.raises(NotFoundError):
        kept.commit(eid, 4)
    for status in (None, "SUCCEEDED"):
        listed = kept.list_executions(MACHINE, status)
        assert [(h.name, h.start_time) for h in listed] == [("again", start.isoformat())]
    with pytest.raises(ConflictError):  # a live commit still guards its slot
        kept.append(eid, _commit(3, end, events=[{"id": "other"}]))


def test_a_redrive_of_a_reused_name_overwrites_an_old_commit_too(
    backend: Any, kept: Store, clock: ManualClock
) -> None:
    """A redrive's commit is a transaction (its put, and the final commit it follows
    taken out of the status index): its slot may hold an old expired commit too."""
    old = _run(kept, clock, "again", [timedelta(hours=1)] * 4)  # commits 1..5
    eid = old.execution_id
    clock.advance((RW + timedelta(seconds=1)).total_seconds())
    start = clock.now()
    kept.create_execution(_header("again", start_time=start.isoformat()), _commit(1, start))
    clock.advance(60)
    failed = _header("again", status="FAILED", start_time=start.isoformat(), input=None)
    failed.stop_time, failed.error = clock.now().isoformat(), "Boom"
    kept.append(eid, _commit(2, clock.now(), status="FAILED", outcome=failed))
    assert [h.name for h in kept.list_executions(MACHINE, "FAILED")] == ["again"]
    clock.advance(60)
    kept.append(eid, _commit(3, clock.now(), status="RUNNING", reopens=2))
    assert kept.get_execution(eid).status == "RUNNING" and kept.latest(eid).seq == 3
    assert kept.list_executions(MACHINE, "FAILED") == []
    assert [h.name for h in kept.list_executions(MACHINE, "RUNNING")] == ["again"]


@pytest.mark.parametrize("deleted", [[], [2]], ids=["all", "no-middle"])
def test_a_start_is_refused_while_an_expired_executions_later_commits_live(
    backend: Any, kept: Store, clock: ManualClock, deleted: list[int]
) -> None:
    """The old execution is gone once its first commit has expired, but its later ones
    (the final one last) may live on: a new run's commits would sit below them and
    never be read. The start is refused, saying when the name is free, and leaves
    nothing of its own; once they have expired too the name is reused."""
    old = _run(kept, clock, "held", [DAY, 10 * DAY])  # commits 1..3: 3 is 11 days younger
    eid = old.execution_id
    clock.set(T0 + RW + timedelta(seconds=1))
    _ttl_deletes_only(backend, kept, eid, deleted)
    before = _raw_expiries(backend, kept, eid)
    assert before[1] <= clock.now().timestamp() < before[3]
    with pytest.raises(NotFoundError):
        kept.get_execution(eid)

    start = clock.now()
    new = _header("held", start_time=start.isoformat(), input={"n": 2})
    with pytest.raises(ExecutionAlreadyExistsError) as refused:
        kept.create_execution(new, _commit(1, start, events=[{"id": "new-1"}]))
    assert datetime.fromtimestamp(before[3], UTC).isoformat() in str(refused.value)
    after = _raw_expiries(backend, kept, eid)
    assert after.get(1, 0) <= clock.now().timestamp()  # none of ours: an expired one or none
    assert {seq: e for seq, e in after.items() if seq != 1} == {
        seq: e for seq, e in before.items() if seq != 1
    }
    with pytest.raises(NotFoundError):
        kept.get_execution(eid)
    assert kept.list_executions(MACHINE) == []

    clock.set(datetime.fromtimestamp(before[3] + 1, UTC))
    start = clock.now()
    new = _header("held", start_time=start.isoformat(), input={"n": 3})
    kept.create_execution(new, _commit(1, start, events=[{"id": "new-1"}]))
    clock.advance(60)
    kept.append(eid, _commit(2, clock.now(), events=[{"id": "new-2"}]))
    clock.advance(60)
    done = _header("held", status="SUCCEEDED", start_time=start.isoformat(), input=None)
    done.stop_time, done.output = clock.now().isoformat(), [3]
    kept.append(
        eid, _commit(3, clock.now(), events=[{"id": "new-3"}], status="SUCCEEDED", outcome=done)
    )
    header, latest = kept.describe(eid)
    assert (header.status, header.input, latest.seq) == ("SUCCEEDED", {"n": 3}, 3)
    assert [e["id"] for e in kept.history(eid)] == ["new-1", "new-2", "new-3"]

"""One contract for every ``Store`` backend (see conftest.py for the list).

The first part runs on every backend; the last part pins what only the
DynamoDB adapter does (claim check, size limit, error translation, table).
"""

from __future__ import annotations

import hashlib
import json
import random
import threading
import uuid
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from stepq.backends.aws.dynamodb_store import DynamoDBStore, create_table, default_client_config
from stepq.backends.memory.blobs import MemoryBlobs
from stepq.clock import ManualClock
from stepq.errors import AlreadyExistsError, ConflictError, NotFoundError, StoreError
from stepq.runtime.ports import Commit, ExecutionHeader, Store, Timer, list_cursor

MACHINE = "arn:aws:states:us-east-1:123456789012:stateMachine:demo"


def _arn(name: str, machine: str = MACHINE) -> str:
    return machine.replace(":stateMachine:", ":execution:") + f":{name}"


def _header(name: str, start: str = "2026-01-01T00:00:00+00:00", **kw: Any) -> ExecutionHeader:
    machine = kw.pop("machine", MACHINE)
    return ExecutionHeader(
        execution_id=_arn(name, machine),
        machine=machine,
        machine_version=1,
        name=name,
        status=kw.pop("status", "RUNNING"),
        start_time=start,
        input=kw.pop("input", {"n": 1}),
        **kw,
    )


def _commit(seq: int, **kw: Any) -> Commit:
    return Commit(
        seq=seq,
        snapshot=kw.pop("snapshot", {"seq": seq, "state": "A"}),
        events=kw.pop("events", [{"id": seq, "type": f"Event{seq}"}]),
        commands=kw.pop("commands", []),
        cause_id=kw.pop("cause_id", f"cause-{seq}"),
        at=kw.pop("at", "2026-01-01T00:00:00+00:00"),
        **kw,
    )


def _race(count: int, work: Callable[[int], Any]) -> list[Any]:
    """Run ``work(i)`` on ``count`` threads released together; results or exceptions."""
    barrier = threading.Barrier(count)
    results: list[Any] = [None] * count

    def run(i: int) -> None:
        barrier.wait()
        try:
            results[i] = work(i)
        except Exception as exc:
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


# --- state machines -------------------------------------------------------------------


def test_put_machine_numbers_versions_and_get_returns_latest_or_asked(store: Store) -> None:
    assert store.put_machine("demo", {"StartAt": "A", "v": 1}) == 1
    assert store.put_machine("demo", {"StartAt": "A", "v": 2}) == 2
    assert store.put_machine("other", {"StartAt": "B"}) == 1
    assert store.get_machine("demo") == ({"StartAt": "A", "v": 2}, 2)
    assert store.get_machine("demo", None) == ({"StartAt": "A", "v": 2}, 2)
    assert store.get_machine("demo", 1) == ({"StartAt": "A", "v": 1}, 1)
    assert store.get_machine("other") == ({"StartAt": "B"}, 1)


def test_get_machine_missing_name_or_version_is_not_found(store: Store) -> None:
    with pytest.raises(NotFoundError):
        store.get_machine("nope")
    store.put_machine("demo", {"StartAt": "A"})
    with pytest.raises(NotFoundError):
        store.get_machine("demo", 2)


def test_concurrent_put_machine_gets_distinct_versions(store: Store) -> None:
    results = _race(6, lambda i: store.put_machine("demo", {"i": i}))
    assert sorted(results) == [1, 2, 3, 4, 5, 6]
    for i, version in enumerate(results):
        assert store.get_machine("demo", version) == ({"i": i}, version)


# --- executions -----------------------------------------------------------------------


def test_create_execution_stores_header_and_first_commit(store: Store) -> None:
    header = _header("one", input={"x": [1, 2.5, "é", None, True]})
    store.create_execution(header, _commit(1))
    assert store.get_execution(header.execution_id) == header
    assert store.latest(header.execution_id) == _commit(1)
    assert store.commit(header.execution_id, 1) == _commit(1)


def test_duplicate_execution_is_already_exists_and_keeps_the_first(store: Store) -> None:
    header = _header("dup")
    store.create_execution(header, _commit(1))
    with pytest.raises(AlreadyExistsError):
        store.create_execution(_header("dup", input={"other": True}), _commit(1, cause_id="x"))
    assert store.get_execution(header.execution_id).input == {"n": 1}
    assert store.latest(header.execution_id).cause_id == "cause-1"


def test_missing_execution_is_not_found(store: Store) -> None:
    with pytest.raises(NotFoundError):
        store.get_execution(_arn("ghost"))
    with pytest.raises(NotFoundError):
        store.latest(_arn("ghost"))
    with pytest.raises(NotFoundError):
        store.history(_arn("ghost"))


def _final(seq: int, header: ExecutionHeader) -> Commit:
    return _commit(seq, status=header.status, outcome=header)


def test_the_final_commit_records_the_outcome(store: Store) -> None:
    header = _header("fin")
    store.create_execution(header, _commit(1))
    store.append(header.execution_id, _commit(2))
    assert store.get_execution(header.execution_id) == header  # still running
    done = _header(
        "fin",
        status="FAILED",
        stop_time="2026-01-01T00:00:05+00:00",
        error="States.TaskFailed",
        cause="boom",
        output=None,
    )
    store.append(header.execution_id, _final(3, replace(done, input=None)))
    assert store.get_execution(header.execution_id) == done  # input kept from the start
    assert store.latest(header.execution_id).outcome == replace(done, input=None)


def test_an_execution_that_ends_in_its_first_commit(store: Store) -> None:
    header = _header("quick", input=[1])
    ok = _header("quick", status="SUCCEEDED", stop_time="2026-01-01T00:00:01+00:00", output=[1.5])
    store.create_execution(header, _final(1, replace(ok, input=None)))
    got = store.get_execution(header.execution_id)
    assert (got.status, got.input, got.output, got.error) == ("SUCCEEDED", [1], [1.5], None)
    assert [h.name for h in store.list_executions(MACHINE, "SUCCEEDED")] == ["quick"]
    assert [h.name for h in store.list_executions(MACHINE)] == ["quick"]
    assert store.list_executions(MACHINE, "RUNNING") == []


def test_describe_is_the_header_and_the_newest_commit_together(store: Store) -> None:
    header = _header("desc")
    eid = header.execution_id
    store.create_execution(header, _commit(1))
    assert store.describe(eid) == (header, _commit(1))  # the first commit is the newest
    store.append(eid, _commit(2))
    assert store.describe(eid) == (store.get_execution(eid), store.latest(eid))
    done = _header("desc", status="SUCCEEDED", stop_time="2026-01-01T00:00:05+00:00", output=[2])
    store.append(eid, _final(3, replace(done, input=None)))
    described, latest = store.describe(eid)
    assert described == done and latest == store.latest(eid) and latest.seq == 3
    with pytest.raises(NotFoundError):
        store.describe(_arn("ghost"))


def test_list_machines_names_each_machine_once(store: Store) -> None:
    assert store.list_machines() == []
    store.put_machine("beta", {"StartAt": "A"})
    store.put_machine("alpha", {"StartAt": "A"})
    store.put_machine("beta", {"StartAt": "B"})  # a new version: still one name
    assert store.list_machines() == ["alpha", "beta"]


def test_recent_commits_newest_first(store: Store) -> None:
    eid = _header("rec").execution_id
    store.create_execution(_header("rec"), _commit(1))
    for seq in range(2, 8):
        store.append(eid, _commit(seq, cause_id=f"m{seq} other{seq}"))
    recent = store.recent(eid, 3)
    assert [c.seq for c in recent] == [7, 6, 5]
    assert recent[0].causes == ["m7", "other7"]
    assert [c.seq for c in store.recent(eid, 100)] == [7, 6, 5, 4, 3, 2, 1]
    # paging back: the commits before a seq
    assert [c.seq for c in store.recent(eid, 2, before=5)] == [4, 3]
    assert [c.seq for c in store.recent(eid, 100, before=3)] == [2, 1]
    assert store.recent(eid, 10, before=1) == []


def test_recent_follows_pages_of_large_commits(store: Store) -> None:
    # DynamoDB returns at most 1 MB per Query page: five ~300 KB commits span
    # pages, and ``recent`` must still return as many as asked for.
    eid = _header("big").execution_id
    blob = "".join(hashlib.sha256(str(i).encode()).hexdigest() for i in range(9_000))  # 288 KB
    store.create_execution(_header("big"), _commit(1))
    for seq in range(2, 7):
        store.append(eid, _commit(seq, cause_id=f"m{seq}", snapshot={"pad": f"{seq}{blob}"}))
    assert [c.seq for c in store.recent(eid, 5)] == [6, 5, 4, 3, 2]
    assert [c.seq for c in store.recent(eid, 3, before=6)] == [5, 4, 3]


def test_list_executions_newest_first_by_status_with_limit(store: Store) -> None:
    other = "arn:aws:states:us-east-1:123456789012:stateMachine:other"
    store.create_execution(_header("a", "2026-01-01T00:00:01+00:00"), _commit(1))
    store.create_execution(_header("b", "2026-01-01T00:00:03Z"), _commit(1))
    # 00:00:02 in UTC, written with another offset: order is by instant, not by text.
    store.create_execution(_header("c", "2026-01-01T02:00:02+02:00"), _commit(1))
    store.create_execution(_header("x", machine=other), _commit(1))
    store.append(
        _arn("a"),
        _final(
            2,
            _header("a", "2026-01-01T00:00:01+00:00", status="SUCCEEDED", stop_time="2026-01-02"),
        ),
    )

    names = lambda found: [h.name for h in found]  # noqa: E731
    assert names(store.list_executions(MACHINE)) == ["b", "c", "a"]
    assert names(store.list_executions(MACHINE, limit=2)) == ["b", "c"]
    assert names(store.list_executions(MACHINE, "RUNNING")) == ["b", "c"]
    assert names(store.list_executions(MACHINE, "SUCCEEDED")) == ["a"]
    assert names(store.list_executions(MACHINE, "FAILED")) == []
    assert names(store.list_executions(other)) == ["x"]
    summary = store.list_executions(MACHINE, "SUCCEEDED")[0]
    assert summary.status == "SUCCEEDED" and summary.stop_time == "2026-01-02"
    assert summary.input is None and summary.output is None  # summaries, like ListExecutions


def test_list_executions_pages_with_a_cursor_by_status_or_not(store: Store) -> None:
    # Seven executions, two with the same start instant (the name breaks the tie),
    # three SUCCEEDED; every listing read page by page equals the one-shot listing.
    starts = ["01", "02", "03", "03", "04", "05", "06"]
    names = ["a", "b", "c", "d", "e", "f", "g"]
    for name, second in zip(names, starts, strict=True):
        store.create_execution(_header(name, f"2026-01-01T00:00:{second}+00:00"), _commit(1))
    for name, second in (("b", "02"), ("d", "03"), ("f", "05")):
        done = _header(name, f"2026-01-01T00:00:{second}+00:00", status="SUCCEEDED")
        store.append(_arn(name), _final(2, replace(done, stop_time="2026-01-02")))

    def pages(status: str | None, size: int) -> list[list[str]]:
        out: list[list[str]] = []
        after: str | None = None
        while True:
            page = store.list_executions(MACHINE, status, limit=size, after=after)
            if not page:
                return out
            out.append([h.name for h in page])
            after = list_cursor(page[-1])

    assert [h.name for h in store.list_executions(MACHINE)] == ["g", "f", "e", "d", "c", "b", "a"]
    assert pages(None, 3) == [["g", "f", "e"], ["d", "c", "b"], ["a"]]
    assert pages(None, 2) == [["g", "f"], ["e", "d"], ["c", "b"], ["a"]]
    assert pages("SUCCEEDED", 2) == [["f", "d"], ["b"]]
    assert pages("RUNNING", 2) == [["g", "e"], ["c", "a"]]
    assert pages("FAILED", 2) == []
    # A cursor between rows (a start instant alone) lists what is strictly older.
    assert [h.name for h in store.list_executions(MACHINE, after="2026-01-01T00:00:04")] == [
        "d",
        "c",
        "b",
        "a",
    ]


# --- history --------------------------------------------------------------------------


def test_append_latest_and_commit_by_seq(store: Store) -> None:
    eid = _header("h").execution_id
    store.create_execution(_header("h"), _commit(1))
    for seq in range(2, 13):
        store.append(eid, _commit(seq, status="RUNNING" if seq < 12 else "SUCCEEDED"))
    latest = store.latest(eid)
    assert (latest.seq, latest.status, latest.snapshot) == (
        12,
        "SUCCEEDED",
        {"seq": 12, "state": "A"},
    )
    assert store.commit(eid, 7) == _commit(7)
    with pytest.raises(NotFoundError):
        store.commit(eid, 13)


def test_duplicate_seq_conflicts_and_keeps_the_winner(store: Store) -> None:
    eid = _header("c").execution_id
    store.create_execution(_header("c"), _commit(1))
    store.append(eid, _commit(2, cause_id="first"))
    with pytest.raises(ConflictError):
        store.append(eid, _commit(2, cause_id="second"))
    with pytest.raises(ConflictError):
        store.append(eid, _commit(1, cause_id="again"))
    assert store.latest(eid).cause_id == "first"


def test_resending_the_identical_commit_is_not_a_conflict(store: Store) -> None:
    # What a retried request whose first reply was lost looks like.
    eid = _header("r").execution_id
    store.create_execution(_header("r"), _commit(1))
    store.append(eid, _commit(2))
    store.append(eid, _commit(2))
    assert store.latest(eid) == _commit(2)
    big = _commit(3, snapshot={"data": "a" * 50_000})  # compressed in DynamoDB
    store.append(eid, big)
    store.append(eid, big)
    assert store.latest(eid) == big


def test_racing_appends_of_one_seq_have_exactly_one_winner(store: Store) -> None:
    eid = _header("race").execution_id
    store.create_execution(_header("race"), _commit(1))
    results = _race(8, lambda i: store.append(eid, _commit(2, cause_id=f"writer-{i}")))
    winners = [i for i, r in enumerate(results) if r is None]
    assert len(winners) == 1
    assert all(isinstance(r, ConflictError) for r in results if r is not None)
    assert store.latest(eid).cause_id == f"writer-{winners[0]}"


def test_history_is_every_event_in_commit_then_position_order(store: Store) -> None:
    eid = _header("hist").execution_id
    store.create_execution(_header("hist"), _commit(1, events=[{"id": 1}, {"id": 2}]))
    store.append(eid, _commit(3, events=[{"id": 6}]))  # appended out of order on purpose
    store.append(eid, _commit(2, events=[{"id": 3}, {"id": 4}, {"id": 5}]))
    store.append(eid, _commit(4, events=[]))
    assert [e["id"] for e in store.history(eid)] == [1, 2, 3, 4, 5, 6]


def test_history_pages_through_many_commits(store: Store) -> None:
    eid = _header("long").execution_id
    # ~1.2 MB of events after compression: DynamoDB returns them in more than one page.
    pads = {seq: _incompressible(8000, seed=seq) for seq in range(1, 301)}
    store.create_execution(_header("long"), _commit(1, events=[{"id": 1, "pad": pads[1]}]))
    for seq in range(2, 301):
        store.append(eid, _commit(seq, events=[{"id": seq, "pad": pads[seq]}]))
    history = store.history(eid)
    assert [e["id"] for e in history] == list(range(1, 301))
    assert all(e["pad"] == pads[e["id"]] for e in history)


def test_commit_range_reads_commits_in_order_page_by_page(store: Store) -> None:
    eid = _header("range").execution_id
    # ~1.2 MB after compression: DynamoDB answers in more than one page.
    pads = {seq: _incompressible(8000, seed=seq) for seq in range(1, 161)}
    store.create_execution(_header("range"), _commit(1, values={"p": pads[1]}))
    for seq in range(2, 161):
        store.append(eid, _commit(seq, values={"p": pads[seq], "n": seq}))
    got = list(store.commit_range(eid, 3, 158))
    assert [c.seq for c in got] == list(range(3, 159))
    assert all(c.values == {"p": pads[c.seq], "n": c.seq} for c in got)
    assert got[0] == _commit(3, values={"p": pads[3], "n": 3})
    assert [c.seq for c in store.commit_range(eid, 159, 500)] == [159, 160]
    assert list(store.commit_range(eid, 9, 8)) == []
    assert list(store.commit_range(_header("none").execution_id, 1, 5)) == []


def test_commit_values_round_trip_and_the_input_is_kept_once(store: Store) -> None:
    header = _header("vals", input={"big": "x" * 3000})
    eid = header.execution_id
    first = _commit(1, values={"in": header.input, "other": [1, 2]})
    store.create_execution(header, first)
    store.append(eid, _commit(2, values={"results/f1": {"0": None, "7": {"a": 1}}}))
    store.append(eid, _commit(3))
    assert store.commit(eid, 1).values == {"in": {"big": "x" * 3000}, "other": [1, 2]}
    assert store.get_execution(eid).input == {"big": "x" * 3000}
    assert store.latest(eid).values == {}
    assert [c.values for c in store.commit_range(eid, 1, 2)] == [
        {"in": {"big": "x" * 3000}, "other": [1, 2]},
        {"results/f1": {"0": None, "7": {"a": 1}}},
    ]
    store.create_execution(_header("vals2"), _commit(1, values={"v": {"n": 1}}))
    assert store.commit(_header("vals2").execution_id, 1).values == {"v": {"n": 1}}


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(value=json_values)
def test_json_values_round_trip_exactly(store: Store, value: Any) -> None:
    # Floats stay floats and big integers stay exact: no Decimal on the way.
    name = f"v-{uuid.uuid4()}"  # hypothesis reseeds `random` per example
    header = _header(name, input=value)
    store.create_execution(header, _commit(1, snapshot={"v": value}, events=[{"v": value}]))
    assert store.get_execution(header.execution_id).input == value
    got = store.latest(header.execution_id)
    assert got.snapshot == {"v": value} and got.events == [{"v": value}]
    assert repr(got.snapshot["v"]) == repr(value)


# --- timers and idempotency -----------------------------------------------------------


def _timer(tid: str, due: str) -> Timer:
    return Timer(
        timer_id=tid, execution_id=_arn("t"), due=due, event={"type": "TimerFired", "id": tid}
    )


def test_due_timers_earliest_first_up_to_now(store: Store) -> None:
    store.put_timer(_timer("late", "2026-01-01T00:10:00+00:00"))
    store.put_timer(_timer("b", "2026-01-01T00:01:00+00:00"))
    store.put_timer(_timer("a", "2026-01-01T00:01:00+00:00"))
    store.put_timer(_timer("early", "2026-01-01T01:00:30+01:00"))  # 00:00:30 UTC
    store.put_timer(_timer("frac", "2026-01-01T00:05:00.500000+00:00"))

    ids = lambda ts: [t.timer_id for t in ts]  # noqa: E731
    assert ids(store.due_timers("2026-01-01T00:00:00+00:00")) == []
    assert ids(store.due_timers("2026-01-01T00:01:00+00:00")) == ["early", "a", "b"]
    assert ids(store.due_timers("2026-01-01T00:05:00Z")) == ["early", "a", "b"]
    assert ids(store.due_timers("2026-01-01T00:05:00.5Z")) == ["early", "a", "b", "frac"]
    assert ids(store.due_timers("2026-01-01T00:06:00+00:00", limit=2)) == ["early", "a"]
    everything = store.due_timers("2027-01-01T00:00:00+00:00")
    assert len(everything) == 5
    early = everything[0]
    assert early == _timer("early", "2026-01-01T01:00:30+01:00")


def test_duplicate_timer_is_already_exists(store: Store) -> None:
    store.put_timer(_timer("t1", "2026-01-01T00:00:00+00:00"))
    with pytest.raises(AlreadyExistsError):
        store.put_timer(_timer("t1", "2026-02-01T00:00:00+00:00"))
    assert store.due_timers("2026-01-01T00:00:00+00:00")[0].timer_id == "t1"


def test_claim_timer_once_then_gone(store: Store) -> None:
    timer = _timer("t1", "2026-01-01T00:00:00+00:00")
    store.put_timer(timer)
    assert store.claim_timer(timer) is True
    assert store.claim_timer(timer) is False
    assert store.due_timers("2027-01-01T00:00:00+00:00") == []
    assert store.claim_timer(_timer("never", "2026-01-01T00:00:00+00:00")) is False


def test_racing_claims_of_one_timer_have_exactly_one_winner(store: Store) -> None:
    timer = _timer("t1", "2026-01-01T00:00:00+00:00")
    store.put_timer(timer)
    assert sorted(_race(8, lambda i: store.claim_timer(timer))) == [False] * 7 + [True]


def test_claim_key_once_until_it_expires(store_factory: Callable[..., Store]) -> None:
    clock = ManualClock(datetime(2026, 1, 1, tzinfo=UTC))
    store = store_factory(clock=clock)
    assert store.claim_key("msg-1", ttl_seconds=60) is True
    assert store.claim_key("msg-1", ttl_seconds=60) is False
    assert store.claim_key("msg-2", ttl_seconds=60) is True
    clock.advance(59)
    assert store.claim_key("msg-1", ttl_seconds=60) is False
    clock.advance(1)
    assert store.claim_key("msg-1", ttl_seconds=60) is True
    assert store.claim_key("msg-1", ttl_seconds=60) is False


def test_racing_claims_of_one_key_have_exactly_one_winner(store: Store) -> None:
    assert sorted(_race(8, lambda i: store.claim_key("k"))) == [False] * 7 + [True]


def test_values_that_are_not_json_are_a_store_error(store: Store) -> None:
    with pytest.raises(StoreError):
        store.create_execution(_header("bad", input={"when": object()}), _commit(1))
    with pytest.raises(NotFoundError):
        store.get_execution(_header("bad").execution_id)


# --- large values ---------------------------------------------------------------------


def _incompressible(size: int, seed: int = 0) -> str:
    return random.Random(seed).randbytes(size // 2).hex()


def test_large_values_round_trip_with_a_blob_store(store_factory: Callable[..., Store]) -> None:
    store = store_factory(blobs=MemoryBlobs(), blob_threshold=10_000)
    big = {"data": _incompressible(500_000)}
    header = _header("big", input=big)
    store.create_execution(header, _commit(1, snapshot=big, events=[big], commands=[big]))
    store.append(header.execution_id, _commit(2, snapshot=big, events=[{"id": 2}]))
    assert store.latest(header.execution_id).snapshot == big
    store.append(
        header.execution_id,
        _final(3, _header("big", status="SUCCEEDED", stop_time="2026-01-02", output=big)),
    )
    first = store.commit(header.execution_id, 1)
    assert (first.snapshot, first.events, first.commands) == (big, [big], [big])
    assert store.history(header.execution_id) == [big, {"id": 2}, {"id": 3, "type": "Event3"}]
    got = store.get_execution(header.execution_id)
    assert (got.input, got.output) == (big, big)


# --- DynamoDB adapter only ------------------------------------------------------------


def _raw_item(backend: Any, store: DynamoDBStore, pk: str, sk: str) -> dict[str, Any]:
    return backend.client.get_item(TableName=store._table, Key={"pk": {"S": pk}, "sk": {"S": sk}})[
        "Item"
    ]


def test_claim_check_moves_only_large_values_to_blobs(dynamodb_backend: Any) -> None:
    blobs = MemoryBlobs()
    store = dynamodb_backend.make(blobs=blobs, blob_threshold=10_000)
    assert isinstance(store, DynamoDBStore)
    big = {"data": _incompressible(50_000)}
    eid = _header("cc").execution_id
    store.create_execution(_header("cc"), _commit(1, snapshot=big))
    item = _raw_item(dynamodb_backend, store, f"EX#{eid}", "C#0000000001")
    assert "body_ref" in item and "body" not in item
    assert item["status"] == {"S": "RUNNING"} and item["name"] == {"S": "cc"}  # header stays
    ref = item["body_ref"]["S"]
    assert ref.startswith("s3://") and f"executions/{eid}/body/" in ref
    assert json.loads(blobs.get(ref))["snapshot"] == big
    # A compressible value of the same size stays in the item, compressed.
    store.append(eid, _commit(2, snapshot={"data": "a" * 50_000}))
    item = _raw_item(dynamodb_backend, store, f"EX#{eid}", "C#0000000002")
    assert "B" in item["body"] and len(item["body"]["B"]) < 1000
    assert store.latest(eid).snapshot == {"data": "a" * 50_000}


def test_too_large_commit_without_blobs_is_a_clear_store_error(dynamodb_backend: Any) -> None:
    store = dynamodb_backend.make()
    eid = _header("huge").execution_id
    store.create_execution(_header("huge"), _commit(1))
    with pytest.raises(StoreError, match=r"limit.*blob store"):
        store.append(eid, _commit(2, snapshot={"data": _incompressible(800_000)}))
    assert store.latest(eid).seq == 1


def test_blob_reference_without_a_blob_store_is_a_store_error(dynamodb_backend: Any) -> None:
    writer = dynamodb_backend.make(blobs=MemoryBlobs(), blob_threshold=100)
    eid = _header("ref").execution_id
    writer.create_execution(_header("ref"), _commit(1, snapshot={"d": _incompressible(2000)}))
    reader = DynamoDBStore(writer._table, dynamodb_backend.client)
    with pytest.raises(StoreError, match="no blob store"):
        reader.latest(eid)
    lost = DynamoDBStore(writer._table, dynamodb_backend.client, blobs=MemoryBlobs())
    with pytest.raises(StoreError, match="missing") as caught:  # damaged, not absent
        lost.latest(eid)
    assert not isinstance(caught.value, NotFoundError)


def test_missing_table_is_a_store_error_naming_it(dynamodb_backend: Any) -> None:
    store = DynamoDBStore("no-such-table", dynamodb_backend.client)
    with pytest.raises(StoreError, match="no-such-table") as caught:
        store.get_execution(_arn("x"))
    assert not isinstance(caught.value, NotFoundError)
    with pytest.raises(StoreError):
        store.append(_arn("x"), _commit(1))


class _FailingClient:
    """Every call raises ``error``: how throttling after botocore's retries surfaces."""

    def __init__(self, error: Exception) -> None:
        self.error = error

    def __getattr__(self, name: str) -> Callable[..., Any]:
        def fail(**kwargs: Any) -> Any:
            raise self.error

        return fail


@pytest.mark.parametrize(
    "code", ["ThrottlingException", "ProvisionedThroughputExceededException", "InternalServerError"]
)
def test_client_errors_become_store_errors_naming_the_code(code: str) -> None:
    error = ClientError({"Error": {"Code": code, "Message": "slow down"}}, "PutItem")
    store = DynamoDBStore("t", _FailingClient(error))
    with pytest.raises(StoreError, match=code) as caught:
        store.append("e", _commit(1))
    assert not isinstance(caught.value, ConflictError)
    assert isinstance(caught.value.__cause__, ClientError)


def test_connection_errors_become_store_errors() -> None:
    store = DynamoDBStore(
        "t", _FailingClient(EndpointConnectionError(endpoint_url="http://127.0.0.1:1"))
    )
    with pytest.raises(StoreError, match=r"127\.0\.0\.1"):
        store.latest("e")


def test_transaction_conflict_is_a_conflict() -> None:
    error = ClientError(
        {
            "Error": {"Code": "TransactionCanceledException", "Message": "cancelled"},
            "CancellationReasons": [{"Code": "None"}, {"Code": "TransactionConflict"}],
        },
        "TransactWriteItems",
    )
    store = DynamoDBStore("t", _FailingClient(error))
    with pytest.raises(ConflictError) as caught:
        store.create_execution(_header("tc"), _commit(1))
    assert not isinstance(caught.value, AlreadyExistsError)


def test_create_table_is_idempotent_and_enables_ttl(dynamodb_backend: Any) -> None:
    if dynamodb_backend.name == "moto-direct":
        pytest.skip("tables are made with boto3 (its waiters); MotoClient serves the hot path")
    client = dynamodb_backend.client
    create_table(client, "twice")
    create_table(client, "twice")
    table = client.describe_table(TableName="twice")["Table"]
    assert table["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    assert {i["IndexName"] for i in table["GlobalSecondaryIndexes"]} == {
        "by_machine_status",
        "by_machine_start",
        "timers_by_due",
    }
    ttl = client.describe_time_to_live(TableName="twice")["TimeToLiveDescription"]
    assert ttl == {"TimeToLiveStatus": "ENABLED", "AttributeName": "expires_at"}


def test_commit_items_are_written_once_and_never_rewritten(dynamodb_backend: Any) -> None:
    store = dynamodb_backend.make()
    eid = _header("once").execution_id
    store.create_execution(_header("once"), _commit(1))
    before = _raw_item(dynamodb_backend, store, f"EX#{eid}", "C#0000000001")
    for seq in range(2, 6):
        store.append(eid, _commit(seq))
    assert _raw_item(dynamodb_backend, store, f"EX#{eid}", "C#0000000001") == before


def test_default_client_config_retries_adaptively() -> None:
    assert default_client_config().retries == {"mode": "adaptive", "max_attempts": 10}


# --- the signing key ------------------------------------------------------------------


def test_the_signing_key_is_32_random_bytes_and_stable(store_factory: Callable[..., Store]) -> None:
    store = store_factory()
    key = store.signing_key()
    assert isinstance(key, bytes) and len(key) == 32
    assert store.signing_key() == key
    assert store_factory().signing_key() != key  # another table, another key


def test_racing_first_uses_of_the_signing_key_agree(store: Store) -> None:
    keys = _race(8, lambda i: store.signing_key())
    assert all(isinstance(k, bytes) for k in keys)
    assert len(set(keys)) == 1


def test_processes_of_one_table_share_its_signing_key(dynamodb_backend: Any) -> None:
    """Each process has its own store object; the conditional put makes one key."""
    table = dynamodb_backend.make()._table  # a fresh table, made the backend's way
    stores = [DynamoDBStore(table, dynamodb_backend.client) for _ in range(6)]
    keys = _race(6, lambda i: stores[i].signing_key())
    assert all(isinstance(k, bytes) for k in keys), keys
    assert len(set(keys)) == 1
    assert DynamoDBStore(table, dynamodb_backend.client).signing_key() == keys[0]


def test_the_first_commit_keeps_the_input_once(dynamodb_backend: Any) -> None:
    store = dynamodb_backend.make()
    big = {"data": _incompressible(20_000)}
    header = _header("once-in", input=big)
    # The applier puts the very object of the header's input among the values.
    store.create_execution(header, _commit(1, values={"k": header.input, "small": 1}))
    item = _raw_item(dynamodb_backend, store, f"EX#{header.execution_id}", "C#0000000001")
    assert len(item["body"]["B"]) < 15_000  # 20,000 hex characters compress to ~10,000 bytes
    got = store.commit(header.execution_id, 1)
    assert got.values == {"k": big, "small": 1}
    assert store.get_execution(header.execution_id).input == big


# --- catalog documents ------------------------------------------------------------


def test_documents_are_created_once_and_replaced_by_revision(store: Store) -> None:
    from stepq.errors import AlreadyExistsError as Exists
    from stepq.errors import ConflictError as Conflict

    assert store.get_doc("alias", "m:prod") is None
    assert store.put_doc("alias", "m:prod", {"weights": [1]}, None) == 1
    with pytest.raises(Exists):
        store.put_doc("alias", "m:prod", {"weights": [2]}, None)
    assert store.put_doc("alias", "m:prod", {"weights": [3]}, 1) == 2
    with pytest.raises(Conflict):
        store.put_doc("alias", "m:prod", {"weights": [4]}, 1)  # stale revision
    doc = store.get_doc("alias", "m:prod")
    assert doc is not None and doc.body == {"weights": [3]} and doc.rev == 2


def test_documents_list_by_kind_and_prefix_and_delete(store: Store) -> None:
    from stepq.errors import ConflictError as Conflict

    for key in ["b:1", "a:2", "a:1"]:
        store.put_doc("version", key, {"k": key}, None)
    store.put_doc("alias", "a:x", {}, None)
    assert [d.key for d in store.list_docs("version")] == ["a:1", "a:2", "b:1"]
    assert [d.key for d in store.list_docs("version", "a:")] == ["a:1", "a:2"]
    with pytest.raises(Conflict):
        store.delete_doc("version", "a:1", expected_rev=7)
    store.delete_doc("version", "a:1")
    assert store.get_doc("version", "a:1") is None
    with pytest.raises(NotFoundError):
        store.delete_doc("version", "a:1")


def test_racing_document_writers_one_wins(store: Store) -> None:
    store.put_doc("machine", "m", {"n": 0}, None)

    def write(i: int) -> bool:
        try:
            store.put_doc("machine", "m", {"n": i}, 1)
            return True
        except ConflictError:
            return False

    assert sum(_race(8, write)) == 1

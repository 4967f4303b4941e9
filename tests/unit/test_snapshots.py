"""Snapshots stay small: large values stored once and referred to, a parent's outputs held
(``stepq.runtime.applier.snapshots``; issue 9, defect 4: state size multiplied cost)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from stepq.backends.memory.store import MemoryStore
from stepq.core.execution import ExecutionState, Frame, HeldResults, ResultsNeeded, new_execution
from stepq.errors import StoreError
from stepq.runtime.applier.snapshots import (
    INLINE_LIMIT,
    RESULTS,
    Loaded,
    Snapshots,
    ValueCache,
)
from stepq.runtime.ports import Commit, ExecutionHeader

START = datetime(2026, 1, 1, tzinfo=UTC)


class CountingStore(MemoryStore):
    """A memory store that counts the commits read back by seq and by range."""

    def __init__(self) -> None:
        super().__init__()
        self.reads: list[Any] = []

    def commit(self, execution_id: str, seq: int) -> Commit:
        self.reads.append(seq)
        return super().commit(execution_id, seq)

    def commit_range(self, execution_id: str, first: int, last: int) -> Any:
        self.reads.append((first, last))
        return super().commit_range(execution_id, first, last)


def _state(execution_input: Any) -> ExecutionState:
    state = new_execution(name="e", state_machine_name="sm", start_time=START)
    state.meta.input = execution_input
    return state


def _map_frame(state: ExecutionState, data: Any, items: list[Any], results: Any) -> Frame:
    frame = Frame("f1", "", "Fan", data)
    frame.children = {"items": items, "data": data, "results": results, "next": 0}
    state.frames["f1"] = frame
    return frame


def _header(state: ExecutionState) -> ExecutionHeader:
    meta = state.meta
    return ExecutionHeader(meta.execution_arn, "sm", 1, "e", "RUNNING", "t", input=meta.input)


def _write(
    store: MemoryStore, state: ExecutionState, seq: int, parts: dict, values: dict
) -> Commit:
    commit = Commit(seq, {**parts, "machine": "sm", "version": 1}, [], [], f"c{seq}", "t")
    commit.values = values
    if seq == 1:
        store.create_execution(_header(state), commit)
    else:
        store.append(state.meta.execution_arn, commit)
    return commit


def _size(parts: dict[str, Any]) -> int:
    return len(json.dumps(parts, separators=(",", ":")))


def test_a_small_state_is_inline_and_loads_without_reading() -> None:
    store = CountingStore()
    snapshots = Snapshots(store, ValueCache())
    state = _state({"order": 1})
    state.frames["f1"] = Frame("f1", "", "A", {"order": 1}, variables={"x": [1, 2]})
    parts, values = snapshots.save(state.meta.execution_arn, 1, state, Loaded())
    assert set(parts) == {"state"} and values == {}
    commit = _write(store, state, 1, parts, values)
    loaded, _ = snapshots.load(state.meta.execution_arn, commit)
    assert loaded == state and store.reads == []


def test_a_large_input_is_stored_once_and_later_snapshots_refer_to_it() -> None:
    store = CountingStore()
    snapshots = Snapshots(store, ValueCache())
    big = {"records": [{"id": i, "note": "some words"} for i in range(2000)]}
    state = _state(big)
    eid = state.meta.execution_arn
    # The same value three times, one of them an equal copy: stored once.
    _map_frame(state, json.loads(json.dumps(big)), list(range(50)), [None] * 50)
    parts, values = snapshots.save(eid, 1, state, Loaded())
    assert len(values) == 1 and next(iter(values.values())) == big
    assert {tuple(p) for p, _, _ in parts["stored"]} == {
        ("meta", "input"),
        ("frames", "f1", "input"),
        ("frames", "f1", "children", "data"),
    }
    assert state.frames["f1"].children["data"] == big  # the state itself is left alone
    first = _write(store, state, 1, parts, values)

    reloaded, loaded = snapshots.load(eid, first)
    assert reloaded == state
    later, values = snapshots.save(eid, 2, reloaded, loaded)
    assert values == {}  # nothing new to store
    assert [seq for _, seq, _ in later["stored"]] == [1, 1, 1]
    assert _size(later) < 2 * INLINE_LIMIT + 400


def test_a_cold_process_reads_a_stored_value_back_from_its_commit() -> None:
    store = CountingStore()
    big = ["x" * 100] * 100
    state = _state(big)
    eid = state.meta.execution_arn
    parts, values = Snapshots(store, ValueCache()).save(eid, 1, state, Loaded())
    first = _write(store, state, 1, parts, values)
    cold = Snapshots(store, ValueCache())
    assert cold.load(eid, first)[0] == state
    assert store.reads == [1]
    assert cold.load(eid, first)[0] == state
    assert store.reads == [1]  # cached: a stored value never changes


def test_a_missing_value_is_a_store_error() -> None:
    store = CountingStore()
    state = _state(["x" * 100] * 100)
    eid = state.meta.execution_arn
    parts, _ = Snapshots(store, ValueCache()).save(eid, 1, state, Loaded())
    first = _write(store, state, 1, parts, {})  # the value was not written with it
    with pytest.raises(StoreError, match="does not hold value"):
        Snapshots(store, ValueCache()).load(eid, first)


def test_a_wide_maps_outputs_are_held_in_the_commits_that_decided_them() -> None:
    store = CountingStore()
    snapshots = Snapshots(store, ValueCache())
    state = _state({"n": 300})
    eid = state.meta.execution_arn
    _map_frame(state, {"n": 300}, list(range(300)), [None] * 300)
    parts, values = snapshots.save(eid, 1, state, Loaded())
    assert parts["held"] == {"f1": {"since": 1, "count": 0, "size": 300, "base": None}}
    assert parts["state"]["frames"]["f1"]["children"]["results"] is None
    commit = _write(store, state, 1, parts, values)
    sizes = []
    for seq in range(2, 302):  # one output a commit, as the worker records them
        state, loaded = snapshots.load(eid, commit)
        held = state.frames["f1"].children["results"]
        assert isinstance(held, HeldResults) and held.size == 300
        if seq == 301:
            with pytest.raises(ResultsNeeded) as need:
                held.complete()
            break
        held[seq - 2] = {"out": seq - 2}
        parts, values = snapshots.save(eid, seq, state, loaded)
        assert values == {f"{RESULTS}f1": {str(seq - 2): {"out": seq - 2}}}
        sizes.append(_size(parts))
        commit = _write(store, state, seq, parts, values)
    assert max(sizes) - min(sizes) <= 2  # the count's digits: nothing grows with the outputs

    gathered: dict = {}
    store.reads.clear()
    snapshots.gather(eid, need.value.held, gathered)
    assert store.reads == [(2, 300)]
    state, _ = snapshots.load(eid, commit, gathered)
    held = state.frames["f1"].children["results"]
    held[299] = {"out": 299}
    assert held.complete() == [{"out": i} for i in range(300)]


def test_a_list_already_holding_outputs_is_stored_as_the_base() -> None:
    store = CountingStore()
    snapshots = Snapshots(store, ValueCache())
    state = _state(None)
    eid = state.meta.execution_arn
    results: list[Any] = [None] * 200
    results[3] = {"early": True}
    _map_frame(state, None, list(range(200)), results)
    parts, values = snapshots.save(eid, 1, state, Loaded())
    base = parts["held"]["f1"]["base"]
    assert base[0] == 1 and values[base[1]] == results
    commit = _write(store, state, 1, parts, values)
    state, _ = snapshots.load(eid, commit)
    held = state.frames["f1"].children["results"]
    gathered: dict = {}
    snapshots.gather(eid, held, gathered)
    assert gathered[("f1", 1, 0, 1)] == results


def test_gathering_fewer_outputs_than_counted_is_a_store_error() -> None:
    store = CountingStore()
    snapshots = Snapshots(store, ValueCache())
    state = _state(None)
    eid = state.meta.execution_arn
    _map_frame(state, None, list(range(200)), [None] * 200)
    parts, values = snapshots.save(eid, 1, state, Loaded())
    _write(store, state, 1, parts, values)
    parts["held"]["f1"]["count"] = 5  # as if commits were lost
    commit = _write(store, state, 2, parts, {})
    state, _ = snapshots.load(eid, commit)
    with pytest.raises(StoreError, match="hold 0 outputs"):
        snapshots.gather(eid, state.frames["f1"].children["results"], {})


def test_loading_a_held_snapshot_leaves_the_commit_as_it_was() -> None:
    store = CountingStore()
    snapshots = Snapshots(store, ValueCache())
    state = _state(None)
    eid = state.meta.execution_arn
    _map_frame(state, None, list(range(200)), [None] * 200)
    parts, values = snapshots.save(eid, 1, state, Loaded())
    commit = _write(store, state, 1, parts, values)
    before = json.dumps(commit.snapshot)
    loaded, _ = snapshots.load(eid, commit)
    loaded.frames["f1"].children["next"] = 99  # what deciding does
    assert json.dumps(commit.snapshot) == before  # so the same events can be decided again


@pytest.mark.parametrize(
    "refs",
    [
        {"stored": "x"},
        {"stored": [[["meta", "input"], "1", "k"]]},
        {"stored": [[[], 1, "k"]]},
        {"stored": [[["meta", 3], 1, "k"]]},
        {"held": {"f1": {"since": 1, "count": -1, "size": 3}}},
        {"held": {"f1": {"since": 1, "count": 0, "size": 3, "base": [1]}}},
        {"held": [1]},
    ],
)
def test_malformed_references_are_a_store_error_not_a_type_error(refs: dict) -> None:
    state = _state(None)
    parts, _ = Snapshots(CountingStore(), ValueCache()).save("x", 1, state, Loaded())
    commit = Commit(2, {**parts, **refs, "machine": "sm", "version": 1}, [], [], "", "")
    with pytest.raises(StoreError, match="malformed references"):
        Snapshots(CountingStore(), ValueCache()).load("x", commit)

"""A commit's snapshot does not grow with the input or a Map's width (issue 9, defect 4),
and the runtime still gives every Map and Parallel its outputs, in order."""

from __future__ import annotations

import json
import threading
from collections import Counter
from typing import Any

import pytest
from stepq.bench.flat_matrix import matrix_lines, run_matrix
from stepq.runtime.applier.snapshots import INLINE_LIMIT

WORK = "arn:aws:lambda:us-east-1:111111111111:function:work"


def test_write_units_per_transition_are_the_same_for_any_input_size_or_map_width() -> None:
    rows = run_matrix((("1KB", 1024), ("100KB", 100 * 1024)), (10, 200), log=lambda _: None)
    assert {r.wru_per_transition for r in rows} == {1.0}, matrix_lines(rows)
    assert all(r.rru_per_transition == 0 for r in rows), matrix_lines(rows)
    assert matrix_lines(rows)[-1] == "flat_matrix_equal=True"
    big = [r for r in rows if r.input_label == "100KB"]
    assert all(r.start_wru > 20 for r in big)  # the input itself is written, once


def _map(width_path: str = "$.items", **extra: Any) -> dict[str, Any]:
    return {
        "StartAt": "Fan",
        "States": {
            "Fan": {
                "Type": "Map",
                "ItemsPath": width_path,
                "ItemProcessor": {
                    "StartAt": "Work",
                    "States": {"Work": {"Type": "Task", "Resource": WORK, "End": True}},
                },
                "End": True,
                **extra,
            }
        },
    }


def _work(calls: Counter[Any], lock: threading.Lock) -> Any:
    def work(event: Any, context: Any) -> Any:
        with lock:
            calls[json.dumps(event)] += 1
        if isinstance(event, dict) and event.get("fail"):
            raise RuntimeError("asked to fail")
        return {"i": event["i"] if isinstance(event, dict) else event, "pad": "p" * 40}

    return work


@pytest.mark.parametrize(
    ("backend", "worker_commits", "inline_steps"),
    [("memory", True, None), ("memory", False, None), ("memory", True, 0), ("moto", True, None)],
)
def test_a_wide_map_gets_every_output_in_order_and_runs_each_step_once(
    embedded: Any, backend: str, worker_commits: bool, inline_steps: int | None
) -> None:
    calls: Counter[Any] = Counter()
    runtime = embedded(
        {"work": _work(calls, threading.Lock())},
        backend=backend,
        worker_commits=worker_commits,
        inline_steps=inline_steps,
    )
    runtime.deploy("fan", _map(MaxConcurrency=7))
    arn = runtime.start("fan", {"items": list(range(150)), "pad": "x" * 3000}, "wide")
    runtime.start_loops()  # the fixture closes it
    header = runtime.wait(arn)
    last = runtime.store.latest(arn).seq
    snapshots = [
        json.dumps(c.snapshot, separators=(",", ":"))
        for c in runtime.store.commit_range(arn, 1, last)
    ]
    assert header.status == "SUCCEEDED", header.cause
    assert header.output == [{"i": i, "pad": "p" * 40} for i in range(150)]
    assert set(calls.values()) == {1} and len(calls) == 150
    # References and counters, not the input or the outputs: what is left grows
    # with the iterations running (MaxConcurrency: 7), not with the Map's 150.
    assert snapshots and not any("x" * INLINE_LIMIT in s or "p" * 40 in s for s in snapshots)
    assert max(len(s) for s in snapshots) < 4500  # ~7 running frames, each with its origin


def test_tolerated_failures_and_a_retried_map_keep_the_outputs_of_their_own_run(
    embedded: Any,
) -> None:
    calls: Counter[Any] = Counter()
    runtime = embedded({"work": _work(calls, threading.Lock())}, backend="memory")
    items = [{"i": i, "fail": i in (5, 80)} for i in range(120)]
    runtime.deploy("tolerant", _map(ToleratedFailureCount=2, MaxConcurrency=10))
    arn = runtime.start("tolerant", {"items": items}, "t")
    runtime.start_loops()  # the fixture closes it
    header = runtime.wait(arn)
    assert header.status == "SUCCEEDED", header.cause
    assert [o.get("Error") for o in header.output if "Error" in o] == ["RuntimeError"] * 2
    assert [o["i"] for o in header.output if "i" in o] == [
        i for i in range(120) if i not in (5, 80)
    ]


def test_a_failed_map_retried_starts_its_outputs_afresh(embedded: Any) -> None:
    attempts: Counter[int] = Counter()

    def flaky(event: Any, context: Any) -> Any:
        attempts[event] += 1
        if event == 99 and attempts[event] == 1:
            raise RuntimeError("once")
        return {"i": event, "attempt": attempts[event], "pad": "p" * 30}

    runtime = embedded({"work": flaky}, backend="memory")
    retry = [{"ErrorEquals": ["States.ALL"], "IntervalSeconds": 1, "MaxAttempts": 1}]
    runtime.deploy("retried", _map(Retry=retry, MaxConcurrency=5))
    arn = runtime.start("retried", {"items": list(range(100))}, "r")
    runtime.start_loops()  # the fixture closes it
    header = runtime.wait(arn)
    assert header.status == "SUCCEEDED", header.cause
    assert [o["i"] for o in header.output] == list(range(100))
    assert all(o["attempt"] == attempts[o["i"]] for o in header.output)  # the second run's


def test_nested_maps_and_a_parallel_with_large_branch_outputs(embedded: Any) -> None:
    runtime = embedded({"work": _work(Counter(), threading.Lock())}, backend="memory")
    inner = _map("$.row")["States"]["Fan"]
    inner.pop("End")
    machine = {
        "StartAt": "Both",
        "States": {
            "Both": {
                "Type": "Parallel",
                "End": True,
                "Branches": [
                    {
                        "StartAt": "Rows",
                        "States": {
                            "Rows": {
                                "Type": "Map",
                                "ItemsPath": "$.rows",
                                "ItemSelector": {"row.$": "$$.Map.Item.Value"},
                                "ItemProcessor": {
                                    "StartAt": "Inner",
                                    "States": {"Inner": {**inner, "End": True}},
                                },
                                "End": True,
                            }
                        },
                    },
                    {
                        "StartAt": "Big",
                        "States": {"Big": {"Type": "Pass", "Result": "b" * 2000, "End": True}},
                    },
                ],
            }
        },
    }
    runtime.deploy("nested", machine)
    rows = [list(range(r * 40, r * 40 + 40)) for r in range(6)]
    arn = runtime.start("nested", {"rows": rows}, "n")
    runtime.start_loops()  # the fixture closes it
    header = runtime.wait(arn)
    assert header.status == "SUCCEEDED", header.cause
    grid, big = header.output
    assert big == "b" * 2000
    assert [[o["i"] for o in row] for row in grid] == rows


def test_a_cold_process_reads_stored_values_back_and_finishes_the_same(embedded: Any) -> None:
    from stepq.runtime.applier import snapshots

    def forgetful(event: Any, context: Any) -> Any:
        snapshots.SHARED_CACHE.__init__()  # as if every step ran in a fresh container
        return {"i": event, "pad": "p" * 40}

    runtime = embedded({"work": forgetful}, backend="memory", inline_steps=0)
    big = {"items": list(range(30)), "pad": [{"n": i, "note": "x" * 50} for i in range(200)]}
    runtime.deploy("cold", _map(MaxConcurrency=1, ResultPath="$.out"))
    reads: list[int] = []
    store = runtime.store._store  # under the embedded runtime's watcher
    read_commit = store.commit
    store.commit = lambda eid, seq: reads.append(seq) or read_commit(eid, seq)
    arn = runtime.start("cold", big, "c")
    runtime.start_loops()  # the fixture closes it
    header = runtime.wait(arn)
    assert header.status == "SUCCEEDED", header.cause
    assert header.output == {**big, "out": [{"i": i, "pad": "p" * 40} for i in range(30)]}
    # The input, written with the start, is read back by every cold apply; the
    # outputs' list, held once it passed 512 bytes, once when the Map finishes.
    assert reads.count(1) > 10

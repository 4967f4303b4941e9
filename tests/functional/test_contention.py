"""Many writers on one execution at once: every result commits, none gives up.

A Map of 100 items whose step results all arrive at the same moment makes 100
writers race for the same execution: each conflict means another writer
committed, so every writer must keep trying (backing off with jitter) until
its own result is in. None may give up and leave its message for redelivery.
"""

from __future__ import annotations

import threading
import time
from dataclasses import replace
from typing import Any

import pytest
from stepq.errors import ConflictError
from stepq.hosting.embedded import EmbeddedRuntime
from stepq.runtime.applier import MAX_CONFLICT_RETRIES
from stepq.runtime.batch import BatchResult
from stepq.runtime.messages import task_queue
from stepq.runtime.ports import Commit, Received

LAMBDA = "arn:aws:lambda:us-east-1:111111111111:function:"
WIDTH = 100


def wide_map() -> dict[str, Any]:
    step = {"Type": "Task", "Resource": LAMBDA + "step", "End": True}
    return {
        "StartAt": "M",
        "States": {
            "M": {
                "Type": "Map",
                "ItemsPath": "$.items",
                "MaxConcurrency": 0,
                "ItemProcessor": {"StartAt": "S", "States": {"S": step}},
                "End": True,
            }
        },
    }


def wide_parallel() -> dict[str, Any]:
    """A hundred branches finishing at once (an inline Map runs at most 40 at a time,
    as in Step Functions; a Parallel runs every branch)."""
    branches = [
        {
            "StartAt": f"P{i}",
            "States": {
                f"P{i}": {"Type": "Pass", "Result": i, "Next": f"S{i}"},
                f"S{i}": {"Type": "Task", "Resource": LAMBDA + "step", "End": True},
            },
        }
        for i in range(WIDTH)
    ]
    return {
        "StartAt": "All",
        "States": {"All": {"Type": "Parallel", "Branches": branches, "End": True}},
    }


def take(runtime: EmbeddedRuntime, queue: str, count: int) -> list[Received]:
    taken: list[Received] = []
    while len(taken) < count:
        batch = runtime.queues.receive(queue, 10, 0)
        assert batch, f"only {len(taken)} of {count} messages on {queue}"
        taken += batch
    return taken


def all_at_once(handle: Any, messages: list[Received]) -> list[BatchResult]:
    """Each message to ``handle`` on its own thread, released together."""
    gate = threading.Barrier(len(messages))
    results: list[BatchResult | None] = [None] * len(messages)

    def deliver(index: int, message: Received) -> None:
        gate.wait(30)
        results[index] = handle([message])

    threads = [
        threading.Thread(target=deliver, args=(i, m), daemon=True) for i, m in enumerate(messages)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert not any(thread.is_alive() for thread in threads)
    return [r for r in results if r is not None]


def test_a_hundred_branch_results_at_once_all_commit_none_gives_up() -> None:
    ran: list[Any] = []
    runtime = EmbeddedRuntime(
        {"step": lambda event, context: ran.append(event) or event},
        backend="memory",
        skip_time=True,
        visibility_timeout=600,  # a writer that gave up would leave its message for minutes
    )
    try:
        runtime.deploy("sm", wide_parallel())
        arn = runtime.start("sm", {}, "wide")
        runtime.orchestrator.config.conflict_backoff.rng.seed(7)
        # Reads and writes take a round trip, as over the wire: writers overlap.
        runtime.orchestrator.applier.store = _OverTheWire(runtime.store)
        assert runtime.store.latest(arn).seq == 1  # the start's commit scheduled every task
        tasks = take(runtime, task_queue("step"), WIDTH)
        # A hundred workers, each running one step and committing its result.
        outcomes = all_at_once(runtime.worker.handle_batch, tasks)
        assert len(outcomes) == WIDTH
        gave_up = [m.message_id for r in outcomes for m in r.failed]
        assert (gave_up, [r.dead for r in outcomes if r.dead]) == ([], [])

        header = runtime.store.get_execution(arn)
        assert (header.status, header.output) == ("SUCCEEDED", list(range(WIDTH)))
        assert sorted(ran) == list(range(WIDTH))  # every step ran once
        history = runtime.history(arn)
        assert [e["id"] for e in history] == list(range(1, len(history) + 1))
        # Each transition once.
        entered = [e["details"]["name"] for e in history if e["type"] == "TaskStateEntered"]
        assert sorted(entered) == sorted(f"S{i}" for i in range(WIDTH))
        results = [
            e["details"]["output"] for e in history if e["type"] == "LambdaFunctionSucceeded"
        ]
        assert sorted(results) == list(range(WIDTH))
    finally:
        runtime.close()


class _OverTheWire:
    """``store`` with a round trip's latency on the calls a commit makes."""

    def __init__(self, store: Any, seconds: float = 0.01) -> None:
        self._store = store
        self._seconds = seconds

    def latest(self, execution_id: str) -> Commit:
        time.sleep(self._seconds)
        return self._store.latest(execution_id)

    def append(self, execution_id: str, commit: Commit) -> None:
        time.sleep(self._seconds)
        self._store.append(execution_id, commit)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)


# --- when a writer does give up, it says why -----------------------------------------


class _Refusing:
    """A store whose appends always conflict; with ``rival``, another writer
    commits first every time (progress), else nobody ever does (no progress)."""

    def __init__(self, store: Any, *, rival: bool) -> None:
        self._store = store
        self._rival = rival
        self.refused = 0

    def append(self, execution_id: str, commit: Commit) -> None:
        self.refused += 1
        if self._rival:
            latest = self._store.latest(execution_id)
            self._store.append(execution_id, replace(latest, seq=commit.seq, events=[]))
        raise ConflictError(f"commit {commit.seq} of {execution_id} exists already")

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)


def _one_result_against(store_of: Any, budget: float) -> tuple[Any, list[float], Exception]:
    runtime = EmbeddedRuntime({"step": lambda event, context: event}, backend="memory")
    try:
        runtime.deploy("sm", wide_map())
        runtime.start("sm", {"items": [1, 2]}, "two")
        runtime.pumps[0].poll_once()
        (task, _) = take(runtime, task_queue("step"), 2)
        applier = runtime.orchestrator.applier
        refusing = applier.store = store_of(runtime.store)
        waits: list[float] = []
        applier.config.sleep = waits.append  # no real waiting here
        applier.config.conflict_budget = budget
        with pytest.raises(ConflictError) as raised:
            runtime.worker.handle_batch([task], raise_errors=True)
        return refusing, waits, raised.value
    finally:
        runtime.close()


def test_a_writer_nobody_beats_but_the_store_refuses_gives_up_saying_so() -> None:
    store, waits, error = _one_result_against(lambda s: _Refusing(s, rival=False), budget=60)
    assert store.refused == MAX_CONFLICT_RETRIES + 1
    assert "no other writer committed" in str(error)
    # Full jitter: each wait random below a doubling ceiling, not a fixed sleep.
    assert len(waits) == MAX_CONFLICT_RETRIES and len(set(waits)) == len(waits)
    assert all(0 <= w <= min(1.0, 0.01 * 2**n) for n, w in enumerate(waits))


def test_a_writer_always_beaten_keeps_trying_until_its_budget_is_spent() -> None:
    store, _waits, error = _one_result_against(lambda s: _Refusing(s, rival=True), budget=0.2)
    assert store.refused > MAX_CONFLICT_RETRIES  # others committed: always worth another try
    assert "kept committing first for longer than the 0.2s budget" in str(error)


def test_an_inline_map_runs_at_most_forty_iterations_at_once() -> None:
    # Step Functions' limit for an inline Map, whatever MaxConcurrency says; it
    # also bounds the running frames a snapshot holds (issue 9, defect 4).
    runtime = EmbeddedRuntime({"step": lambda event, context: event}, backend="memory")
    try:
        runtime.deploy("sm", wide_map())
        arn = runtime.start("sm", {"items": list(range(WIDTH))}, "forty")
        assert runtime.queues.depth(task_queue("step")) == 40
        assert runtime.wait(arn).output == list(range(WIDTH))
    finally:
        runtime.close()

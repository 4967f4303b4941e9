"""What only the in-process queues promise: clock handling, long polling, stale receipts."""

from __future__ import annotations

import threading

from stepq.clock import ManualClock, SystemClock, monotonic
from stepq.runtime.ports import Message
from stepq.runtime.queues_memory import MemoryQueues


def test_visibility_timeout_follows_the_injected_clock() -> None:
    clock = ManualClock()
    queues = MemoryQueues(clock=clock)
    queues.ensure("q", visibility_timeout=30)
    queues.send("q", [Message("a", {})])
    [first] = queues.receive("q")
    clock.advance(29)
    assert queues.receive("q") == []
    clock.advance(1)
    [again] = queues.receive("q")
    assert (first.receive_count, again.receive_count) == (1, 2)
    assert again.receipt != first.receipt


def test_stale_receipt_deletes_nothing() -> None:
    clock = ManualClock()
    queues = MemoryQueues(clock=clock)
    queues.ensure("q", visibility_timeout=10)
    queues.send("q", [Message("a", {})])
    [first] = queues.receive("q")
    clock.advance(10)
    [second] = queues.receive("q")
    queues.delete("q", [first.receipt])
    assert queues.depth("q") == 1
    queues.delete("q", [second.receipt])
    assert queues.depth("q") == 0


def test_long_poll_with_a_manual_clock_never_moves_time() -> None:
    clock = ManualClock()
    queues = MemoryQueues(clock=clock)
    queues.ensure("q")
    queues.send("q", [Message("later", {}, delay_seconds=5)])
    before = clock.now()
    assert queues.receive("q", wait_seconds=20) == []
    assert clock.now() == before


def test_long_poll_with_the_system_clock_wakes_on_send() -> None:
    queues = MemoryQueues(clock=SystemClock())
    queues.ensure("q")
    timer = threading.Timer(0.1, lambda: queues.send("q", [Message("a", {"x": 1})]))
    start = monotonic()
    timer.start()
    try:
        got = queues.receive("q", wait_seconds=5)
    finally:
        timer.cancel()
    assert [r.body for r in got] == [{"x": 1}]
    assert monotonic() - start < 2


def test_redriven_message_keeps_its_id_and_count() -> None:
    queues = MemoryQueues(clock=ManualClock())
    queues.ensure("q", max_receives=1, visibility_timeout=0)
    queues.send("q", [Message("a", {"k": "v"})])
    assert len(queues.receive("q")) == 1
    assert queues.receive("q") == []
    [dead] = queues.receive("q-dlq")
    assert (dead.message_id, dead.body, dead.receive_count) == ("a", {"k": "v"}, 2)


def test_fifo_dedup_window_ends_after_five_minutes() -> None:
    clock = ManualClock()
    queues = MemoryQueues(clock=clock)
    queues.ensure("q.fifo")
    queues.send("q.fifo", [Message("a", {}, group="g")])
    queues.send("q.fifo", [Message("a", {}, group="g")])
    assert queues.depth("q.fifo") == 1
    clock.advance(300)
    queues.send("q.fifo", [Message("a", {}, group="g")])
    assert queues.depth("q.fifo") == 2

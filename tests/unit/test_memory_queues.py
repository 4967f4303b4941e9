"""What only the in-process queues promise: clock handling, long polling, stale receipts,
and the claim check of large bodies seen from inside."""

from __future__ import annotations

import json
import threading

import pytest
from stepq.backends.memory.blobs import MemoryBlobs
from stepq.backends.memory.queues import MemoryQueues
from stepq.backends.queue_wire import pointer_of
from stepq.clock import ManualClock, SystemClock, monotonic
from stepq.errors import BlobError, MessageTooLargeError
from stepq.runtime.ports import Message, Received


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


# --- claim check -----------------------------------------------------------------


def _large(message_id: str = "big") -> Message:
    return Message(message_id, {"pad": "z" * (230 * 1024)})


def test_claim_checked_message_round_trips_and_holds_only_a_pointer() -> None:
    blobs = MemoryBlobs()
    queues = MemoryQueues(clock=ManualClock(), blobs=blobs)
    queues.ensure("q")
    queues.send("q", [_large(), Message("small", {"n": 1})])
    held = {attributes["stepq-id"]: raw for raw, attributes in queues.peek("q")}
    assert held["small"] == '{"n":1}'
    pointer = pointer_of(held["big"])
    assert pointer is not None and len(held["big"]) < 400
    assert blobs.get(pointer.ref) == json.dumps(_large().body, separators=(",", ":")).encode()
    got = {r.message_id: r for r in queues.receive("q")}
    assert got["big"].body == _large().body
    assert got["big"].raw == held["big"]
    assert got["small"].body == {"n": 1}


def test_configured_threshold_applies() -> None:
    queues = MemoryQueues(clock=ManualClock(), blobs=MemoryBlobs(), claim_threshold=100)
    queues.ensure("q")
    queues.send("q", [Message("a", {"p": "x" * 200}), Message("b", {"p": "x"})])
    claimed = {a["stepq-id"]: pointer_of(raw) is not None for raw, a in queues.peek("q")}
    assert claimed == {"a": True, "b": False}


def test_oversized_message_without_blobs_sends_nothing() -> None:
    queues = MemoryQueues(clock=ManualClock())
    queues.ensure("q")
    with pytest.raises(MessageTooLargeError, match="STEPQ_BUCKET"):
        queues.send("q", [Message("ok", {}), Message("huge", {"p": "x" * (300 * 1024)})])
    assert queues.depth("q") == 0


def test_redriven_claim_checked_message_is_read_from_the_dlq() -> None:
    queues = MemoryQueues(clock=ManualClock(), blobs=MemoryBlobs())
    queues.ensure("q", max_receives=1, visibility_timeout=0)
    queues.send("q", [_large()])
    assert [r.body for r in queues.receive("q")] == [_large().body]
    assert queues.receive("q") == []  # redriven
    [dead] = queues.receive("q-dlq")
    assert (dead.message_id, dead.body) == ("big", _large().body)


def test_dead_letter_keeps_the_pointer_with_the_reason() -> None:
    queues = MemoryQueues(clock=ManualClock(), blobs=MemoryBlobs())
    queues.ensure("q")
    queues.send("q", [_large()])
    [r] = queues.receive("q")
    queues.dead_letter("q", r, "step failed for good")
    [(raw, attributes)] = queues.peek("q-dlq")
    assert raw == r.raw and pointer_of(raw) is not None
    assert attributes == {"stepq-id": "big", "stepq-reason": "step failed for good"}
    [again] = queues.receive("q-dlq")
    assert again.body == _large().body


def test_blob_failing_on_receive_leaves_the_message_for_redelivery() -> None:
    class Flaky(MemoryBlobs):
        down = False

        def get(self, ref: str) -> bytes:
            if self.down:
                raise BlobError("get failed: SlowDown", "SlowDown")
            return super().get(ref)

    clock = ManualClock()
    blobs = Flaky()
    queues = MemoryQueues(clock=clock, blobs=blobs)
    queues.ensure("q", visibility_timeout=10)
    queues.send("q", [_large()])
    blobs.down = True
    assert queues.receive("q") == []
    assert queues.depth("q") == 1  # in flight, not lost
    blobs.down = False
    clock.advance(10)
    [r] = queues.receive("q")
    assert (r.body, r.receive_count) == (_large().body, 2)


def test_resolve_opens_a_received_built_elsewhere() -> None:
    producer = MemoryQueues(clock=ManualClock(), blobs=(blobs := MemoryBlobs()))
    producer.ensure("q")
    producer.send("q", [_large()])
    [(raw, _)] = producer.peek("q")
    record = Received(body=json.loads(raw), raw=raw, receipt="x", receive_count=1, message_id="big")
    consumer = MemoryQueues(clock=ManualClock(), blobs=blobs)
    assert consumer.resolve(record).body == _large().body

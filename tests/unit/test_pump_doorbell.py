"""Pumps in one process: a rung queue is polled at once, a quiet one after a pause."""

from __future__ import annotations

import threading
import time

from stepq.backends.memory.queues import MemoryQueues
from stepq.hosting.doorbell import Doorbell, RingingQueues
from stepq.hosting.pump import Pump
from stepq.runtime.batch import BatchResult
from stepq.runtime.ports import Message, Received


def _pump(queues, doorbell: Doorbell, seen: list[str], idle_max: float = 0.2) -> Pump:
    def handle(batch: list[Received]) -> BatchResult:
        seen.extend(str(m.body["n"]) for m in batch)
        return BatchResult()

    return Pump(queues, ["q1", "q2"], handle, doorbell=doorbell, idle_max=idle_max)


def _setup() -> tuple[MemoryQueues, RingingQueues, Doorbell]:
    raw = MemoryQueues()
    for name in ("q1", "q2"):
        raw.ensure(name)
    doorbell = Doorbell()
    return raw, RingingQueues(raw, doorbell), doorbell


def test_a_rung_queue_is_polled_while_quiet() -> None:
    _raw, queues, doorbell = _setup()
    seen: list[str] = []
    pump = _pump(queues, doorbell, seen, idle_max=60)
    assert pump.poll_once(skip_quiet=True) == 0  # both empty: both quiet now
    for _ in range(6):  # the pause doubles towards idle_max
        pump.poll_once()
    queues.send("q2", [Message(id="m1", body={"n": 1})])
    assert pump.poll_once(skip_quiet=True) == 1
    assert seen == ["1"]


def test_a_quiet_queue_sent_to_behind_the_doorbell_waits_its_pause() -> None:
    raw, queues, doorbell = _setup()
    seen: list[str] = []
    pump = _pump(queues, doorbell, seen, idle_max=0.2)
    for _ in range(8):
        pump.poll_once()  # long quiet: pauses at idle_max
    raw.send("q1", [Message(id="m1", body={"n": 1})])  # as a delayed message would appear
    assert pump.poll_once(skip_quiet=True) == 0  # not rung, still pausing
    time.sleep(0.25)
    assert pump.poll_once(skip_quiet=True) == 1  # the pause is over
    assert seen == ["1"]
    # Without skip_quiet (run_until_idle) every queue is polled every time.
    raw.send("q1", [Message(id="m2", body={"n": 2})])
    assert pump.poll_once() == 1


def test_run_sleeps_on_the_doorbell_and_wakes_on_a_send() -> None:
    _raw, queues, doorbell = _setup()
    seen: list[str] = []
    pump = _pump(queues, doorbell, seen, idle_max=30)
    stop = threading.Event()
    thread = threading.Thread(target=pump.run, args=(stop,), daemon=True)
    thread.start()
    try:
        time.sleep(0.3)  # idle: the pump pauses up to 30 s between polls of a queue
        empty_before = pump.stats.empty_polls
        time.sleep(0.3)
        assert pump.stats.empty_polls - empty_before < 5  # asleep, not spinning
        queues.send("q1", [Message(id="m1", body={"n": 1})])
        deadline = time.monotonic() + 5
        while not seen and time.monotonic() < deadline:
            time.sleep(0.01)
        assert seen == ["1"]
    finally:
        stop.set()
        doorbell.ring("q1")  # wake it to see the stop
        thread.join(timeout=5)
    assert not thread.is_alive()

"""Outages delay work, never kill it: the loops behind ``stepq worker`` stay up.

The queues (and the table) become unreachable for a while: every call raises.
The loops retry after a backoff, log one line per failure streak rather than
a traceback per failure, and handle everything once the outage ends. They end
only when asked to stop. The dead-letter sweeper deletes what it has dealt
with, so new dead messages are seen behind old ones.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from stepq.backends.aws.settings import Settings
from stepq.backends.memory.queues import MemoryQueues
from stepq.backends.memory.store import MemoryStore
from stepq.clock import ManualClock
from stepq.core import events as ev
from stepq.errors import QueueError, StoreError
from stepq.hosting import serve as serve_module
from stepq.hosting.pump import Pump
from stepq.runtime import codec
from stepq.runtime.backoff import Backoff
from stepq.runtime.batch import BatchResult
from stepq.runtime.messages import EVENTS_QUEUE, event_message, task_queue
from stepq.runtime.orchestrator import Orchestrator
from stepq.runtime.poison import POISON_ERROR, DeadLetterSweeper
from stepq.runtime.ports import Message, Received, Timer
from stepq.runtime.signing import Keys

LAMBDA = "arn:aws:lambda:us-east-1:111111111111:function:"
FAST = {"base": 0.005, "cap": 0.03}  # milliseconds, not the default seconds


def fast() -> Backoff:
    return Backoff(**FAST, rng=random.Random(7))


class Outage:
    """Wraps queues or a store: while ``down``, the named calls raise ``error``."""

    def __init__(self, inner: Any, calls: set[str], error: Callable[[str], Exception]) -> None:
        self.inner = inner
        self.calls = calls
        self.error = error
        self.down = threading.Event()
        self.refused = 0

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self.inner, name)
        if name not in self.calls:
            return attr

        def call(*args: Any, **kwargs: Any) -> Any:
            if self.down.is_set():
                self.refused += 1
                raise self.error(f"{name}: could not connect to the endpoint")
            return attr(*args, **kwargs)

        return call


def queue_outage(queues: MemoryQueues, calls: set[str] | None = None) -> Outage:
    every = {"send", "receive", "delete", "dead_letter"}
    return Outage(queues, calls or every, lambda text: QueueError(text, "ServiceUnavailable"))


def eventually(condition: Callable[[], bool], seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "never happened"
        time.sleep(0.01)


@pytest.fixture
def running() -> Iterator[Callable[..., threading.Thread]]:
    """Start ``target(*args)`` on a thread; every ``stop`` event passed is set at the end."""
    started: list[tuple[threading.Thread, threading.Event]] = []

    def start(target: Callable[..., Any], stop: threading.Event, *args: Any, **kw: Any) -> Any:
        thread = threading.Thread(target=target, args=args, kwargs=kw, daemon=True)
        thread.start()
        started.append((thread, stop))
        return thread

    yield start
    for _, stop in started:
        stop.set()
    for thread, _ in started:
        thread.join(5)


# --- the pump ------------------------------------------------------------------------


def test_pump_rides_out_an_outage_then_handles_every_message(running, caplog) -> None:
    raw = MemoryQueues()
    raw.ensure("q")
    queues = queue_outage(raw)
    seen: list[int] = []

    def handle(batch: list[Received]) -> BatchResult:
        seen.extend(m.body["n"] for m in batch)
        return BatchResult()

    pump = Pump(queues, ["q"], handle, backoff=fast())
    stop = threading.Event()
    queues.down.set()
    with caplog.at_level(logging.INFO, logger="stepq"):
        thread = running(pump.run, stop, stop)
        eventually(lambda: queues.refused >= 20)  # failing over and over
        raw.send("q", [Message(id=f"m{n}", body={"n": n}) for n in range(25)])
        time.sleep(0.1)
        assert thread.is_alive() and seen == []
        queues.down.clear()  # the outage ends
        eventually(lambda: len(seen) == 25 and raw.depth("q") == 0)  # handled, deleted
        eventually(lambda: len([r for r in caplog.records if r.name == "stepq.hosting.pump"]) >= 2)
    assert sorted(seen) == list(range(25))  # each once
    assert thread.is_alive()
    lines = [r.getMessage() for r in caplog.records if r.name == "stepq.hosting.pump"]
    assert len(lines) == 2, lines  # the streak starts, the streak ends: no flood
    assert "failing" in lines[0] and "recovered after" in lines[1]
    assert not any(r.exc_info for r in caplog.records)
    stop.set()
    thread.join(5)
    assert not thread.is_alive()  # a stop request ends it


def test_pump_retries_a_failed_delete_so_handled_messages_do_not_come_back(running) -> None:
    raw = MemoryQueues()
    raw.ensure("q", visibility_timeout=600)
    queues = queue_outage(raw, {"delete"})
    seen: list[int] = []
    handled = threading.Event()

    def handle(batch: list[Received]) -> BatchResult:
        seen.extend(m.body["n"] for m in batch)
        handled.set()
        return BatchResult()

    queues.down.set()
    raw.send("q", [Message(id=f"m{n}", body={"n": n}) for n in range(3)])
    pump = Pump(queues, ["q"], handle, backoff=fast())
    stop = threading.Event()
    thread = running(pump.run, stop, stop)
    handled.wait(5)
    eventually(lambda: queues.refused >= 3)  # the delete, then its retries
    assert raw.depth("q") == 3  # handled, not yet deleted
    queues.down.clear()
    eventually(lambda: raw.depth("q") == 0)
    assert sorted(seen) == [0, 1, 2] and thread.is_alive()


def test_a_batch_that_failed_entirely_backs_the_queue_off(running) -> None:
    raw = MemoryQueues()
    raw.ensure("q", dlq=False, visibility_timeout=0)  # a failed message is back at once
    raw.send("q", [Message(id="m", body={"n": 1})])
    calls: list[float] = []

    def handle(batch: list[Received]) -> BatchResult:  # as when the table is unreachable
        calls.append(time.monotonic())
        return BatchResult(failed=list(batch))

    pump = Pump(raw, ["q"], handle, backoff=Backoff(base=0.05, cap=0.1, rng=random.Random(1)))
    stop = threading.Event()
    running(pump.run, stop, stop)
    time.sleep(0.5)
    stop.set()
    assert 2 <= len(calls) < 40  # not a receive-fail loop every few microseconds


def test_stop_ends_a_pump_in_a_long_backoff(running) -> None:
    raw = MemoryQueues()
    raw.ensure("q")
    queues = queue_outage(raw)
    queues.down.set()
    pump = Pump(queues, ["q"], lambda batch: BatchResult(), backoff=Backoff(30.0, 60.0))
    stop = threading.Event()
    thread = running(pump.run, stop, stop)
    eventually(lambda: queues.refused >= 1)
    stop.set()
    thread.join(2)
    assert not thread.is_alive()


# --- stepq worker ------------------------------------------------------------------------


def serving(monkeypatch, store: Any, queues: Any) -> Callable[..., None]:
    """``serve`` with the table and queues given instead of built from the settings."""
    monkeypatch.setattr(serve_module, "build", lambda settings: (store, queues, None))

    def serve(role: str, functions: dict[str, Any], stop: threading.Event) -> None:
        settings = Settings.from_env({})
        serve_module.serve(
            role, settings, functions, stop=stop, wait_seconds=0, interval=0.05, backoff=fast()
        )

    return serve


def test_stepq_worker_roles_stay_up_through_an_outage_and_finish_the_work(
    monkeypatch, running, caplog
) -> None:
    store, raw = MemoryStore(), MemoryQueues()
    for name in (EVENTS_QUEUE, task_queue(None), task_queue("step")):
        raw.ensure(name)
    queues = queue_outage(raw)
    serve = serving(monkeypatch, store, queues)
    functions = {"step": lambda event, context: {"done": event}}
    store.put_machine(
        "sm",
        {
            "StartAt": "T",
            "States": {"T": {"Type": "Task", "Resource": LAMBDA + "step", "End": True}},
        },
    )
    queues.down.set()
    stop = threading.Event()
    with caplog.at_level(logging.INFO, logger="stepq"):
        roles = [
            running(serve, stop, role, functions, stop)
            for role in ("orchestrator", "worker", "scheduler")
        ]
        eventually(lambda: queues.refused >= 30)
        starter = Orchestrator(store, raw, ManualClock())
        # sent from elsewhere (signed: the raw queues are up)
        starter.queues.send(EVENTS_QUEUE, [starter.start_message("sm", "e1", 42)])
        time.sleep(0.2)
        assert all(role.is_alive() for role in roles)
        queues.down.clear()
        arn = starter.start_message("sm", "e1", 42).body["execution_id"]
        eventually(lambda: _status(store, arn) == "SUCCEEDED")
    assert store.get_execution(arn).output == {"done": 42}
    assert all(role.is_alive() for role in roles)
    assert not [r for r in caplog.records if r.exc_info]  # no traceback flood
    stop.set()
    for role in roles:
        role.join(5)
    assert not any(role.is_alive() for role in roles)


def test_stepq_worker_scheduler_survives_the_table_failing(monkeypatch, running) -> None:
    raw = MemoryQueues()
    for name in (EVENTS_QUEUE, task_queue(None)):
        raw.ensure(name)
    store = Outage(MemoryStore(), {"due_timers", "claim_timer"}, StoreError)
    event = event_message("arn:x", ev.TimerFired("t1", ManualClock().now()), "t1").body
    store.inner.put_timer(Timer("t1", "arn:x", codec.instant(ManualClock().now()) or "", event))
    store.down.set()
    stop = threading.Event()
    thread = running(serving(monkeypatch, store, raw), stop, "scheduler", {}, stop)
    eventually(lambda: store.refused >= 5)
    assert raw.depth(EVENTS_QUEUE) == 0 and thread.is_alive()
    store.down.clear()
    eventually(lambda: raw.depth(EVENTS_QUEUE) == 1)  # fired, late but once
    assert store.inner.due_timers("9999-12-31T23:59:59+00:00") == []


def _status(store: MemoryStore, arn: str) -> str | None:
    try:
        return store.get_execution(arn).status
    except Exception:
        return None


# --- the dead-letter sweeper ----------------------------------------------------------------


def _dead(store: MemoryStore, queues: MemoryQueues, execution_id: str | None, n: int) -> None:
    """A message the runtime sent (signed) that SQS moved to the dead-letter queue."""
    body = {"id": f"d{n}", "execution_id": execution_id} if execution_id else {"n": n}
    body = Keys(store).sign(task_queue(None), body)
    queues.send(task_queue(None) + "-dlq", [Message(id=f"d{n}", body=body)])


def _running_execution(store: MemoryStore, clock: ManualClock) -> str:
    """An execution waiting for a task, committed straight into the store."""
    orchestrator = Orchestrator(store, MemoryQueues(clock), clock)
    orchestrator.queues.ensure(task_queue("step"))
    definition = {
        "StartAt": "T",
        "States": {"T": {"Type": "Task", "Resource": LAMBDA + "step", "End": True}},
    }
    store.put_machine("sm", definition)
    start = orchestrator.start_message("sm", "e1", {})
    orchestrator.handle(orchestrator.queues.keys.sign(EVENTS_QUEUE, start.body))
    return start.body["execution_id"]


def test_sweeper_deletes_what_it_handled_and_sees_new_messages_behind_old_ones() -> None:
    clock = ManualClock()
    store, queues = MemoryStore(clock=clock), MemoryQueues(clock)
    queues.ensure(EVENTS_QUEUE)
    queues.ensure(task_queue(None))
    arn = _running_execution(store, clock)
    sweeper = DeadLetterSweeper(store, queues, clock, [EVENTS_QUEUE, task_queue(None)])
    for n in range(25):  # old ones: nobody to fail (no execution, or one that is gone)
        _dead(store, queues, None if n % 2 else f"arn:gone:{n}", n)
    assert sweeper.sweep() == 0
    assert queues.depth(task_queue(None) + "-dlq") == 0  # all dealt with, all deleted
    clock.advance(3600)  # past every visibility timeout: nothing comes back
    _dead(store, queues, arn, 99)  # a new one, of a running execution
    assert sweeper.sweep() == 1
    assert queues.depth(task_queue(None) + "-dlq") == 0
    (failure,) = queues.receive(EVENTS_QUEUE, 10)
    assert failure.body["execution_id"] == arn
    assert failure.body["event"]["error"] == POISON_ERROR


def test_sweeper_keeps_what_it_could_not_deal_with_and_never_raises(caplog) -> None:
    clock = ManualClock()
    store, raw = MemoryStore(clock=clock), MemoryQueues(clock)
    raw.ensure(EVENTS_QUEUE)
    raw.ensure(task_queue(None))
    arn = _running_execution(store, clock)
    queues = queue_outage(raw, {"send"})  # the fail event cannot be sent
    sweeper = DeadLetterSweeper(store, queues, clock, [EVENTS_QUEUE, task_queue(None), "none"])
    _dead(store, raw, arn, 1)
    queues.down.set()
    with caplog.at_level(logging.WARNING, logger="stepq.runtime.poison"):
        assert sweeper.sweep() == 0
        clock.advance(60)  # its visibility timeout passes: it is back
        assert sweeper.sweep() == 0
    assert [r.getMessage().split(":")[0] for r in caplog.records] == [
        "sweeping tasks-unknown-dlq failing, retrying with backoff"
    ]
    queues.down.clear()
    clock.advance(60)
    assert sweeper.sweep() == 1
    assert raw.depth(task_queue(None) + "-dlq") == 0
    assert raw.depth(EVENTS_QUEUE) == 1

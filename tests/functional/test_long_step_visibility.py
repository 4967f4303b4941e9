"""A step longer than its queue's visibility timeout runs once.

The worker keeps the message it works on invisible (``Queues.change_visibility``
every half visibility timeout) until the step's result is committed, so no
other worker receives it meanwhile. Real time on the memory backend: a 1 s
visibility timeout and steps of 2.5 s.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

import pytest
from stepq.backends.memory.queues import MemoryQueues
from stepq.backends.memory.store import MemoryStore
from stepq.clock import Clock, ManualClock, SystemClock
from stepq.errors import QueueError
from stepq.runtime.applier.apply import Applier
from stepq.runtime.messages import EVENTS_QUEUE, task_queue
from stepq.runtime.orchestrator import Orchestrator
from stepq.runtime.ports import Received
from stepq.runtime.worker import Worker

LAMBDA = "arn:aws:lambda:us-east-1:111111111111:function:"
VISIBILITY = 1  # seconds
STEP_SECONDS = 2.5


def _task(name: str, then: str | None = None) -> dict[str, Any]:
    state: dict[str, Any] = {"Type": "Task", "Resource": LAMBDA + name}
    if then is None:
        state["End"] = True
    else:
        state["Next"] = then
    return state


class System:
    """Orchestrator and worker (committing its results) on one memory backend."""

    def __init__(self, queues: MemoryQueues | None = None, clock: Clock | None = None) -> None:
        self.clock = clock or SystemClock()
        self.store = MemoryStore(clock=self.clock)
        self.queues = queues or MemoryQueues(clock=self.clock)
        for name in (EVENTS_QUEUE, task_queue("slow"), task_queue("fast")):
            self.queues.ensure(name, visibility_timeout=VISIBILITY)
        self.orchestrator = Orchestrator(self.store, self.queues, self.clock)
        self.runs: dict[str, int] = {"slow": 0, "fast": 0}
        self.seen_during_step: list[list[Received]] = []  # receives made while "slow" ran
        self.threads_during_step: list[str] = []
        self.worker = Worker(
            {"slow": self._slow, "fast": self._fast},
            self.queues,
            self.clock,
            applier=Applier(self.store, self.clock),
            visibility_timeout=VISIBILITY,
        )

    def _fast(self, event: Any, context: Any) -> Any:
        self.runs["fast"] += 1
        return event

    def _slow(self, event: Any, context: Any) -> Any:
        self.runs["slow"] += 1
        self.threads_during_step = [t.name for t in threading.enumerate()]
        if not isinstance(self.clock, SystemClock):
            return event
        end = time.monotonic() + STEP_SECONDS
        while time.monotonic() < end:  # another worker polls the task queues meanwhile
            time.sleep(0.25)
            self.seen_during_step.append(
                self.queues.receive(task_queue("slow"), 10)
                + self.queues.receive(task_queue("fast"), 10)
            )
        return event

    def start(self, definition: dict[str, Any]) -> str:
        self.store.put_machine("sm", definition)
        message = self.orchestrator.start_message("sm", "e1", {"n": 1})
        [start] = self._roundtrip(EVENTS_QUEUE, message)
        result = self.orchestrator.handle_batch([start])
        assert not result.failed and not result.dead
        self.queues.delete(EVENTS_QUEUE, [start.receipt])
        return str(message.body["execution_id"])

    def _roundtrip(self, queue: str, message: Any) -> list[Received]:
        self.orchestrator.queues.send(queue, [message])  # signed, as the runtime sends
        return self.queues.receive(queue, 10)

    def work(self, queue: str) -> None:
        """One pump round on ``queue``: receive, handle, delete what was handled."""
        received = self.queues.receive(queue, 10)
        assert received, f"nothing on {queue}"
        result = self.worker.handle_batch(received)
        assert not result.failed and not result.dead
        self.queues.delete(queue, [r.receipt for r in result.handled(received)])


def test_a_step_longer_than_the_visibility_timeout_runs_once() -> None:
    system = System()
    arn = system.start({"StartAt": "S", "States": {"S": _task("slow")}})
    system.work(task_queue("slow"))
    assert len(system.seen_during_step) >= 8
    assert all(got == [] for got in system.seen_during_step), "redelivered during the step"
    assert system.runs["slow"] == 1
    assert system.store.get_execution(arn).status == "SUCCEEDED"
    time.sleep(VISIBILITY + 0.2)
    assert system.queues.receive(task_queue("slow"), 10) == []  # deleted, not merely hidden


def test_an_inline_step_keeps_the_message_that_led_to_it_invisible() -> None:
    system = System()
    arn = system.start(
        {"StartAt": "F", "States": {"F": _task("fast", then="S"), "S": _task("slow")}}
    )
    system.work(task_queue("fast"))  # "slow" runs inline, within this message
    assert system.runs == {"fast": 1, "slow": 1}
    assert all(got == [] for got in system.seen_during_step), "redelivered during the step"
    assert system.store.get_execution(arn).status == "SUCCEEDED"


class _NoExtensions(MemoryQueues):
    def __init__(self, clock: Clock) -> None:
        super().__init__(clock=clock)
        self.attempts = 0

    def change_visibility(self, queue: str, receipt: str, seconds: int) -> None:
        self.attempts += 1
        raise QueueError("change visibility failed: throttled", "ThrottlingException")


def test_a_failing_extension_is_logged_once_and_never_fails_the_step(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = SystemClock()
    queues = _NoExtensions(clock)
    system = System(queues, clock)
    arn = system.start({"StartAt": "S", "States": {"S": _task("slow")}})
    with caplog.at_level(logging.WARNING, logger="stepq.runtime.worker"):
        system.work(task_queue("slow"))
    assert queues.attempts == 1
    assert len([r for r in caplog.records if "invisible" in r.getMessage()]) == 1
    assert system.runs["slow"] == 1
    assert system.store.get_execution(arn).status == "SUCCEEDED"


def test_under_a_manual_clock_no_thread_is_started() -> None:
    system = System(clock=ManualClock())
    arn = system.start({"StartAt": "S", "States": {"S": _task("slow")}})
    system.work(task_queue("slow"))
    assert "stepq-visibility" not in system.threads_during_step
    assert system.store.get_execution(arn).status == "SUCCEEDED"

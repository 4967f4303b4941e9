"""The metrics port's wiring: each fact counted once, where it happens (memory backend).

The roles run on ``MemoryStore``/``MemoryQueues`` under a ``ManualClock``
with a ``RecordingMetrics`` in their ``RuntimeConfig``; the Lambda adapter
and the EMF it prints are tested in tests/unit/test_metrics_emf.py and, end
to end through the handlers, tests/functional/test_lambda_metrics.py.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

import pytest
from stepq.backends.memory.queues import MemoryQueues
from stepq.backends.memory.store import MemoryStore
from stepq.clock import ManualClock
from stepq.runtime import codec
from stepq.runtime.applier.config import RuntimeConfig
from stepq.runtime.log_context import ExecutionFilter, executing
from stepq.runtime.messages import EVENTS_QUEUE, task_queue
from stepq.runtime.metrics import NO_METRICS, RecordingMetrics
from stepq.runtime.orchestrator import Orchestrator
from stepq.runtime.poison import DeadLetterSweeper
from stepq.runtime.ports import Received, Timer
from stepq.runtime.reconcile import Reconciler
from stepq.runtime.scheduler import Scheduler
from stepq.runtime.worker import Worker

PASS3 = {
    "StartAt": "A",
    "States": {
        "A": {"Type": "Pass", "Next": "B"},
        "B": {"Type": "Pass", "Next": "C"},
        "C": {"Type": "Pass", "End": True},
    },
}
CHARGE = {  # one task, retried on ValueError
    "StartAt": "Charge",
    "States": {
        "Charge": {
            "Type": "Task",
            "Resource": "arn:aws:lambda:us-east-1:111111111111:function:charge",
            "Retry": [{"ErrorEquals": ["ValueError"], "IntervalSeconds": 1, "MaxAttempts": 3}],
            "End": True,
        }
    },
}


class System:
    """The roles over one memory backend, counting into one recorder."""

    def __init__(self) -> None:
        self.clock = ManualClock()
        self.store = MemoryStore(clock=self.clock)
        self.queues = MemoryQueues(clock=self.clock)
        for queue in (EVENTS_QUEUE, task_queue("charge"), task_queue(None)):
            self.queues.ensure(queue)
        self.store.put_machine("pass3", PASS3)
        self.store.put_machine("charge", CHARGE)
        self.metrics = RecordingMetrics()
        self.config = RuntimeConfig(metrics=self.metrics)
        self.orchestrator = Orchestrator(self.store, self.queues, self.clock, self.config)
        self.attempts = 0

        def charge(event: Any, context: Any) -> Any:
            self.attempts += 1
            if self.attempts == 1:
                raise ValueError("card declined")
            return {"charged": True}

        self.worker = Worker(
            {"charge": charge}, self.queues, self.clock, applier=self.orchestrator.applier
        )

    def received(self, body: dict[str, Any], count: int = 1) -> Received:
        signed = self.orchestrator.queues.keys.sign(EVENTS_QUEUE, body)
        return Received(signed, "", f"r-{count}", count, str(body["id"]))

    def deliver(self, queue: str, handle: Any) -> list[Received]:
        batch = self.queues.receive(queue, 10)
        result = handle(batch)
        assert result.failed == [] and result.dead == [], result
        self.queues.delete(queue, [r.receipt for r in batch])
        return batch

    def counts(self) -> dict[str, float]:
        names = {name for name, _ in self.metrics.counts}
        return {name: self.metrics.total(name) for name in sorted(names)}


def test_a_commit_is_counted_once_and_its_redelivery_not_at_all() -> None:
    system = System()
    start = system.orchestrator.start_message("pass3", "p-1", {}).body

    system.orchestrator.handle_batch([system.received(start)])

    assert system.counts() == {
        "ConditionalWrites": 1,
        "ExecutionsStarted": 1,
        "ExecutionsSucceeded": 1,
        "Transitions": 3,
    }
    assert len(system.metrics.timed("HistoryAppendLatency")) == 1
    # Delivered again (its delete was lost): nothing is written, nothing counted.
    system.orchestrator.handle_batch([system.received(start, count=2)])
    assert system.counts()["ExecutionsSucceeded"] == 1
    assert system.counts()["ConditionalWrites"] == 1
    assert len(system.metrics.timed("HistoryAppendLatency")) == 1


def test_a_refused_conditional_write_is_a_conflict_and_the_winner_counts_the_start() -> None:
    system = System()
    system.orchestrator.start("pass3", "dup", {})  # a client's synchronous start
    again = system.orchestrator.start_message("pass3", "dup", {}).body

    # The same start from the queue, first delivery: assumed new, the put is refused.
    system.orchestrator.handle_batch([system.received(again)])

    counts = system.counts()
    assert counts["ConditionalWriteConflicts"] == 1
    assert counts["ConditionalWrites"] == 2
    assert counts["ExecutionsStarted"] == 1
    assert counts["Transitions"] == 3


def test_a_retry_is_counted_by_state_and_error_and_task_latency_by_step() -> None:
    system = System()
    system.orchestrator.handle_batch(
        [system.received(system.orchestrator.start_message("charge", "c-1", {}).body)]
    )
    system.deliver(task_queue("charge"), system.worker.handle_batch)  # declined: a retry

    retries = {
        dims: n for (name, dims), n in system.metrics.counts.items() if name == "TaskRetries"
    }
    assert retries == {(("error", "ValueError"), ("step", "Charge")): 1}
    assert [dims for name, _, dims in system.metrics.timings if name == "TaskLatency"] == [
        {"step": "charge"}
    ]

    system.clock.advance(2)  # the retry's delay passes
    system.deliver(EVENTS_QUEUE, system.orchestrator.handle_batch)
    system.deliver(task_queue("charge"), system.worker.handle_batch)  # charged

    assert system.metrics.total("TaskRetries") == 1
    assert system.metrics.total("ExecutionsSucceeded") == 1
    assert len(system.metrics.timed("TaskLatency")) == 2


def test_the_scheduler_times_lateness_and_lag() -> None:
    system = System()
    scheduler = Scheduler(system.store, system.queues, system.clock, system.config)
    now = system.clock.now()
    for seconds in (90, 60, 30):  # three timers due, the oldest 90 s ago
        due = codec.instant(now - timedelta(seconds=seconds)) or ""
        system.store.put_timer(Timer(f"t{seconds}", "arn:x", due, {"id": f"t{seconds}"}))

    assert scheduler.tick(limit=2) == 2  # a full page: one timer left behind
    assert system.metrics.timed("TimerLateness") == [90_000, 60_000]
    assert system.metrics.timed("SchedulerLag") == [30_000]

    assert scheduler.tick(limit=2) == 1
    assert system.metrics.timed("TimerLateness")[-1] == 30_000
    assert system.metrics.timed("SchedulerLag")[-1] == 0


def test_reconcile_counts_the_work_it_sends_again() -> None:
    system = System()
    arn = system.orchestrator.start("charge", "r-1", {})
    reconciler = Reconciler(system.store, system.queues, system.clock, system.config)

    plan = reconciler.reconcile(arn)

    assert len(plan.commands) == 1
    assert system.metrics.total("Repairs") == 1


def test_the_sweeper_counts_what_sqs_moved_to_a_dead_letter_queue() -> None:
    system = System()
    system.queues.ensure(EVENTS_QUEUE, max_receives=1)
    send = system.orchestrator.queues.send
    send(EVENTS_QUEUE, [system.orchestrator.start_message("pass3", "lost", {})])
    assert len(system.queues.receive(EVENTS_QUEUE)) == 1  # received once, never deleted
    system.clock.advance(120)
    send(EVENTS_QUEUE, [system.orchestrator.start_message("pass3", "bad", {})])
    [bad] = system.queues.receive(EVENTS_QUEUE)  # and "lost" moves to events-dlq
    # One that stepq dead-letters itself is counted where it does (lambda_sqs), not here.
    system.queues.dead_letter(EVENTS_QUEUE, bad, "malformed: test")
    sweeper = DeadLetterSweeper(
        system.store, system.queues, system.clock, [EVENTS_QUEUE], metrics=system.metrics
    )

    sweeper.sweep()

    assert system.metrics.counts == {("DlqArrivals", (("queue", "events"),)): 1}
    assert system.queues.receive(EVENTS_QUEUE + "-dlq") == []  # both were dealt with


def test_log_lines_inside_executing_name_their_execution() -> None:
    records: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = records.append  # type: ignore[method-assign]
    handler.addFilter(ExecutionFilter())
    log = logging.getLogger("stepq.test_metrics")
    log.addHandler(handler)
    try:
        with executing("arn:one"):
            log.warning("inside")
        log.warning("outside")
        log.warning("passed along", extra={"execution_id": "arn:two"})
    finally:
        log.removeHandler(handler)
    arns = [getattr(r, "execution_arn", None) for r in records]
    assert arns == ["arn:one", None, "arn:two"]


@pytest.mark.parametrize("role", ["config", "worker"])
def test_without_a_host_the_roles_count_into_nothing(role: str) -> None:
    store, clock = MemoryStore(), ManualClock()
    orchestrator = Orchestrator(store, MemoryQueues(clock=clock), clock)
    if role == "config":
        assert orchestrator.config.metrics is NO_METRICS
    else:
        worker = Worker({}, MemoryQueues(clock=clock), clock, store=store)
        assert worker.metrics is NO_METRICS


def test_the_metric_names_are_the_deployment_contract() -> None:
    from stepq.runtime import metrics

    assert {
        "ExecutionsStarted",
        "ExecutionsSucceeded",
        "ExecutionsFailed",
        "ExecutionsTimedOut",
        "ExecutionsAborted",
        "Transitions",
        "TaskRetries",
        "ConditionalWrites",
        "ConditionalWriteConflicts",
        "DlqArrivals",
        "LeaseExpirations",
        "Repairs",
    } == metrics.COUNTS
    assert {
        "TaskLatency",
        "TimerLateness",
        "SchedulerLag",
        "HistoryAppendLatency",
    } == metrics.TIMINGS
    assert metrics.NAMES == metrics.COUNTS | metrics.TIMINGS

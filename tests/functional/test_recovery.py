"""Work lost between a commit and its sends is recovered, however much happens meanwhile.

Defect 1 of the reliability issue: recovery used to look for a redelivered
message's commit among the newest 16 only, so a wide Map of callback tasks
that committed 16 times before the redelivery stayed RUNNING for ever. Now
the search has no window, and the scheduler (or ``stepq ops reconcile``)
re-derives the outstanding work of executions that went quiet.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from stepq.backends.memory.queues import MemoryQueues
from stepq.backends.memory.store import MemoryStore
from stepq.clock import ManualClock
from stepq.errors import QueueError
from stepq.runtime.applier.config import RuntimeConfig
from stepq.runtime.messages import EVENTS_QUEUE, task_queue
from stepq.runtime.orchestrator import Orchestrator
from stepq.runtime.ports import Message, Received, Timer
from stepq.runtime.reconcile import QUIET_AGES, Reconciler
from stepq.runtime.scheduler import Scheduler

WIDTH = 30
FAN_OUT = {
    "StartAt": "Each",
    "States": {
        "Each": {
            "Type": "Map",
            "ItemsPath": "$.items",
            "MaxConcurrency": 0,
            "ItemProcessor": {
                "StartAt": "Ask",
                "States": {
                    "Ask": {
                        "Type": "Task",
                        "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken",
                        "Parameters": {"FunctionName": "ask", "Payload": {"t.$": "$$.Task.Token"}},
                        "Next": "After",
                    },
                    "After": {
                        "Type": "Task",
                        "Resource": "arn:aws:lambda:us-east-1:111111111111:function:after",
                        "End": True,
                    },
                },
            },
            "End": True,
        }
    },
}


class FlakyQueues(MemoryQueues):
    """Memory queues whose next ``fail_sends`` sends fail: the crash after a commit."""

    def __init__(self, clock: ManualClock) -> None:
        super().__init__(clock=clock)
        self.fail_sends = 0
        self.sends = 0

    def send(self, queue: str, messages: list[Message]) -> None:
        if self.fail_sends:
            self.fail_sends -= 1
            raise QueueError("SQS is unreachable (injected)")
        self.sends += 1
        super().send(queue, messages)


def _system(defects: frozenset[str] = frozenset()) -> tuple[Any, ...]:
    clock = ManualClock()
    store, queues = MemoryStore(clock=clock), FlakyQueues(clock)
    for queue in (EVENTS_QUEUE, task_queue("ask"), task_queue("after"), task_queue(None)):
        queues.ensure(queue)
    store.put_machine("fan", FAN_OUT)
    config = RuntimeConfig(defects=defects)
    orchestrator = Orchestrator(store, queues, clock, config)
    _KEYS["keys"] = orchestrator.queues.keys
    return clock, store, queues, orchestrator, config


def _start(orchestrator: Orchestrator, name: str = "wide") -> str:
    message = orchestrator.start_message("fan", name, {"items": list(range(WIDTH))})
    result = orchestrator.handle_batch([_received(message.body)])
    assert result.failed == [] and result.dead == []
    return str(message.body["execution_id"])


_KEYS: dict[str, Any] = {}


def _received(body: dict[str, Any], count: int = 1, queue: str = EVENTS_QUEUE) -> Received:
    """A delivery of ``body`` as the runtime would have sent it: signed."""
    signed = _KEYS["keys"].sign(queue, body)
    return Received(signed, "", f"r-{body['id']}-{count}", count, body["id"])


def _tokens(queues: MemoryQueues) -> list[str]:
    found = queues.receive(task_queue("ask"), max_messages=10)
    while len(found) % 10 == 0 and found:
        more = queues.receive(task_queue("ask"), max_messages=10)
        if not more:
            break
        found += more
    return [r.body["command"]["token"] for r in found]


def _after_tasks(queues: MemoryQueues) -> set[str]:
    seen: set[str] = set()
    while batch := queues.receive(task_queue("after"), max_messages=10):
        seen |= {r.body["command"]["task_id"] for r in batch}
    return seen


@pytest.mark.parametrize("defects", [frozenset(), frozenset({"lookback"})])
def test_a_lost_send_is_resent_however_many_commits_follow(defects: frozenset[str]) -> None:
    _, _, queues, orchestrator, _ = _system(defects)
    _start(orchestrator)
    tokens = _tokens(queues)
    assert len(tokens) == WIDTH

    # Answering the first callback commits "run After"; the send is lost.
    first = orchestrator.callback_message(tokens[0], output={"ok": 0}).body
    queues.fail_sends = 2  # the batched send and the per-execution retry
    assert orchestrator.handle_batch([_received(first)]).failed  # left for redelivery
    # 24 more answers commit 24 times before the message comes back.
    for n, token in enumerate(tokens[1:25], start=1):
        body = orchestrator.callback_message(token, output={"ok": n}).body
        assert orchestrator.handle_batch([_received(body)]).failed == []
    assert len(_after_tasks(queues)) == 24

    redelivered = orchestrator.handle_batch([_received(first, count=2)])

    assert redelivered.failed == [] and redelivered.dead == []
    resent = _after_tasks(queues)
    if "lookback" in defects:  # defect 1 back on: the commit is out of the window
        assert resent == set()
    else:
        assert len(resent) == 1  # the lost "run After" of the first child


def test_reconcile_resends_what_a_dead_client_never_sent() -> None:
    # A start committed whose sends were lost, and no message will come back.
    _, store, queues, orchestrator, config = _system()
    message = orchestrator.start_message("fan", "orphan", {"items": list(range(WIDTH))})
    queues.fail_sends = 2
    assert orchestrator.handle_batch([_received(message.body)]).failed
    arn = str(message.body["execution_id"])
    assert queues.depth(task_queue("ask")) == 0

    reconciler = Reconciler(store, queues, orchestrator.clock, config)
    plan = reconciler.reconcile(arn)

    assert len(plan.commands) == WIDTH and plan.missing == []
    received = _tokens(queues)
    assert len(received) == WIDTH
    found = queues.receive(task_queue("ask"))  # nothing more
    assert found == []


def test_the_sweep_reconciles_a_quiet_execution_once_per_quiet_age() -> None:
    clock, store, queues, orchestrator, config = _system()
    message = orchestrator.start_message("fan", "quiet", {"items": [1, 2]})
    queues.fail_sends = 2
    orchestrator.handle_batch([_received(message.body)])
    scheduler = Scheduler(store, queues, clock, config)
    period = timedelta(minutes=5)

    visits = []
    for _ in range(int(timedelta(days=2) / period)):
        clock.advance(period.total_seconds())
        report = scheduler.sweep_quiet(period)
        assert report is not None
        visits.append(len(report.reconciled))

    assert sum(visits) == len(QUIET_AGES)  # 15 min, 1 h, 6 h, 1 day: once each
    assert scheduler.sweep_quiet(period) is None  # not due again at the same instant


def test_a_resent_task_already_recorded_does_not_run_again() -> None:
    from stepq.runtime.worker import Worker

    clock, store, queues, orchestrator, _ = _system()
    store.put_machine(
        "one",
        {
            "StartAt": "Step",
            "States": {
                "Step": {
                    "Type": "Task",
                    "Resource": "arn:aws:lambda:us-east-1:111111111111:function:after",
                    "Next": "Hold",
                },
                "Hold": {"Type": "Wait", "Seconds": 3600, "End": True},
            },
        },
    )
    runs: list[Any] = []
    worker = Worker(
        {"after": lambda event, context: runs.append(event) or {"done": True}},
        queues,
        clock,
        applier=orchestrator.applier,
    )
    start = orchestrator.start_message("one", "once", {"x": 1})
    orchestrator.handle_batch([_received(start.body)])
    task = queues.receive(task_queue("after"))
    assert len(task) == 1
    worker.handle_batch(task)
    assert len(runs) == 1
    arn = str(start.body["execution_id"])
    assert store.latest(arn).seq == 2  # the result is recorded

    resent = dict(task[0].body, resent=True)  # a copy recovery sent again
    worker.handle_batch([_received(resent, queue=task_queue("after"))])

    assert len(runs) == 1


def test_a_timer_backlog_fires_ten_to_a_send() -> None:
    clock, store, queues, _, config = _system()
    due = "2020-01-01T00:00:00+00:00"
    for n in range(250):
        store.put_timer(
            Timer(f"t{n}", "arn:x", due, {"v": 1, "id": f"t{n}", "execution_id": "arn:x"})
        )
    scheduler = Scheduler(store, queues, clock, config)

    assert scheduler.drain(limit=100) == 250
    assert queues.sends == 25
    assert queues.depth(EVENTS_QUEUE) == 250
    assert scheduler.drain() == 0

"""A stop that overtakes its start (defect 2 of the reliability issue) no longer loses the start.

``Client.start_execution`` writes the first commit itself, so its starts
cannot be overtaken. A start queued by another producer (a message on the
events queue) still can: SQS does not keep order, and a StopExecution sent
after it can arrive first, in the same batch. The start must still create
the execution, and the stop then applies to it.
"""

from __future__ import annotations

from typing import Any

from stepq.backends.memory.queues import MemoryQueues
from stepq.backends.memory.store import MemoryStore
from stepq.clock import ManualClock
from stepq.core import events as ev
from stepq.runtime.client import Client
from stepq.runtime.messages import EVENTS_QUEUE, event_message, task_queue
from stepq.runtime.orchestrator import Orchestrator

WAITING = {
    "StartAt": "Hold",
    "States": {"Hold": {"Type": "Wait", "Seconds": 3600, "End": True}},
}


def _system() -> tuple[MemoryStore, MemoryQueues, Orchestrator, Client]:
    clock = ManualClock()
    store, queues = MemoryStore(clock=clock), MemoryQueues(clock=clock)
    for queue in (EVENTS_QUEUE, task_queue(None)):
        queues.ensure(queue)
    store.put_machine("hold", WAITING)
    orchestrator = Orchestrator(store, queues, clock)
    return store, queues, orchestrator, Client(orchestrator, queues)


def _queue_stop(queues: MemoryQueues, orchestrator: Orchestrator, arn: str, **why: Any) -> None:
    stop = ev.StopRequested(orchestrator.clock.now(), **why)
    orchestrator.queues.send(EVENTS_QUEUE, [event_message(arn, stop, f"stop|{arn}")])


def _received_in_reverse(queues: MemoryQueues) -> list[Any]:
    received = queues.receive(EVENTS_QUEUE, max_messages=10)
    assert len(received) == 2
    return list(reversed(received))  # the stop first, then its start


def test_a_stop_delivered_before_its_start_in_one_batch_stops_the_started_execution() -> None:
    store, queues, orchestrator, _ = _system()
    start = orchestrator.start_message("hold", "late-start", {"n": 1})
    arn = str(start.body["execution_id"])
    orchestrator.queues.send(EVENTS_QUEUE, [start])  # signed, as a producer's would be
    _queue_stop(queues, orchestrator, arn, error="Halt", cause="overtaken")
    batch = _received_in_reverse(queues)
    assert batch[0].body["event"]["type"] == "StopRequested"

    result = orchestrator.handle_batch(batch)

    assert result.dead == []  # nothing refused: before the fix, both went to the DLQ
    assert result.failed == []
    header = store.get_execution(arn)
    assert header.status == "ABORTED"
    assert header.error == "Halt"
    types = [e["type"] for e in store.history(arn)]
    assert types[0] == "ExecutionStarted"
    assert types[-1] == "ExecutionAborted"
    assert types.count("ExecutionStarted") == 1


def test_a_stop_for_an_execution_that_never_started_is_refused_with_a_reason() -> None:
    _, queues, orchestrator, _ = _system()
    arn = "arn:aws:states:us-east-1:111111111111:execution:hold:never"
    _queue_stop(queues, orchestrator, arn)
    result = orchestrator.handle_batch(queues.receive(EVENTS_QUEUE, max_messages=10))
    assert [reason for _, reason in result.dead] == [f"no execution {arn}"]

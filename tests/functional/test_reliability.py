"""Crash or duplicate at a chosen point, recover, and check the outcome.

The runtime is stepped single-threaded (``run_until_idle``) so each failure
lands exactly where the test puts it. Messages that fail become visible
again at once (visibility timeout 0), standing in for SQS redelivery.
"""

from __future__ import annotations

import json
import threading
from datetime import timedelta
from typing import Any

import pytest
from stepq.errors import ConflictError
from stepq.runtime.messages import EVENTS_QUEUE
from stepq.runtime.orchestrator import Orchestrator

LAMBDA = "arn:aws:lambda:us-east-1:111111111111:function:"


class WorkerDied(BaseException):
    """Not an Exception: nothing in the runtime may catch it, as nothing catches a kill -9."""


def one_task(name: str = "step", **extra: Any) -> dict[str, Any]:
    return {
        "StartAt": "T",
        "States": {"T": {"Type": "Task", "Resource": LAMBDA + name, "End": True, **extra}},
    }


def start(runtime, definition: dict[str, Any], data: Any = None, name: str = "e1") -> str:
    runtime.deploy("sm", definition)
    return runtime.start("sm", {} if data is None else data, name)


def types(runtime, arn: str) -> list[str]:
    return [e["type"] for e in runtime.history(arn)]


def run_through_crashes(runtime, limit: int = 10) -> int:
    crashes = 0
    for _ in range(limit):
        try:
            runtime.run_until_idle()
            return crashes
        except WorkerDied:
            crashes += 1
    raise AssertionError("never settled")


def test_worker_dies_after_side_effect_step_reruns_with_same_key_one_transition(embedded) -> None:
    keys: list[str] = []

    def step(event, context):
        keys.append(context.idempotency_key)  # the side effect
        if len(keys) == 1:
            raise WorkerDied()
        return {"done": True}

    runtime = embedded({"step": step}, visibility_timeout=0)
    arn = start(runtime, one_task())
    assert run_through_crashes(runtime) == 1
    assert runtime.store.get_execution(arn).status == "SUCCEEDED"
    assert len(keys) == 2 and keys[0] == keys[1]
    assert types(runtime, arn).count("LambdaFunctionSucceeded") == 1


def test_event_delivered_twice_records_one_transition(embedded) -> None:
    sent: list[tuple[str, Any]] = []
    runtime = embedded({"step": lambda e, c: 1}, visibility_timeout=0)
    original = runtime.queues.send

    def recording(queue, messages):
        sent.extend((queue, m) for m in messages)
        return original(queue, messages)

    runtime.queues.send = recording
    arn = start(runtime, one_task())
    runtime.run_until_idle()
    before = runtime.history(arn)
    for queue, message in sent:  # every message, delivered a second time
        original(queue, [message])
    runtime.run_until_idle()
    assert runtime.history(arn) == before
    assert runtime.store.get_execution(arn).status == "SUCCEEDED"


def test_two_orchestrators_race_only_one_commits(embedded) -> None:
    def branch(n: str) -> dict[str, Any]:
        return {"StartAt": n, "States": {n: {"Type": "Task", "Resource": LAMBDA + n, "End": True}}}

    definition = {
        "StartAt": "P",
        "States": {"P": {"Type": "Parallel", "Branches": [branch("a"), branch("b")], "End": True}},
    }
    runtime = embedded(
        {"a": lambda e, c: "A", "b": lambda e, c: "B"},
        visibility_timeout=0,
        worker_commits=False,  # results travel to the orchestrators under test
    )
    arn = start(runtime, definition)
    events_pump, tasks_pump = runtime.pumps
    events_pump.poll_once()  # the start: both tasks are scheduled
    results: list[dict[str, Any]] = []
    runtime.worker.queues = _Capture(runtime.queues, results)
    tasks_pump.poll_once()
    tasks_pump.poll_once()
    assert len(results) == 2

    barrier = threading.Barrier(2)
    conflicts: list[str] = []
    store = _RacingStore(runtime.store, barrier, conflicts)
    rivals = [
        Orchestrator(store, runtime.queues, runtime.clock, runtime.orchestrator.config)
        for _ in range(2)
    ]
    threads = [
        threading.Thread(target=o.handle, args=(body,))
        for o, body in zip(rivals, results, strict=True)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert len(conflicts) == 1  # both decided on the same snapshot; one commit lost and re-decided
    runtime.run_until_idle()
    header = runtime.store.get_execution(arn)
    assert (header.status, header.output) == ("SUCCEEDED", ["A", "B"])
    assert types(runtime, arn).count("LambdaFunctionSucceeded") == 2


def test_crash_between_commit_and_send_is_recovered_by_redelivery(embedded) -> None:
    calls: list[int] = []
    runtime = embedded({"step": lambda e, c: calls.append(1) or "ok"}, visibility_timeout=0)
    original = runtime.queues.send
    crashed: list[str] = []

    def crash_once(queue, messages):
        # Twice: the batched send and the retry per execution both fail.
        if queue.startswith("tasks-") and len(crashed) < 2:
            crashed.append(queue)
            raise RuntimeError("process died after the commit, before the send")
        return original(queue, messages)

    # A Wait first: the task is sent by the orchestrator's commit (the start is
    # written by the client, and nothing would redeliver its sends).
    waits_first = {
        "StartAt": "W",
        "States": {"W": {"Type": "Wait", "Seconds": 1, "Next": "T"}, **one_task()["States"]},
    }
    arn = start(runtime, waits_first)
    runtime.queues.send = crash_once
    runtime.run_until_idle()
    assert crashed, "the crash point was never reached"
    assert runtime.store.get_execution(arn).status == "SUCCEEDED"
    assert calls == [1]
    assert types(runtime, arn).count("LambdaFunctionScheduled") == 1


def test_scheduler_down_for_an_hour_fires_timers_late_once(embedded) -> None:
    definition = {"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 7200, "End": True}}}
    runtime = embedded({}, visibility_timeout=0)
    arn = start(runtime, definition)
    runtime.run_until_idle(fire_timers=False)
    started = runtime.clock.now()
    runtime.clock.advance(3 * 3600)  # the scheduler was down; the timer fell due an hour ago
    assert runtime.scheduler.tick() == 1
    assert runtime.scheduler.tick() == 0
    runtime.run_until_idle()
    assert runtime.store.get_execution(arn).status == "SUCCEEDED"
    exits = [e for e in runtime.history(arn) if e["type"] == "WaitStateExited"]
    assert len(exits) == 1
    assert runtime.clock.now() - started == timedelta(hours=3)


def test_step_raising_on_every_attempt_retries_then_catches(embedded) -> None:
    attempts: list[int] = []

    class Down(Exception):
        pass

    def step(event, context):
        attempts.append(context.attempt)
        raise Down("still down")

    state = {
        "Retry": [{"ErrorEquals": ["Down"], "MaxAttempts": 2, "IntervalSeconds": 30}],
        "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Handled"}],
    }
    definition = one_task(**state)
    del definition["States"]["T"]["End"]
    definition["States"]["T"]["Next"] = "Handled"
    definition["States"]["Handled"] = {"Type": "Pass", "End": True}
    runtime = embedded({"step": step}, visibility_timeout=0)
    arn = start(runtime, definition, {"k": 1})
    runtime.run_until_idle()
    header = runtime.store.get_execution(arn)
    assert header.status == "SUCCEEDED"
    assert attempts == [0, 1, 2]
    assert header.output["error"]["Error"] == "Down"


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("not json at all", "unauthenticated: bad or missing signature"),  # not the runtime's
        ({"id": "x", "execution_id": "y"}, "field 'event'"),
        (
            {
                "id": "x",
                "execution_id": "nope",
                "event": {"type": "TimerFired", "timer_id": "t", "at": "2026-01-01T00:00:00+00:00"},
            },
            "no execution",
        ),
    ],
)
def test_malformed_message_goes_to_dlq_with_reason_others_unaffected(
    embedded, raw: str | dict[str, Any], reason: str
) -> None:
    runtime = embedded({"step": lambda e, c: "ok"}, visibility_timeout=0)
    arn = start(runtime, one_task())
    if isinstance(raw, dict):  # authentic but malformed: signed as the runtime signs
        raw = json.dumps(runtime.queues.keys.sign(EVENTS_QUEUE, raw), separators=(",", ":"))
    sqs = runtime._sqs
    sqs.send_message(QueueUrl=runtime.queues.url("events"), MessageBody=raw)
    runtime.run_until_idle()
    assert runtime.store.get_execution(arn).status == "SUCCEEDED"
    dead = sqs.receive_message(
        QueueUrl=runtime.queues.url("events-dlq"),
        MessageAttributeNames=["All"],
        MaxNumberOfMessages=10,
    ).get("Messages", [])
    assert [m["Body"] for m in dead] == [raw]
    assert reason in dead[0]["MessageAttributes"]["stepq-reason"]["StringValue"]


class _Capture:
    """Stands in for the queues the worker sends results to; keeps the bodies instead."""

    def __init__(self, queues: Any, into: list[dict[str, Any]]) -> None:
        self._queues = queues
        self._into = into

    def send(self, queue: str, messages: list[Any]) -> None:
        self._into.extend(self._queues.keys.sign(queue, m.body) for m in messages)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._queues, name)


class _RacingStore:
    """Makes both orchestrators read the same snapshot before either commits."""

    def __init__(self, store: Any, barrier: threading.Barrier, conflicts: list[str]) -> None:
        self._store = store
        self._barrier = barrier
        self._conflicts = conflicts
        self._first_reads = 0
        self._lock = threading.Lock()

    def latest(self, execution_id: str) -> Any:
        commit = self._store.latest(execution_id)
        with self._lock:
            self._first_reads += 1
            wait = self._first_reads <= 2
        if wait:
            self._barrier.wait(5)
        return commit

    def append(self, execution_id: str, commit: Any) -> None:
        try:
            self._store.append(execution_id, commit)
        except ConflictError:
            self._conflicts.append(execution_id)
            raise

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)


def test_a_step_whose_client_cannot_reach_sqs_runs_again_instead_of_failing(embedded) -> None:
    # Found by the chaos run: a step answering its own callback through
    # context.client during an SQS brownout failed its execution with QueueError.
    from stepq.errors import QueueError

    attempts: list[int] = []

    def flaky(event, context):
        attempts.append(1)
        if len(attempts) == 1:
            raise QueueError("send to 'events' failed: Connection was closed")
        return {"ok": True}

    runtime = embedded({"step": flaky}, visibility_timeout=0)
    arn = start(runtime, one_task())
    runtime.run_until_idle()
    header = runtime.store.get_execution(arn)
    assert (header.status, header.output) == ("SUCCEEDED", {"ok": True})
    assert len(attempts) == 2
    assert "QueueError" not in types(runtime, arn)
    assert types(runtime, arn).count("LambdaFunctionFailed") == 0


def test_a_step_refused_by_the_runtime_for_good_is_the_steps_failure(embedded) -> None:
    from stepq.errors import NotFoundError

    def stops_a_stranger(event, context):
        raise NotFoundError("execution arn:nope does not exist")

    runtime = embedded({"step": stops_a_stranger}, visibility_timeout=0)
    arn = start(runtime, one_task())
    runtime.run_until_idle()
    header = runtime.store.get_execution(arn)
    assert (header.status, header.error) == ("FAILED", "NotFoundError")

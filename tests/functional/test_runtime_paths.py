"""The runtime's own paths: group commit, batches, stale timers, heartbeats, poison.

Stepped single-threaded (``run_until_idle`` or one pump poll at a time) so
each assertion sees exactly what one step did. Most run on the in-memory
fakes (``backend="memory"``, the same contract as DynamoDB and SQS); the
group commit also runs on moto.
"""

from __future__ import annotations

import copy
import dataclasses
from datetime import timedelta
from typing import Any

import pytest
from stepq.runtime.messages import EVENTS_QUEUE
from stepq.runtime.poison import POISON_ERROR

LAMBDA = "arn:aws:lambda:us-east-1:111111111111:function:"


def chain(*names: str, **extra: Any) -> dict[str, Any]:
    states: dict[str, Any] = {}
    for i, name in enumerate(names):
        state: dict[str, Any] = {"Type": "Task", "Resource": LAMBDA + name, **extra}
        state.update({"Next": names[i + 1]} if i + 1 < len(names) else {"End": True})
        states[name] = state
    return {"StartAt": names[0], "States": states}


def counting(calls: list[str], name: str):
    def step(event: Any, context: Any) -> Any:
        calls.append(name)
        return {**event, name: True}

    return step


def commits(runtime, arn: str) -> list[Any]:
    return list(reversed(runtime.store.recent(arn, 1000)))


@pytest.mark.parametrize("backend", ["memory", "moto"])
def test_worker_runs_a_chain_inline_and_commits_once(embedded, backend: str) -> None:
    calls: list[str] = []
    names = ["a", "b", "c", "d"]
    runtime = embedded({n: counting(calls, n) for n in names}, backend=backend)
    runtime.deploy("sm", chain(*names))
    arn = runtime.start("sm", {}, "e1")
    events_pump, tasks_pump = runtime.pumps
    events_pump.poll_once()  # the start: commit 1, task "a" sent
    assert tasks_pump.poll_once() == 1  # one message: all four steps run
    assert calls == names
    header = runtime.store.get_execution(arn)
    assert header.status == "SUCCEEDED"
    assert header.output == {n: True for n in names}
    assert [c.seq for c in commits(runtime, arn)] == [1, 2]  # start, then everything else
    assert commits(runtime, arn)[-1].outcome is not None
    assert events_pump.poll_once() == 0  # no result travelled through the events queue


def test_inline_budget_zero_commits_every_step(embedded) -> None:
    calls: list[str] = []
    names = ["a", "b", "c"]
    runtime = embedded({n: counting(calls, n) for n in names}, backend="memory", inline_steps=0)
    runtime.deploy("sm", chain(*names))
    arn = runtime.start("sm", {}, "e1")
    runtime.run_until_idle()
    assert runtime.store.get_execution(arn).status == "SUCCEEDED"
    assert calls == names
    assert [c.seq for c in commits(runtime, arn)] == [1, 2, 3, 4]


def test_callback_tasks_are_never_run_inline(embedded) -> None:
    tokens: list[str] = []

    def ask(event: Any, context: Any) -> None:
        tokens.append(event["token"])

    definition = {
        "StartAt": "First",
        "States": {
            "First": {"Type": "Task", "Resource": LAMBDA + "first", "Next": "Ask"},
            "Ask": {
                "Type": "Task",
                "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken",
                "Parameters": {"FunctionName": "ask", "Payload": {"token.$": "$$.Task.Token"}},
                "End": True,
            },
        },
    }
    runtime = embedded({"first": lambda e, c: {"x": 1}, "ask": ask}, backend="memory")
    runtime.deploy("sm", definition)
    arn = runtime.start("sm", {}, "e1")
    events_pump, tasks_pump = runtime.pumps
    events_pump.poll_once()
    tasks_pump.poll_once()  # runs "first", commits, sends "ask" by queue
    assert tokens == []
    tasks_pump.poll_once()
    assert len(tokens) == 1
    # The token names a committed task: the callback resumes the execution.
    runtime.client.send_task_success(tokens[0], {"ok": True})
    runtime.run_until_idle()
    header = runtime.store.get_execution(arn)
    assert (header.status, header.output) == ("SUCCEEDED", {"ok": True})


def test_a_forged_token_does_not_resume(embedded) -> None:
    tokens: list[str] = []
    definition = {
        "StartAt": "Ask",
        "States": {
            "Ask": {
                "Type": "Task",
                "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken",
                "Parameters": {"FunctionName": "ask", "Payload": {"token.$": "$$.Task.Token"}},
                "End": True,
            }
        },
    }
    runtime = embedded({"ask": lambda e, c: tokens.append(e["token"])}, backend="memory")
    runtime.deploy("sm", definition)
    arn = runtime.start("sm", {}, "e1")
    runtime.run_until_idle(fire_timers=False)
    payload, signature = tokens[0].rsplit(".", 1)
    forged = payload + "." + ("A" if signature[0] != "A" else "B") + signature[1:]
    runtime.client.send_task_success(forged, {"forged": True})
    runtime.run_until_idle(fire_timers=False)
    assert runtime.store.get_execution(arn).status == "RUNNING"
    runtime.client.send_task_success(tokens[0], {"real": True})
    runtime.run_until_idle(fire_timers=False)
    assert runtime.store.get_execution(arn).output == {"real": True}


def test_one_batch_of_two_results_is_one_commit(embedded) -> None:
    def branch(n: str) -> dict[str, Any]:
        return {"StartAt": n, "States": {n: {"Type": "Task", "Resource": LAMBDA + n, "End": True}}}

    definition = {
        "StartAt": "P",
        "States": {"P": {"Type": "Parallel", "Branches": [branch("a"), branch("a2")], "End": True}},
    }
    # Both branches call functions on one queue, so one receive holds both tasks.
    runtime = embedded({"a": lambda e, c: "A", "a2": lambda e, c: "B"}, backend="memory")
    runtime.deploy("sm", definition)
    arn = runtime.start("sm", {}, "e1")
    events_pump, tasks_pump = runtime.pumps
    events_pump.poll_once()
    while tasks_pump.poll_once():
        pass
    header = runtime.store.get_execution(arn)
    assert (header.status, header.output) == ("SUCCEEDED", ["A", "B"])
    assert len(commits(runtime, arn)) <= 3


def test_a_finished_task_deletes_its_durable_timeout_timer(embedded) -> None:
    runtime = embedded({"a": lambda e, c: 1}, backend="memory", skip_time=True)
    runtime.deploy("sm", chain("a", TimeoutSeconds=3600))
    arn = runtime.start("sm", {}, "e1")
    events_pump, tasks_pump = runtime.pumps
    events_pump.poll_once()
    far = "9999-01-01T00:00:00+00:00"
    (timer,) = runtime.store.due_timers(far)
    assert timer.timer_id.startswith(f"timeout|{arn}|")
    tasks_pump.poll_once()
    assert runtime.store.get_execution(arn).status == "SUCCEEDED"
    assert runtime.store.due_timers(far) == []  # deleted, not left to fire stale


def test_heartbeats_move_the_deadline_then_silence_fails_the_task(embedded) -> None:
    runtime = embedded({"slow": lambda e, c: 1}, backend="memory", skip_time=True)
    runtime.deploy("sm", chain("slow", HeartbeatSeconds=10, TimeoutSeconds=1000))
    arn = runtime.start("sm", {}, "e1")
    events_pump, _ = runtime.pumps
    events_pump.poll_once()  # dispatched; the worker never runs it here
    (task_id,) = _outstanding(runtime, arn)
    started = runtime.clock.now()

    runtime.clock.set(started + timedelta(seconds=8))
    runtime.queues.send(EVENTS_QUEUE, [runtime.orchestrator.task_heartbeat_message(arn, task_id)])
    events_pump.poll_once()
    runtime.clock.set(started + timedelta(seconds=12))  # the first deadline has passed
    runtime.scheduler.tick()
    events_pump.poll_once()
    assert runtime.store.get_execution(arn).status == "RUNNING"  # the heartbeat moved it

    runtime.clock.set(started + timedelta(seconds=19))  # 8 + 10 < 19: silence
    runtime.scheduler.tick()
    events_pump.poll_once()
    header = runtime.store.get_execution(arn)
    assert (header.status, header.error) == ("FAILED", "States.HeartbeatTimeout")


def _outstanding(runtime, arn: str) -> list[str]:
    from stepq.runtime import codec

    state = codec.decode_state(runtime.store.latest(arn).snapshot["state"])
    return list(state.tasks)


def test_a_malformed_task_message_fails_its_execution(embedded) -> None:
    runtime = embedded({"a": lambda e, c: 1}, backend="memory")
    runtime.deploy("sm", chain("a"))
    arn = runtime.start("sm", {}, "e1")
    events_pump, tasks_pump = runtime.pumps
    events_pump.poll_once()
    bad = {"v": 1, "id": "task|broken", "execution_id": arn, "command": {"type": "Nonsense"}}
    queue = runtime.task_queues[0]
    runtime.queues.receive(queue, 10)  # the real task is taken away (in flight)
    from stepq.runtime.ports import Message

    runtime.queues.send(queue, [Message("task|broken", bad)])
    tasks_pump.poll_once()
    (dead,) = runtime.queues.peek(queue + "-dlq")
    assert "not a valid command" in dead[1]["stepq-reason"]
    events_pump.poll_once()
    header = runtime.store.get_execution(arn)
    assert (header.status, header.error) == ("FAILED", POISON_ERROR)
    assert queue in (header.cause or "")


def _given_up_by_sqs(runtime, redriven: int = 0) -> str:
    """An execution whose task message SQS moved to the DLQ after maxReceiveCount."""
    runtime.deploy("sm", chain("a"))
    arn = runtime.start("sm", {}, "e1")
    queue = runtime.task_queues[0]
    (task,) = runtime.queues.receive(queue, 10)
    from stepq.runtime.ports import Message

    # What SQS does after maxReceiveCount: the message moves to the DLQ, no reason.
    body = dict(task.body, redriven=redriven) if redriven else task.body
    body = runtime.orchestrator.queues.keys.sign(queue, body)  # as the runtime sent it
    runtime.queues.send(queue + "-dlq", [Message(task.message_id, body)])
    return arn


def test_the_sweeper_sends_back_a_message_sqs_gave_up_on_during_an_outage(embedded) -> None:
    runtime = embedded({"a": lambda e, c: {"ran": True}}, backend="memory")
    arn = _given_up_by_sqs(runtime)

    assert runtime.sweeper.sweep() == 0  # nothing failed: an outage delays, never fails
    held = [raw.replace(" ", "") for raw, _ in runtime.queues.peek(runtime.task_queues[0])]
    assert sum('"redriven":1' in raw for raw in held) == 1  # sent back once
    assert runtime.queues.peek(runtime.task_queues[0] + "-dlq") == []
    runtime.clock.advance(61)  # it comes back after a minute's delay
    runtime.run_until_idle()
    header = runtime.store.get_execution(arn)
    assert (header.status, header.output) == ("SUCCEEDED", {"ran": True})


def test_the_sweeper_fails_an_execution_whose_message_keeps_coming_back(embedded) -> None:
    from stepq.runtime.poison import MAX_REDRIVES

    runtime = embedded({"a": lambda e, c: 1}, backend="memory")
    arn = _given_up_by_sqs(runtime, redriven=MAX_REDRIVES)
    events_pump, _ = runtime.pumps

    assert runtime.sweeper.sweep() == 1
    events_pump.poll_once()
    header = runtime.store.get_execution(arn)
    assert (header.status, header.error) == ("FAILED", POISON_ERROR)
    assert f"{MAX_REDRIVES} times over" in (header.cause or "")
    assert runtime.sweeper.sweep() == 0  # failed already: nothing more to do


# --- reads saved: a fresh start and a carried commit ---------------------------------


def _count_reads(runtime) -> list[str]:
    """Every ``store.latest`` the orchestrator and the worker make, by execution."""
    store = runtime.orchestrator.applier.store
    original = store.latest
    reads: list[str] = []

    def latest(execution_id: str) -> Any:
        reads.append(execution_id)
        return original(execution_id)

    store.latest = latest
    return reads


@pytest.mark.parametrize("backend", ["memory", "moto"])
def test_a_chain_commits_every_step_without_reading_back(embedded, backend: str) -> None:
    calls: list[str] = []
    names = ["a", "b", "c"]
    runtime = embedded({n: counting(calls, n) for n in names}, backend=backend, inline_steps=0)
    runtime.deploy("sm", chain(*names))
    reads = _count_reads(runtime)
    arn = runtime.start("sm", {}, "e1")
    runtime.run_until_idle()
    assert runtime.store.get_execution(arn).status == "SUCCEEDED"
    assert [c.seq for c in commits(runtime, arn)] == [1, 2, 3, 4]  # one commit per step
    assert reads == []  # the start assumed new; each task carried the commit that sent it


def test_a_task_delivered_again_with_a_stale_carried_commit_records_once(embedded) -> None:
    from stepq.runtime.messages import task_queue

    calls: list[str] = []

    def a(event: Any, context: Any) -> Any:
        calls.append("a")
        return {"run": len(calls)}  # a second run answers differently

    runtime = embedded({"a": a, "b": counting(calls, "b")}, backend="memory", inline_steps=0)
    runtime.deploy("sm", chain("a", "b"))
    arn = runtime.start("sm", {}, "e1")
    events_pump, _ = runtime.pumps
    events_pump.poll_once()  # commit 1 sends task "a", carrying commit 1
    (message,) = runtime.queues.receive(task_queue("a"), 10, 0)
    assert message.body["after"]["seq"] == 1
    again = dataclasses.replace(message, body=copy.deepcopy(message.body))  # as parsed anew
    reads = _count_reads(runtime)
    runtime.worker.handle_batch([message])  # commit 2: a's result, no read
    assert reads == []
    # The same message again, not flagged as redelivered (a duplicate send): the
    # carried commit 1 is stale, the conditional write refuses seq 2, the
    # worker reads the execution and drops the result it already has.
    result = runtime.worker.handle_batch([again])
    runtime.queues.delete(task_queue("a"), [message.receipt])
    assert not result.failed and not result.dead
    assert reads == [arn]
    assert [c.seq for c in commits(runtime, arn)] == [1, 2]
    runtime.run_until_idle()
    assert runtime.store.get_execution(arn).status == "SUCCEEDED"
    assert calls == ["a", "a", "b"]  # at least once: "a" ran twice, recorded once
    assert [c.seq for c in commits(runtime, arn)] == [1, 2, 3]
    assert runtime.store.get_execution(arn).output == {"run": 1, "b": True}  # the first


def test_a_start_sent_twice_starts_one_execution(embedded) -> None:
    calls: list[str] = []
    runtime = embedded({"a": counting(calls, "a")}, backend="memory")
    runtime.deploy("sm", chain("a"))
    # Queued starts (another producer's messages; the client's start is synchronous).
    start = runtime.orchestrator.start_message("sm", "e1", {"n": 1})
    arn = str(start.body["execution_id"])
    runtime.queues.send(EVENTS_QUEUE, [start])
    runtime.queues.send(EVENTS_QUEUE, [start])
    events_pump, _ = runtime.pumps
    events_pump.batch = 1  # one start per batch: the second finds commit 1 taken
    assert events_pump.poll_once() == 1
    reads = _count_reads(runtime)
    assert events_pump.poll_once() == 1
    assert reads == [arn]  # the refused create made it read, then drop the duplicate
    runtime.run_until_idle()
    assert runtime.store.get_execution(arn).status == "SUCCEEDED"
    assert calls == ["a"]


def test_a_start_after_deploy_uses_the_new_version(embedded) -> None:
    calls: list[str] = []
    runtime = embedded({n: counting(calls, n) for n in ("a", "b")}, backend="memory")
    assert runtime.deploy("sm", chain("a")) == 1
    first = runtime.start("sm", {}, "e1")
    runtime.run_until_idle()
    assert runtime.deploy("sm", chain("b")) == 2  # at once: no stale newest version
    second = runtime.start("sm", {}, "e2")
    runtime.run_until_idle()
    assert runtime.store.get_execution(first).output == {"a": True}
    assert runtime.store.get_execution(second).output == {"b": True}
    assert calls == ["a", "b"]


@pytest.mark.parametrize("backend", ["memory", "moto"])
def test_wait_finished_wakes_on_final_commits(embedded, backend: str) -> None:
    runtime = embedded({"a": counting([], "a")}, backend=backend, skip_time=False)
    runtime.deploy("sm", chain("a"))
    arns = [runtime.start("sm", {"i": i}, f"e{i}") for i in range(5)]
    runtime.wait_finished(arns, timeout=60)
    assert [runtime.store.get_execution(a).status for a in arns] == ["SUCCEEDED"] * 5


def test_durable_heartbeat_checks_are_deleted_when_the_task_finishes(embedded) -> None:
    """Every heartbeat moves the deadline by scheduling a new check; with checks
    longer than SQS's delay (durable timers) each one must be deleted once the task
    is done, not left to fire stale (issue 9: heartbeat-check timers never deleted)."""
    runtime = embedded({"slow": lambda e, c: 1}, backend="memory", skip_time=True)
    runtime.deploy("sm", chain("slow", HeartbeatSeconds=3600))
    arn = runtime.start("sm", {}, "e1")
    events_pump, tasks_pump = runtime.pumps
    events_pump.poll_once()  # dispatched; the step runs later
    (task_id,) = _outstanding(runtime, arn)
    started = runtime.clock.now()
    for minutes in (10, 20):  # two heartbeats: two more durable checks
        runtime.clock.set(started + timedelta(minutes=minutes))
        heartbeat = runtime.orchestrator.task_heartbeat_message(arn, task_id)
        runtime.queues.send(EVENTS_QUEUE, [heartbeat])
        events_pump.poll_once()
    far = "9999-12-31T23:59:59.999999+00:00"
    checks = [t for t in runtime.store.due_timers(far) if t.timer_id.startswith("heartbeat|")]
    assert len(checks) >= 3  # the first check and one per heartbeat
    tasks_pump.poll_once()  # the step runs and its result is committed
    assert runtime.store.get_execution(arn).status == "SUCCEEDED"
    assert runtime.store.due_timers(far) == []  # all deleted

"""Signed task tokens and heartbeats that move a task's heartbeat deadline on."""

from __future__ import annotations

import base64
import json
from datetime import timedelta
from typing import Any

import pytest
from stepq.core.events import (
    CallbackReceived,
    RunTask,
    ScheduleHeartbeatCheck,
    StartExecution,
    StartTimer,
    TaskHeartbeat,
    TaskSucceeded,
    TaskTimedOut,
    TimerFired,
)
from stepq.core.execution import ExecutionState, new_execution
from stepq.core.interpreter import decide, make_token, parse_token, replay, verify_token
from stepq.core.machine import Machine
from stepq.hosting.local_runner import DEFAULT_START
from test_interpreter import lam, one  # tests/unit is on sys.path (rootdir-relative)

T = DEFAULT_START
SECRET = "k9Jx2mQ-test-secret-not-random"
WAIT_RESOURCE = "arn:aws:states:::lambda:invoke.waitForTaskToken"


def at(seconds: float):
    return T + timedelta(seconds=seconds)


def machine_of(state: dict[str, Any], *more: tuple[str, dict[str, Any]]) -> Machine:
    definition = one(state)
    if more:
        definition = {
            "StartAt": "S",
            "States": {"S": state, **dict(more)},
        }
    return Machine(definition, name="sm")


def started(
    machine: Machine, secret: str | None = SECRET, name: str = "e"
) -> tuple[ExecutionState, RunTask]:
    state0 = new_execution(name=name, state_machine_name="sm", start_time=T, token_secret=secret)
    state1, decision = decide(machine, state0, StartExecution({}, T))
    task = next(c for c in decision.commands if isinstance(c, RunTask))
    return state1, task


def waiting_machine(**extra: Any) -> Machine:
    return machine_of(
        {
            "Type": "Task",
            "Resource": WAIT_RESOURCE,
            "Parameters": {"FunctionName": "notify", "Payload": {"token.$": "$$.Task.Token"}},
            **extra,
        }
    )


def assert_ignored(machine: Machine, state: ExecutionState, event: Any) -> None:
    after, decision = decide(machine, state, event)
    assert decision.events == [] and decision.commands == []
    assert after.status == "RUNNING" and after.tokens == state.tokens and after.tasks == state.tasks


def b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


# --- tokens ---------------------------------------------------------------------


def test_token_is_signed_short_url_safe_and_names_its_task() -> None:
    state, task = started(waiting_machine())
    token = task.token
    assert token is not None
    _, dot, mac = token.partition(".")
    assert dot and len(mac) == 32
    assert set(token) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.")
    assert json.loads(json.dumps(token)) == token
    assert len(token) < 300
    assert parse_token(token) == (state.meta.execution_arn, task.task_id)
    assert verify_token(state, token)
    assert state.tokens == {token: task.task_id}
    # the secret is in the key: the same execution with another secret mints another token
    _, other = started(waiting_machine(), secret="another-secret")
    assert other.token != token and parse_token(other.token or "") == parse_token(token)
    assert not verify_token(state, other.token or "")


def test_token_for_a_long_arn_stays_short() -> None:
    state = new_execution(
        name="n" * 80, state_machine_name="m" * 80, start_time=T, token_secret=SECRET
    )
    token = make_token(state.meta, "f123:4567")
    assert len(token) < 400 and verify_token(state, token)


def test_a_valid_token_resumes_the_execution() -> None:
    machine = waiting_machine()
    state, task = started(machine)
    state, d = decide(machine, state, TaskSucceeded(task.task_id, {"ack": True}, at(1)))
    assert [e.type for e in d.events] == ["TaskSubmitted"]
    done, d = decide(machine, state, CallbackReceived(task.token or "", at(2), output={"ok": 1}))
    assert "TaskSucceeded" in [e.type for e in d.events]
    assert (done.status, done.output) == ("SUCCEEDED", {"ok": 1})


def forgeries(state: ExecutionState, token: str) -> dict[str, str]:
    arn, task_id = parse_token(token) or ("", "")
    payload, _, mac = token.partition(".")
    flipped = mac[:-1] + ("A" if mac[-1] != "A" else "B")
    other_arn = arn.rsplit(":", 1)[0] + ":victim"
    return {
        "wrong signature": f"{payload}.{flipped}",
        "no signature": payload,
        "empty signature": f"{payload}.",
        "tampered arn": f"{b64(json.dumps([other_arn, task_id]).encode())}.{mac}",
        "tampered task id": f"{b64(json.dumps([arn, task_id + '0']).encode())}.{mac}",
        "unsigned, old format": b64(json.dumps([arn, task_id], separators=(",", ":")).encode()),
        "signed with a guessed key": make_token(
            new_execution(name="e", state_machine_name="sm", start_time=T).meta, task_id
        ),
        "garbage": "not a token",
    }


@pytest.mark.parametrize(
    "kind",
    [
        "wrong signature",
        "no signature",
        "empty signature",
        "tampered arn",
        "tampered task id",
        "unsigned, old format",
        "signed with a guessed key",
        "garbage",
    ],
)
def test_a_forged_token_is_ignored(kind: str) -> None:
    machine = waiting_machine()
    state, task = started(machine)
    forged = forgeries(state, task.token or "")[kind]
    assert forged != task.token
    assert not verify_token(state, forged)
    assert_ignored(machine, state, CallbackReceived(forged, at(1), output={"pwned": True}))
    assert_ignored(machine, state, CallbackReceived(forged, at(1), error="X", failed=True))
    # the genuine token still works afterwards
    done, _ = decide(machine, state, CallbackReceived(task.token or "", at(2), output=1))
    assert done.status == "SUCCEEDED"


def test_another_executions_valid_token_is_ignored() -> None:
    machine = waiting_machine()
    mine, _ = started(machine, name="mine")
    _, theirs = started(machine, name="theirs")
    assert_ignored(machine, mine, CallbackReceived(theirs.token or "", at(1), output=1))


def test_a_valid_token_of_a_finished_task_is_ignored() -> None:
    machine = waiting_machine()
    state, task = started(machine)
    done, _ = decide(machine, state, CallbackReceived(task.token or "", at(1), output=1))
    assert done.status == "SUCCEEDED"
    _, d = decide(machine, done, CallbackReceived(task.token or "", at(2), output=2))
    assert d.events == [] and d.commands == []


def test_without_a_secret_tokens_are_deterministic_and_still_checked() -> None:
    machine = waiting_machine()
    state_a, task_a = started(machine, secret=None)
    _, task_b = started(machine, secret=None)
    assert task_a.token == task_b.token  # replayable: the in-process fallback key
    forged = forgeries(state_a, task_a.token or "")["wrong signature"]
    assert_ignored(machine, state_a, CallbackReceived(forged, at(1), output=1))
    done, _ = decide(machine, state_a, CallbackReceived(task_a.token or "", at(1), output=1))
    assert done.status == "SUCCEEDED"


def test_an_unsigned_token_from_before_signing_still_resumes_its_execution() -> None:
    """A snapshot written before tokens were signed: no secret, an old-format token outstanding."""
    machine = waiting_machine()
    state, task = started(machine, secret=None)
    legacy = b64(
        json.dumps([state.meta.execution_arn, task.task_id], separators=(",", ":")).encode()
    )
    state.tokens = {legacy: task.task_id}
    frame = state.frames[state.tasks[task.task_id]]
    frame.scratch["token"] = legacy
    assert parse_token(legacy) == (state.meta.execution_arn, task.task_id)
    assert_ignored(machine, state, CallbackReceived(legacy + "x", at(1), output=1))
    done, _ = decide(machine, state, CallbackReceived(legacy, at(1), output=1))
    assert done.status == "SUCCEEDED"
    # ...but never once the execution has a secret
    state.meta.token_secret = SECRET
    assert not verify_token(state, legacy)
    assert_ignored(machine, state, CallbackReceived(legacy, at(1), output=1))


def test_snapshot_codec_drops_the_secret_and_keeps_the_heartbeat_bookkeeping() -> None:
    """The secret never enters a snapshot (the runtime derives it on load)."""
    from stepq.runtime import codec

    machine = machine_of({"Type": "Task", "Resource": lam("f"), "HeartbeatSeconds": 10})
    state, task = started(machine)
    state, _ = decide(machine, state, TaskHeartbeat(task.task_id, at(8)))
    encoded = codec.encode_state(state)
    assert SECRET not in json.dumps(encoded)
    data = json.loads(json.dumps(encoded))  # plain JSON all through
    restored = codec.decode_state(data)
    assert restored.meta.token_secret is None
    restored.meta.token_secret = SECRET  # what the applier does after loading
    assert restored == state
    assert SECRET not in repr(state.meta)
    _, d = decide(machine, restored, TaskTimedOut(task.task_id, at(10), heartbeat=True))
    assert d.events == [] and d.commands == []


# --- heartbeats -------------------------------------------------------------------


def heartbeat_task(**extra: Any) -> dict[str, Any]:
    return {"Type": "Task", "Resource": lam("f"), "HeartbeatSeconds": 10, **extra}


def test_heartbeat_moves_the_deadline_on_and_schedules_a_check() -> None:
    machine = machine_of(heartbeat_task())
    state, task = started(machine)
    assert task.heartbeat_seconds == 10

    state, d = decide(machine, state, TaskHeartbeat(task.task_id, at(8)))
    assert d.events == []  # Step Functions records no history for a heartbeat
    assert d.commands == [ScheduleHeartbeatCheck(task.task_id, at(18), 1)]

    # the check the host scheduled at dispatch (t+10) is now stale
    _, d = decide(machine, state, TaskTimedOut(task.task_id, at(10), heartbeat=True))
    assert d.events == [] and d.commands == []

    # no heartbeat since: the check at t+18 fails the task
    done, d = decide(machine, state, TaskTimedOut(task.task_id, at(18), heartbeat=True))
    assert [e.type for e in d.events][:1] == ["LambdaFunctionTimedOut"]
    assert d.events[0].details["error"] == "States.HeartbeatTimeout"
    assert (done.status, done.error) == ("FAILED", "States.HeartbeatTimeout")


def test_without_any_heartbeat_the_first_check_fails_the_task() -> None:
    machine = machine_of(heartbeat_task())
    state, task = started(machine)
    done, _ = decide(machine, state, TaskTimedOut(task.task_id, at(10), heartbeat=True))
    assert (done.status, done.error) == ("FAILED", "States.HeartbeatTimeout")


def test_each_heartbeat_counts_and_a_late_older_one_changes_nothing() -> None:
    machine = machine_of(heartbeat_task())
    state, task = started(machine)
    state, d1 = decide(machine, state, TaskHeartbeat(task.task_id, at(8)))
    state, d2 = decide(machine, state, TaskHeartbeat(task.task_id, at(15)))
    assert d1.commands == [ScheduleHeartbeatCheck(task.task_id, at(18), 1)]
    assert d2.commands == [ScheduleHeartbeatCheck(task.task_id, at(25), 2)]
    _, d = decide(machine, state, TaskHeartbeat(task.task_id, at(5)))  # delivered out of order
    assert d.events == [] and d.commands == []
    for stale in (10, 18, 24.999):
        _, d = decide(machine, state, TaskTimedOut(task.task_id, at(stale), heartbeat=True))
        assert d.events == [] and d.commands == [], stale
    done, _ = decide(machine, state, TaskTimedOut(task.task_id, at(25), heartbeat=True))
    assert done.error == "States.HeartbeatTimeout"


def test_a_heartbeat_does_not_extend_timeout_seconds() -> None:
    machine = machine_of(heartbeat_task(TimeoutSeconds=15))
    state, task = started(machine)
    state, _ = decide(machine, state, TaskHeartbeat(task.task_id, at(8)))
    done, _ = decide(machine, state, TaskTimedOut(task.task_id, at(15)))
    assert (done.status, done.error) == ("FAILED", "States.Timeout")


def test_a_task_that_answered_in_time_succeeds_and_later_checks_are_stale() -> None:
    machine = machine_of(heartbeat_task())
    state, task = started(machine)
    state, _ = decide(machine, state, TaskHeartbeat(task.task_id, at(8)))
    done, _ = decide(machine, state, TaskSucceeded(task.task_id, {"r": 1}, at(12)))
    assert (done.status, done.output) == ("SUCCEEDED", {"r": 1})
    _, d = decide(machine, done, TaskTimedOut(task.task_id, at(18), heartbeat=True))
    assert d.events == [] and d.commands == []


def test_heartbeat_timeout_is_caught() -> None:
    state_def = heartbeat_task(
        Catch=[{"ErrorEquals": ["States.HeartbeatTimeout"], "Next": "Handled"}]
    )
    state_def["Next"] = "Never"
    machine = machine_of(
        state_def,
        ("Handled", {"Type": "Pass", "End": True}),
        ("Never", {"Type": "Fail", "Error": "NotCaught"}),
    )
    state, task = started(machine)
    state, _ = decide(machine, state, TaskHeartbeat(task.task_id, at(8)))
    state, _ = decide(machine, state, TaskTimedOut(task.task_id, at(10), heartbeat=True))
    assert state.status == "RUNNING"
    done, _ = decide(machine, state, TaskTimedOut(task.task_id, at(18), heartbeat=True))
    assert done.status == "SUCCEEDED"
    assert done.output == {"Error": "States.HeartbeatTimeout", "Cause": ""}


def test_heartbeat_timeout_is_retried_with_fresh_heartbeat_bookkeeping() -> None:
    machine = machine_of(
        heartbeat_task(
            Retry=[
                {"ErrorEquals": ["States.HeartbeatTimeout"], "MaxAttempts": 1, "IntervalSeconds": 1}
            ]
        )
    )
    state, first = started(machine)
    state, _ = decide(machine, state, TaskHeartbeat(first.task_id, at(8)))
    state, d = decide(machine, state, TaskTimedOut(first.task_id, at(18), heartbeat=True))
    timer = next(c for c in d.commands if isinstance(c, StartTimer))
    state, d = decide(machine, state, TimerFired(timer.timer_id, timer.fire_at))
    second = next(c for c in d.commands if isinstance(c, RunTask))
    assert second.task_id != first.task_id and second.heartbeat_seconds == 10

    # the first attempt's heartbeats and checks no longer count
    assert_ignored(machine, state, TaskHeartbeat(first.task_id, at(20)))
    _, d = decide(machine, state, TaskTimedOut(first.task_id, at(28), heartbeat=True))
    assert d.events == [] and d.commands == []
    # the second attempt keeps its own count: its first heartbeat is number 1
    state, d = decide(machine, state, TaskHeartbeat(second.task_id, at(21)))
    assert d.commands == [ScheduleHeartbeatCheck(second.task_id, at(31), 1)]
    _, d = decide(machine, state, TaskTimedOut(second.task_id, at(29), heartbeat=True))
    assert d.events == [] and d.commands == []
    done, _ = decide(machine, state, TaskTimedOut(second.task_id, at(31), heartbeat=True))
    assert (done.status, done.error) == ("FAILED", "States.HeartbeatTimeout")


def test_heartbeat_for_an_unknown_or_finished_task_is_ignored() -> None:
    machine = machine_of(heartbeat_task())
    state, task = started(machine)
    assert_ignored(machine, state, TaskHeartbeat("f1:999", at(8)))
    assert_ignored(machine, state, TaskHeartbeat("no-such-task", at(8)))
    done, _ = decide(machine, state, TaskSucceeded(task.task_id, 1, at(9)))
    _, d = decide(machine, done, TaskHeartbeat(task.task_id, at(10)))
    assert d.events == [] and d.commands == []


def test_heartbeat_for_a_task_without_heartbeat_seconds_is_ignored() -> None:
    machine = machine_of({"Type": "Task", "Resource": lam("f"), "TimeoutSeconds": 30})
    state, task = started(machine)
    assert task.heartbeat_seconds is None
    assert_ignored(machine, state, TaskHeartbeat(task.task_id, at(8)))


def test_wait_for_task_token_heartbeats_by_token() -> None:
    machine = waiting_machine(HeartbeatSeconds=10)
    state, task = started(machine)
    token = task.token or ""
    routed = parse_token(token)
    assert routed is not None
    _, task_id = routed
    state, _ = decide(machine, state, TaskSucceeded(task.task_id, {"ack": 1}, at(1)))

    # forged tokens, or a token naming another task than the event, move nothing
    for forged in forgeries(state, token).values():
        assert_ignored(machine, state, TaskHeartbeat(task_id, at(8), token=forged))
    assert_ignored(machine, state, TaskHeartbeat("f1:999", at(8), token=token))

    state, d = decide(machine, state, TaskHeartbeat(task_id, at(8), token=token))
    assert d.events == [] and d.commands == [ScheduleHeartbeatCheck(task.task_id, at(18), 1)]
    _, d = decide(machine, state, TaskTimedOut(task.task_id, at(10), heartbeat=True))
    assert d.events == [] and d.commands == []
    done, d = decide(machine, state, TaskTimedOut(task.task_id, at(18), heartbeat=True))
    assert [e.type for e in d.events][:1] == ["TaskTimedOut"]
    assert done.error == "States.HeartbeatTimeout"


def test_heartbeats_replay_to_the_same_history_and_commands() -> None:
    machine = machine_of(heartbeat_task())
    initial = new_execution(name="e", state_machine_name="sm", start_time=T, token_secret=SECRET)
    _, task = started(machine)
    inbound = [
        StartExecution({}, T),
        TaskHeartbeat(task.task_id, at(8)),
        TaskTimedOut(task.task_id, at(10), heartbeat=True),
        TaskHeartbeat(task.task_id, at(12)),
        TaskTimedOut(task.task_id, at(18), heartbeat=True),
        TaskTimedOut(task.task_id, at(22), heartbeat=True),
    ]
    first = replay(machine, initial, inbound)
    second = replay(machine, initial, inbound)
    assert [e.to_dict() for e in first[1]] == [e.to_dict() for e in second[1]]
    assert first[2] == second[2]
    checks = [c for c in first[2] if isinstance(c, ScheduleHeartbeatCheck)]
    assert checks == [
        ScheduleHeartbeatCheck(task.task_id, at(18), 1),
        ScheduleHeartbeatCheck(task.task_id, at(22), 2),
    ]
    assert first[0].error == "States.HeartbeatTimeout"

"""Retention through the whole runtime: a callback that takes longer than R + W.

The execution waits on a ``.waitForTaskToken`` task while time is skipped by
months; the scheduler's daily renewal keeps its commits alive, and when the
token comes back it finishes with its whole history. A finished one is then
kept for R and gone after R + W. On the memory backend and on moto.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from stepq.clock import ManualClock
from stepq.errors import ExecutionAlreadyExistsError, NotFoundError, NotRedrivableError
from stepq.runtime.retention import SLACK

R = 90
DAY = timedelta(days=1)
CALLBACK = {
    "StartAt": "Ask",
    "States": {
        "Ask": {
            "Type": "Task",
            "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken",
            "Parameters": {"FunctionName": "ask", "Payload": {"token.$": "$$.Task.Token"}},
            "Next": "Done",
        },
        "Done": {"Type": "Pass", "End": True},
    },
}


@pytest.mark.parametrize("backend", ["memory", "moto"])
def test_a_callback_longer_than_r_plus_w_is_renewed_and_finishes(
    embedded: Any, backend: str
) -> None:
    tokens: list[str] = []
    clock = ManualClock()
    runtime = embedded(
        {"ask": lambda event, context: tokens.append(event["token"])},
        backend=backend,
        clock=clock,
        retention_days=R,
    )
    runtime.deploy("sm", CALLBACK)
    arn = runtime.start("sm", {"n": 1}, "slow")
    runtime.run_until_idle()
    assert len(tokens) == 1 and runtime.store.get_execution(arn).status == "RUNNING"
    started = clock.now()
    while clock.now() < started + timedelta(days=R) + SLACK + 10 * DAY:
        clock.advance(DAY.total_seconds())
        runtime.scheduler.renew_expiries()
        assert runtime.store.get_execution(arn).status == "RUNNING"
    runtime.client.send_task_success(tokens[0], {"answer": 42})
    runtime.run_until_idle()
    done = runtime.store.get_execution(arn)
    assert (done.status, done.output) == ("SUCCEEDED", {"answer": 42})
    kinds = [e["type"] for e in runtime.history(arn)]
    assert kinds[0] == "ExecutionStarted" and kinds[-1] == "ExecutionSucceeded"
    assert "TaskSucceeded" in kinds

    end = clock.now()
    clock.set(end + timedelta(days=R) - DAY)
    assert [h.name for h in runtime.store.list_executions("sm", "SUCCEEDED")] == ["slow"]
    with pytest.raises(NotRedrivableError):  # succeeded: found, and not redrivable
        runtime.client.redrive_execution(arn)
    clock.set(end + timedelta(days=R) + SLACK + timedelta(seconds=1))
    with pytest.raises(NotFoundError):
        runtime.store.describe(arn)
    with pytest.raises(NotFoundError):  # RedriveExecution: ExecutionDoesNotExist
        runtime.client.redrive_execution(arn)
    assert runtime.store.list_executions("sm") == []


@pytest.mark.parametrize("backend", ["memory", "moto"])
def test_a_name_is_reused_once_its_old_execution_has_expired(embedded: Any, backend: str) -> None:
    """Its old commits still in the table (TTL deletes days late), a new execution of
    the same name starts, runs and lists as itself alone."""
    clock = ManualClock()
    runtime = embedded({}, backend=backend, clock=clock, retention_days=R)
    steps = {f"S{i}": {"Type": "Wait", "Seconds": 1, "Next": f"S{i + 1}"} for i in range(5)}
    steps["S5"] = {"Type": "Pass", "End": True}  # a commit per Wait: leftovers above the new
    runtime.deploy("sm", {"StartAt": "S0", "States": steps})
    arn = runtime.start("sm", {"run": 1}, "again")
    runtime.run_until_idle()
    old_events, old_seq = len(runtime.history(arn)), runtime.store.latest(arn).seq
    assert runtime.store.get_execution(arn).output == {"run": 1}

    clock.advance((timedelta(days=R) + SLACK + DAY).total_seconds())
    runtime.deploy("sm", {"StartAt": "Only", "States": {"Only": {"Type": "Pass", "End": True}}})
    assert runtime.start("sm", {"run": 2}, "again") == arn
    runtime.run_until_idle()
    done = runtime.store.get_execution(arn)
    assert (done.status, done.output) == ("SUCCEEDED", {"run": 2})
    kinds = [e["type"] for e in runtime.history(arn)]
    assert kinds.count("ExecutionStarted") == 1 and len(kinds) < old_events
    assert runtime.store.latest(arn).seq < old_seq  # read past the old commits above it
    assert [h.name for h in runtime.store.list_executions("sm")] == ["again"]
    assert [h.name for h in runtime.store.list_executions("sm", "SUCCEEDED")] == ["again"]


@pytest.mark.parametrize("backend", ["memory", "moto"])
def test_a_name_held_by_an_expired_executions_final_commit_is_refused_until_it_expires(
    embedded: Any, backend: str
) -> None:
    """The old run's first commit has expired (it is gone) but its final commit, written
    10 days later, has not: a start now would sit below it and never finish, so it is
    refused, saying until when; after that the name is reused."""
    tokens: list[str] = []
    clock = ManualClock()
    runtime = embedded(
        {"ask": lambda event, context: tokens.append(event["token"])},
        backend=backend,
        clock=clock,
        retention_days=R,
    )
    runtime.deploy("sm", CALLBACK)
    arn = runtime.start("sm", {"n": 1}, "held")
    runtime.run_until_idle()
    started = clock.now()
    clock.advance((10 * DAY).total_seconds())
    runtime.client.send_task_success(tokens[0], {"answer": 1})
    runtime.run_until_idle()
    end = clock.now()
    assert runtime.store.get_execution(arn).status == "SUCCEEDED"

    clock.set(started + timedelta(days=R) + SLACK + timedelta(seconds=1))
    with pytest.raises(NotFoundError):
        runtime.store.get_execution(arn)
    with pytest.raises(ExecutionAlreadyExistsError, match="kept until"):
        runtime.start("sm", {"n": 2}, "held")
    with pytest.raises(NotFoundError):  # nothing of the refused start is left
        runtime.store.get_execution(arn)
    assert runtime.store.list_executions("sm") == []

    clock.set(end + timedelta(days=R) + SLACK + timedelta(seconds=1))
    assert runtime.start("sm", {"n": 3}, "held") == arn
    runtime.run_until_idle()
    runtime.client.send_task_success(tokens[-1], {"answer": 3})
    runtime.run_until_idle()
    done = runtime.store.get_execution(arn)
    assert (done.status, done.input, done.output) == ("SUCCEEDED", {"n": 3}, {"answer": 3})
    assert len(tokens) == 2

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
from stepq.errors import NotFoundError, NotRedrivableError
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

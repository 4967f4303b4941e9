"""Redrive in the durable runtime: one conditional write, whatever races it, on both stores."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from stepq.errors import NotRedrivableError
from stepq.runtime.client import RedriveFacts
from stepq.runtime.ports import Commit
from stepq.runtime.reconcile import Reconciler

LAMBDA = "arn:aws:lambda:us-east-1:111111111111:function:"
ONE = {"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": LAMBDA + "step", "End": True}}}


@pytest.fixture(params=["memory", "moto"])
def failed(request: pytest.FixtureRequest, embedded: Any) -> tuple[Any, str, dict[str, int]]:
    """A runtime with no loops running, and an execution that failed on its first run."""
    calls = {"n": 0}

    def step(event: Any, context: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeError("first run fails")
        return {"run": calls["n"]}

    runtime = embedded({"step": step}, backend=request.param)
    runtime.deploy("one", ONE)
    arn = runtime.start("one", {"n": 1}, "e1")
    runtime.run_until_idle()
    assert runtime.store.get_execution(arn).status == "FAILED"
    return runtime, arn, calls


def _redriven(runtime: Any, arn: str) -> int:
    return [e["type"] for e in runtime.history(arn)].count("ExecutionRedriven")


def test_of_two_racing_redrives_exactly_one_is_made(failed: Any) -> None:
    runtime, arn, calls = failed
    start = threading.Barrier(2)
    outcomes: list[str] = []

    def redrive() -> None:
        start.wait()
        try:
            runtime.client.redrive_execution(arn)
            outcomes.append("made")
        except NotRedrivableError as exc:
            outcomes.append(str(exc))

    threads = [threading.Thread(target=redrive) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(outcomes) == ["Execution is RUNNING and cannot be redriven", "made"]
    runtime.run_until_idle()
    assert runtime.store.get_execution(arn).status == "SUCCEEDED"
    assert _redriven(runtime, arn) == 1 and calls["n"] == 2


def test_a_plan_made_again_finds_its_commit_and_a_stale_plan_loses(failed: Any) -> None:
    runtime, arn, _ = failed
    plan = runtime.client.plan_redrive(arn, "caller-1")
    rival = runtime.client.plan_redrive(arn, "caller-2")
    assert runtime.client.redrive(plan) is True
    assert runtime.client.redrive(plan) is True  # asked again (a lost reply): the same one
    assert runtime.client.redrive(rival) is False  # the same redrive count, taken
    assert _redriven(runtime, arn) == 1
    assert [h.execution_id for h in runtime.store.list_executions("one", "RUNNING")] == [arn]
    assert runtime.store.list_executions("one", "FAILED") == []


def test_work_a_redrive_could_not_send_is_found_by_reconcile(failed: Any) -> None:
    runtime, arn, calls = failed
    plan = runtime.client.plan_redrive(arn)
    # The applier alone: the commit is written, its task message never sent.
    from stepq.core.events import RedriveRequested
    from stepq.runtime.applier.inbound import Inbound
    from stepq.runtime.applier.outbox import Outbox

    inbound = Inbound(plan.message_id, RedriveRequested(plan.at, plan.count))
    runtime.orchestrator.applier.apply(arn, [inbound], Outbox())
    runtime.run_until_idle()
    assert runtime.store.get_execution(arn).status == "RUNNING" and calls["n"] == 1
    reconciler = Reconciler(runtime.store, runtime.queues, runtime.clock)
    assert [type(c).__name__ for c in reconciler.reconcile(arn).commands] == ["RunTask"]
    runtime.run_until_idle()
    assert runtime.store.get_execution(arn).status == "SUCCEEDED" and calls["n"] == 2


def test_a_final_commit_without_a_kept_state_is_not_redrivable() -> None:
    old = Commit(seq=4, snapshot={}, events=[], commands=[], cause_id="", at="", status="FAILED")
    assert RedriveFacts.of(old).reason == (
        "Execution was started before the launch of RedriveExecution"
    )
    done = Commit(
        seq=4, snapshot={}, events=[], commands=[], cause_id="", at="", status="SUCCEEDED"
    )
    assert RedriveFacts.of(done) == RedriveFacts(
        0, None, "Execution is SUCCEEDED and cannot be redriven"
    )

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


def test_a_stopped_wide_map_keeps_its_held_outputs_through_a_redrive(embedded: Any) -> None:
    tokens: dict[int, str] = {}

    def quick(event: Any, context: Any) -> Any:
        return f"item {event:03d} " + "x" * 40  # the outputs outgrow the snapshot: held

    def ask(event: Any, context: Any) -> Any:
        tokens[event["item"]] = event["token"]

    wide = {
        "StartAt": "Each",
        "States": {
            "Each": {
                "Type": "Map",
                "ItemProcessor": {
                    "StartAt": "Which",
                    "States": {
                        "Which": {
                            "Type": "Choice",
                            "Choices": [{"Variable": "$", "NumericLessThan": 45, "Next": "Quick"}],
                            "Default": "Ask",
                        },
                        "Quick": {"Type": "Task", "Resource": LAMBDA + "quick", "End": True},
                        "Ask": {
                            "Type": "Task",
                            "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken",
                            "Parameters": {
                                "FunctionName": "ask",
                                "Payload": {"item.$": "$", "token.$": "$$.Task.Token"},
                            },
                            "End": True,
                        },
                    },
                },
                "End": True,
            }
        },
    }
    runtime = embedded({"quick": quick, "ask": ask}, backend="memory")
    runtime.deploy("wide", wide)
    arn = runtime.start("wide", list(range(50)), "w1")
    runtime.run_until_idle()
    assert sorted(tokens) == [45, 46, 47, 48, 49]
    runtime.client.stop_execution(arn)
    runtime.run_until_idle()
    assert runtime.store.get_execution(arn).status == "ABORTED"
    final = runtime.store.latest(arn)
    assert final.snapshot.get("held")  # the outputs stay in the commits that decided them
    first = dict(tokens)
    runtime.client.redrive_execution(arn)
    runtime.run_until_idle()
    assert sorted(tokens) == [45, 46, 47, 48, 49] and set(tokens.values()).isdisjoint(
        first.values()
    )
    for item, token in tokens.items():
        runtime.client.send_task_success(token, f"answer {item}")
    runtime.run_until_idle()
    done = runtime.store.get_execution(arn)
    assert done.status == "SUCCEEDED", done
    assert done.output[:45] == [quick(i, None) for i in range(45)]
    assert done.output[45:] == [f"answer {i}" for i in range(45, 50)]


@pytest.mark.parametrize("backend", ["memory", "moto"])
def test_an_execution_that_failed_in_its_first_commit_is_redriven(
    embedded: Any, backend: str
) -> None:
    # Fails at once (commit 1 is also the final one) unless it has been redriven.
    choose = {
        "QueryLanguage": "JSONata",
        "StartAt": "Check",
        "States": {
            "Check": {
                "Type": "Pass",
                "Output": "{% $states.context.Execution.RedriveCount = 0"
                " ? $error('first run') : $states.input %}",
                "End": True,
            }
        },
    }
    runtime = embedded({}, backend=backend)
    runtime.deploy("choose", choose)
    arn = runtime.start("choose", {"n": 1}, "c1")
    failed = runtime.store.get_execution(arn)
    assert failed.status == "FAILED" and failed.error == "States.QueryEvaluationError"
    assert runtime.store.latest(arn).seq == 1
    runtime.client.redrive_execution(arn)
    runtime.run_until_idle()
    done = runtime.store.get_execution(arn)
    assert (done.status, done.error, done.output, done.input) == (
        "SUCCEEDED",
        None,
        {"n": 1},
        {"n": 1},
    )
    assert [h.status for h in runtime.store.list_executions("choose")] == ["SUCCEEDED"]
    assert [h.execution_id for h in runtime.store.list_executions("choose", "SUCCEEDED")] == [arn]
    assert runtime.store.list_executions("choose", "FAILED") == []

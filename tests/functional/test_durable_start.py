"""A start is durable and synchronous (issue 9, defects 2 and 3).

``Client.start_execution`` writes the execution's first commit before it
returns: every refusal reaches the caller as an error, and an ARN it
returned always resolves to an execution.
"""

from __future__ import annotations

import hashlib
from typing import Any

import pytest
from stepq import EmbeddedRuntime
from stepq.errors import ExecutionAlreadyExistsError, NotFoundError, StoreError

LAMBDA = "arn:aws:lambda:us-east-1:111111111111:function:"
ONE_STEP = {
    "StartAt": "T",
    "States": {"T": {"Type": "Task", "Resource": LAMBDA + "step", "End": True}},
}
HOLD = {"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 3600, "End": True}}}


@pytest.fixture
def runtime() -> Any:
    rt = EmbeddedRuntime(
        {"step": lambda event, context: {"seen": event}}, backend="memory", skip_time=True
    )
    rt.deploy("one", ONE_STEP)
    rt.deploy("hold", HOLD)
    yield rt
    rt.close()


def test_the_execution_exists_when_start_returns(runtime: Any) -> None:
    arn = runtime.start("one", {"n": 1}, "first")
    # No loop has run: the client wrote the first commit itself.
    assert runtime.store.get_execution(arn).status == "RUNNING"
    assert runtime.wait(arn).output == {"seen": {"n": 1}}


def test_an_unknown_machine_is_refused_and_nothing_is_stored(runtime: Any) -> None:
    with pytest.raises(NotFoundError, match="nope"):
        runtime.start("nope", {}, "x")
    assert runtime.store.list_machines() == ["hold", "one"]


def test_a_name_reused_with_another_input_is_refused(runtime: Any) -> None:
    arn = runtime.start("hold", {"n": 1}, "same")
    assert runtime.start("hold", {"n": 1}, "same") == arn  # a retried start: same answer
    with pytest.raises(ExecutionAlreadyExistsError, match="another input"):
        runtime.start("hold", {"n": 2}, "same")
    assert runtime.store.history(arn)[0]["type"] == "ExecutionStarted"
    assert [e["type"] for e in runtime.store.history(arn)].count("ExecutionStarted") == 1


def test_a_finished_name_is_refused(runtime: Any) -> None:
    arn = runtime.start("one", {"n": 1}, "done")
    runtime.wait(arn)
    with pytest.raises(ExecutionAlreadyExistsError, match="SUCCEEDED"):
        runtime.start("one", {"n": 1}, "done")


def test_a_start_too_large_to_store_is_an_error_not_a_lost_arn(runtime: Any) -> None:
    # ~250 KB that does not compress: the first commit cannot be held in a
    # 400 KB item (the memory store enforces DynamoDB's limit).
    noise = "".join(hashlib.sha256(str(i).encode()).hexdigest() for i in range(7_800))
    with pytest.raises(StoreError, match="KB limit"):
        runtime.start("one", {"noise": noise}, "big")
    with pytest.raises(NotFoundError):
        runtime.store.get_execution(runtime.store and _arn("one", "big"))


def test_a_stop_for_an_execution_that_does_not_exist_is_refused(runtime: Any) -> None:
    with pytest.raises(NotFoundError):
        runtime.client.stop_execution(_arn("hold", "never"))


def test_a_start_whose_sends_were_lost_is_reconciled(runtime: Any) -> None:
    original = runtime.queues.send
    lost: list[str] = []

    def client_dies_after_the_commit(queue: str, messages: list[Any]) -> None:
        if queue.startswith("tasks-") and len(lost) < 2:  # batched send + retry
            lost.append(queue)
            raise RuntimeError("the client died before sending")
        original(queue, messages)

    runtime.queues.send = client_dies_after_the_commit
    arn = runtime.start("one", {"n": 7}, "orphan")
    assert lost
    runtime.run_until_idle()
    assert runtime.store.get_execution(arn).status == "RUNNING"  # nothing will wake it...

    runtime.clock.advance(16 * 60)  # ... until it has been quiet for 15 minutes
    report = runtime.scheduler.sweep_quiet()
    assert report is not None and report.reconciled == [arn]
    runtime.run_until_idle()
    assert runtime.store.get_execution(arn).output == {"seen": {"n": 7}}


def _arn(machine: str, name: str) -> str:
    return f"arn:aws:states:us-east-1:111111111111:execution:{machine}:{name}"

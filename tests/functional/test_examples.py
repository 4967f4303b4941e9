"""The example workflows, end to end through the durable runtime (threads, moto)."""

from __future__ import annotations

from datetime import datetime

import pytest
from stepq.testing import example


def run_example(embedded, name: str, data: dict, **options) -> tuple:
    definition, functions = example(name)
    runtime = embedded(functions, **options)
    runtime.deploy(name, definition)
    runtime.start_loops()
    arn = runtime.start(name, data, "e1")
    header = runtime.wait(arn, timeout=60)
    return header, [e["type"] for e in runtime.history(arn)], runtime


def test_order_saga_confirms(embedded) -> None:
    header, types, _ = run_example(
        embedded, "order_saga", {"order_id": "o-1", "amount": 3, "items": ["a"]}
    )
    assert header.status == "SUCCEEDED"
    assert header.output["status"] == "CONFIRMED"
    assert types.count("TaskStateEntered") == 3


def test_order_saga_compensates_when_shipping_fails(embedded) -> None:
    data = {"order_id": "o-2", "amount": 3, "items": ["a"], "fail_at": "ship"}
    header, types, _ = run_example(embedded, "order_saga", data)
    assert (header.status, header.error) == ("FAILED", "OrderFailed")
    entered = [t for t in types if t.endswith("Entered")]
    assert len(entered) == 6  # Charge, Reserve, Ship, Release, Refund, OrderFailed


@pytest.mark.parametrize(
    ("verdict", "status", "days"),
    [("approve", "SUCCEEDED", 1), ("reject", "FAILED", 0), ("silent", "SUCCEEDED", 3)],
)
def test_insurance_claim_callback_and_timers(
    embedded, verdict: str, status: str, days: int
) -> None:
    data = {"policy": "p-1", "amount": 500, "verdict": verdict}
    header, types, runtime = run_example(embedded, "insurance_claim", data)
    assert header.status == status
    if verdict == "approve":
        assert header.output["verification"] == {"score": 0.95, "verifier": "acme-verify"}
    # From the history (the clock may run on to a stale timer after the end).
    history = runtime.history(header.execution_id)
    elapsed = datetime.fromisoformat(history[-1]["timestamp"]) - datetime.fromisoformat(
        history[0]["timestamp"]
    )
    assert elapsed.days == days
    if verdict == "silent":
        assert header.output["status"] == "NEEDS_REVIEW"
        assert "TaskSubmitted" in types and "TaskTimedOut" in types


def test_data_pipeline_map_parallel_and_retry(embedded) -> None:
    header, types, _ = run_example(embedded, "data_pipeline", {"orders": 9})
    assert header.status == "SUCCEEDED"
    assert header.output == {"loaded": 9, "total": sum(10 * i for i in range(9))}
    assert types.count("MapIterationStarted") == 9
    assert types.count("LambdaFunctionFailed") == 3  # orders with total % 30 == 0 fail once

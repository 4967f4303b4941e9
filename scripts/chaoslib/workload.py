"""What the chaos run starts, and what each execution must end with.

A seeded mix of the three examples in ``state_machine/`` with their failure
paths (saga compensation, callback rejection, Map retries). The insurance
claim's one-day cooling-off Wait is shortened so that a run can see it fire
(it stays a Wait that spans kills and the outage). The expected outcome and
history of every execution come from a fault-free reference run of the same
inputs on the embedded runtime's memory backend (same core, same step
functions, no faults, time skipped).
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from stepq.runtime.steps import load_functions

from chaoslib.steps import EXAMPLES, MACHINES

STEPS_FILE = Path(__file__).resolve().parent / "steps.py"
COOLING_OFF_SECONDS = 20


@dataclass(frozen=True)
class Planned:
    """One execution the run starts."""

    machine: str
    name: str
    input: dict[str, Any]
    variant: str  # which path of the example it takes, for the report


@dataclass
class Expected:
    status: str
    output: Any
    error: str | None
    cause: str | None
    history: list[dict[str, Any]]


def definitions() -> dict[str, dict[str, Any]]:
    found = {}
    for machine in MACHINES:
        definition = json.loads((EXAMPLES / f"{machine}.asl.json").read_text(encoding="utf-8"))
        if machine == "insurance_claim":
            definition["States"]["CoolingOff"]["Seconds"] = COOLING_OFF_SECONDS
        found[machine] = definition
    return found


def _saga(i: int, rng: random.Random) -> Planned:
    fail_at = rng.choice([None, None, None, "charge", "reserve", "ship"])
    data: dict[str, Any] = {
        "order_id": f"o-{i}",
        "amount": rng.randint(1, 500),
        "items": rng.sample(["book", "lamp", "desk", "pen", "mug"], rng.randint(1, 3)),
    }
    if fail_at:
        data["fail_at"] = fail_at
    return Planned("order_saga", f"saga-{i}", data, f"fail_at={fail_at}" if fail_at else "happy")


def _pipeline(i: int, rng: random.Random) -> Planned:
    orders = rng.randint(2, 12)  # a Map of 2..12 items, every third retried once
    return Planned("data_pipeline", f"pipeline-{i}", {"orders": orders}, f"orders={orders}")


def _claim(i: int, rng: random.Random) -> Planned:
    verdict = rng.choice(["approve", "approve", "reject"])
    amount = rng.choice([800, 800, 25_000])  # 25,000 scores 0.5: escalated to a human
    data = {"policy": f"p-{i}", "amount": amount, "verdict": verdict}
    return Planned("insurance_claim", f"claim-{i}", data, f"{verdict},amount={amount}")


_MAKERS: list[Callable[[int, random.Random], Planned]] = [_saga, _pipeline, _claim]


def plan(count: int, seed: int) -> list[Planned]:
    """``count`` executions, the examples in turn, their paths drawn from ``seed``."""
    rng = random.Random(seed)
    return [_MAKERS[i % len(_MAKERS)](i, rng) for i in range(count)]


def reference(planned: list[Planned], timeout: float = 300.0) -> dict[str, Expected]:
    """Each execution's outcome and history without faults, by execution name."""
    from stepq.hosting.embedded import EmbeddedRuntime

    functions = load_functions(str(STEPS_FILE))
    expected: dict[str, Expected] = {}
    with EmbeddedRuntime(functions, skip_time=True, backend="memory") as runtime:
        for machine, definition in definitions().items():
            runtime.deploy(machine, definition)
        arns = {p.name: runtime.start(p.machine, p.input, p.name) for p in planned}
        runtime.wait_finished(list(arns.values()), timeout=timeout)
        for name, arn in arns.items():
            header = runtime.store.get_execution(arn)
            expected[name] = Expected(
                header.status, header.output, header.error, header.cause, runtime.history(arn)
            )
    return expected

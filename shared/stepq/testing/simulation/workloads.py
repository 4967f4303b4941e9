"""What the simulation runs: the bundled examples and generated state machines.

Step functions are deterministic in their input and attempt, so the pure
core can compute the outcome an execution must reach. Errors carry a fixed
cause (no request ids or stack traces that depend on timing). Inputs carry a
``tag`` so two tasks of one execution never look alike: the invariants
identify a step by (function, input without its token, attempt).
"""

from __future__ import annotations

import contextlib
import json
import random
from dataclasses import dataclass
from typing import Any

from stepq.runtime.steps import StepFunction
from stepq.testing import example

LAMBDA = "arn:aws:lambda:us-east-1:111111111111:function:"
CALLBACK = "arn:aws:states:::lambda:invoke.waitForTaskToken"
IDEMPOTENT = frozenset({"sim_charge"})  # declared idempotent_step: their side effect happens once
CALLBACK_TIMEOUT = 600  # a silent verifier times out after this


class _StepError(Exception):
    """A step's failure with a cause that does not depend on when or where it ran."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.lambda_cause = message
        self.lambda_stack: list[str] = []


class Flaky(_StepError):
    pass


class Boom(_StepError):
    pass


class Rejected(_StepError):
    pass


def sim_double(event: Any, context: Any) -> Any:
    return {"value": event.get("value", 0) * 2, "tag": event.get("tag")}


def sim_flaky(event: Any, context: Any) -> Any:
    if getattr(context, "attempt", 0) < event.get("fail_times", 0):
        raise Flaky("a transient failure")  # the same cause whichever item fails first
    return {"value": event.get("value", 0) + 1, "tag": event.get("tag")}


def sim_boom(event: Any, context: Any) -> Any:
    raise Boom("always fails")


def sim_charge(event: Any, context: Any) -> Any:
    return {"charged": event.get("amount", 0), "tag": event.get("tag")}


def sim_beat(event: Any, context: Any) -> Any:
    beat = getattr(context, "heartbeat", None)
    if beat is not None:
        with contextlib.suppress(Exception):  # a careful step: a lost beat is not its failure
            beat()
    return {"beat": event.get("tag")}


def sim_callback(event: Any, context: Any) -> Any:
    """Hands its token to a verifier (the client actor), which answers later."""
    client = getattr(context, "client", None)
    verdict = event.get("verdict", "approve")
    if client is not None and verdict != "silent":
        if verdict == "reject":
            client.send_task_failure(event["token"], error="Rejected", cause="no match")
        else:
            client.send_task_success(event["token"], {"ok": event.get("tag")})
    return {"submitted": event.get("tag")}


SIM_FUNCTIONS: dict[str, StepFunction] = {
    f.__name__: f for f in (sim_double, sim_flaky, sim_boom, sim_charge, sim_beat, sim_callback)
}


def all_functions() -> dict[str, StepFunction]:
    functions = dict(SIM_FUNCTIONS)
    for name in EXAMPLES:
        functions.update(example(name)[1])
    return functions


@dataclass(frozen=True, slots=True)
class Workload:
    machine: str
    definition: dict[str, Any]
    input: Any


def step_key(function: str | None, task_input: Any, attempt: int) -> str:
    """One step of an execution, however often and under whatever task id it ran."""
    if isinstance(task_input, dict):
        task_input = {k: v for k, v in task_input.items() if k != "token"}
    return f"{function}|{json.dumps(task_input, sort_keys=True)}|{attempt}"


# --- the examples ------------------------------------------------------------------

EXAMPLES = ("order_saga", "insurance_claim", "data_pipeline")


def _example_input(name: str, rng: random.Random) -> Any:
    if name == "order_saga":
        fail = rng.choice([None, None, "ship", "reserve"])
        data = {
            "order_id": f"o-{rng.randint(1, 999)}",
            "amount": rng.randint(1, 50),
            "items": ["a"],
        }
        return {**data, "fail_at": fail} if fail else data
    if name == "insurance_claim":
        verdict = rng.choice(["approve", "approve", "reject", "silent"])
        return {
            "policy": f"p-{rng.randint(1, 99)}",
            "amount": rng.randint(100, 20_000),
            "verdict": verdict,
        }
    return {"orders": rng.randint(1, 12)}


# --- generated machines ----------------------------------------------------------


def _task(function: str, **extra: Any) -> dict[str, Any]:
    return {"Type": "Task", "Resource": LAMBDA + function, **extra}


def _retry(rng: random.Random) -> list[dict[str, Any]]:
    return [
        {
            "ErrorEquals": ["Flaky"],
            "IntervalSeconds": rng.choice([1, 2, 5]),
            "MaxAttempts": rng.randint(1, 3),
            "BackoffRate": 2,
        }
    ]


def _chain(rng: random.Random) -> tuple[dict[str, Any], Any]:
    states = {
        "Double": _task("sim_double", Next="Flaky"),
        "Flaky": _task(
            "sim_flaky",
            Retry=_retry(rng),
            Catch=[{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Caught"}],
            Next="Wait",
        ),
        "Wait": {"Type": "Wait", "Seconds": rng.choice([1, 30, 600, 1200, 7200]), "Next": "Charge"},
        "Charge": _task(
            "sim_charge", Parameters={"amount.$": "$.value", "tag": "charge"}, End=True
        ),
        "Caught": {"Type": "Pass", "End": True},
    }
    data = {"value": rng.randint(1, 100), "tag": "chain", "fail_times": rng.randint(0, 4)}
    return {"StartAt": "Double", "States": states}, data


def _map(rng: random.Random, width: int) -> tuple[dict[str, Any], Any]:
    body = {
        "StartAt": "Flaky",
        "States": {
            "Flaky": _task("sim_flaky", Retry=_retry(rng), Next="Double"),
            "Double": _task("sim_double", End=True),
        },
    }
    concurrency = rng.choice([0, 0, 5, 20])
    definition = {
        "StartAt": "Map",
        "States": {
            "Map": {
                "Type": "Map",
                "ItemsPath": "$.items",
                "MaxConcurrency": concurrency,
                "ItemProcessor": body,
                "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Caught"}],
                "End": True,
            },
            "Caught": {"Type": "Pass", "End": True},
        },
    }
    items = [
        {"value": i, "tag": f"i{i}", "fail_times": rng.choice([0, 0, 0, 1, 2])}
        for i in range(width)
    ]
    return definition, {"items": items}


def _callbacks(rng: random.Random, width: int) -> tuple[dict[str, Any], Any]:
    """A Map of callback tasks: many commits in quick succession (issue 9, defect 1)."""
    task = {
        "Type": "Task",
        "Resource": CALLBACK,
        "Parameters": {
            "FunctionName": "sim_callback",
            "Payload": {"tag.$": "$.tag", "verdict.$": "$.verdict", "token.$": "$$.Task.Token"},
        },
        "TimeoutSeconds": CALLBACK_TIMEOUT,
        "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Settled"}],
        "Next": "Settled",
    }
    definition = {
        "StartAt": "Map",
        "States": {
            "Map": {
                "Type": "Map",
                "ItemsPath": "$.items",
                "MaxConcurrency": rng.choice([0, 0, 3, 10]),
                "ItemProcessor": {
                    "StartAt": "Ask",
                    "States": {"Ask": task, "Settled": {"Type": "Pass", "End": True}},
                },
                "End": True,
            }
        },
    }
    verdicts = ["approve"] * 8 + ["reject", "silent"]
    items = [{"tag": f"c{i}", "verdict": rng.choice(verdicts)} for i in range(width)]
    return definition, {"items": items}


def _parallel(rng: random.Random) -> tuple[dict[str, Any], Any]:
    branches = []
    count = rng.randint(2, 5)
    # At most one branch may fail: with two, which error ends the Parallel depends on
    # timing (both outcomes would be right, and the core picks one).
    failing = rng.randrange(count)
    for b in range(count):
        choices = ["sim_double", "sim_flaky", "sim_charge", "sim_boom"]
        function = rng.choice(choices if b == failing else ["sim_double", "sim_charge"])
        params = {
            "value.$": "$.value",
            "tag": f"b{b}",
            "amount": b,
            "fail_times": rng.randint(0, 2),
        }
        state = _task(function, Parameters=params, Retry=_retry(rng), End=True)
        branches.append({"StartAt": f"B{b}", "States": {f"B{b}": state}})
    definition = {
        "StartAt": "Par",
        "States": {
            "Par": {
                "Type": "Parallel",
                "Branches": branches,
                "Catch": [
                    {"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Caught"}
                ],
                "End": True,
            },
            "Caught": {"Type": "Pass", "End": True},
        },
    }
    return definition, {"value": rng.randint(1, 9)}


def _heartbeat(rng: random.Random) -> tuple[dict[str, Any], Any]:
    beat = _task(
        "sim_beat", HeartbeatSeconds=rng.choice([1800, 3600]), TimeoutSeconds=7200, End=True
    )
    return {"StartAt": "Beat", "States": {"Beat": beat}}, {"tag": "beat"}


def _width(rng: random.Random) -> int:
    return rng.choice([1, 2, 3, 5, 8, 12, 20]) if rng.random() < 0.95 else rng.randint(20, 100)


def generate(rng: random.Random, index: int, *, large: bool = False) -> Workload:
    """One workload; ``index`` names its machine (each execution has its own)."""
    kind = rng.choice(
        ["example", "example", "chain", "map", "callbacks", "callbacks", "parallel", "heartbeat"]
        * 2
        + ["crowd"] * 3
    )
    if large:
        definition, data = _map(rng, 3)
        data["ballast"] = "x" * 100_000  # ~100 KB: under Step Functions' 256 KiB (defect 3)
        return Workload(f"large{index}", definition, data)
    if kind == "example":
        name = rng.choice(EXAMPLES)
        return Workload(name, example(name)[0], _example_input(name, rng))
    if kind == "chain":
        definition, data = _chain(rng)
    elif kind == "map":
        definition, data = _map(rng, _width(rng))
    elif kind == "callbacks":
        definition, data = _callbacks(rng, max(_width(rng), rng.choice([1, 20, 30])))
    elif kind == "crowd":  # a wide Map of callbacks answered together: writers contend
        definition, data = _callbacks(rng, rng.randint(30, 50))
    elif kind == "parallel":
        definition, data = _parallel(rng)
    else:
        definition, data = _heartbeat(rng)
    return Workload(f"{kind}{index}", definition, data)

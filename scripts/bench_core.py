"""Benchmark: state transitions per second of stepq's pure core, beside moto.

Two workloads, each run on both engines in the same process and the same run:

- ``chain``: a generated 200-state JSONPath chain, alternating Pass states
  (``Result`` + ``ResultPath``) and Choice states (a StringEquals rule that
  never matches, then a NumericEquals/StringEquals rule that does, plus a
  Default to a Fail state), so every Choice evaluates its rules. Exactly 200
  states are entered per execution.
- ``map``: an inline Map over 1,000 small objects whose ItemProcessor is one
  Pass state. 1,001 states are entered (the Map and each iteration's Pass).

A *transition* is one state entered (a ``*StateEntered`` history event), the
unit Step Functions bills. stepq is timed around ``LocalRunner.run`` (the
machine is indexed once beforehand). moto is timed from ``start_execution``
until the execution is complete: moto executes in a thread, which we join
(polling ``describe_execution`` instead would steal the GIL from it), then
one ``describe_execution`` confirms SUCCEEDED. moto's figure thus includes
one start_execution and one describe_execution round trip through boto3's
in-process mock, a few milliseconds against hundreds.

Each engine gets one warm-up run (which also counts its states entered), then
N timed runs (GC left on, ``gc.collect()`` before each); we report the median
and the best. Both engines must produce the same output and the same number
of transitions, or the script fails.

Nothing talks to AWS: moto's ``mock_aws`` intercepts every call and the
credentials are dummies set below.

    .venv/bin/python scripts/bench_core.py            # full run
    .venv/bin/python scripts/bench_core.py --quick    # smoke run
    .venv/bin/python scripts/bench_core.py --payload-kb 100 --cpu 0

The machine-readable summary is the last lines of output, e.g.
``chain_transitions_per_second=41830 chain_moto_ratio=108.1``. See
docs/BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import statistics
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata
from typing import Any

# Before boto3 is imported: dummy credentials, a fixed region, no real AWS.
os.environ.update(
    {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SECURITY_TOKEN": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
)

import boto3
from moto import mock_aws
from stepq.core.machine import Machine
from stepq.hosting.local_runner import LocalRunner

REGION = "us-east-1"
ROLE_ARN = "arn:aws:iam::123456789012:role/stepq-bench"
CHAIN_STATES = 200
MAP_ITEMS = 1_000
POLL_SECONDS = 0.001

# --- workloads ----------------------------------------------------------------


@dataclass(frozen=True)
class Workload:
    name: str
    definition: dict[str, Any]
    input: Any
    transitions: int  # states entered per execution, checked against both engines


def chain_workload(states: int = CHAIN_STATES, payload_kb: int = 0) -> Workload:
    """Choice_0, Pass_0, Choice_1, Pass_1, ... (``states`` entered, then End).

    ``payload_kb`` pads the input with that many KiB of strings that every
    state carries along (the work per transition should not grow with it).

    Pass_i writes ``{"n": i + 1, "tag": "t<i+1>"}`` to ``$.step``; Choice_i
    checks the step the previous Pass wrote (numerically on even i, as a
    string on odd i). A wrong value would land in the Fail state, so a
    successful run proves every Choice took its matching rule.
    """
    assert states % 2 == 0
    pairs = states // 2
    body: dict[str, Any] = {}
    for i in range(pairs):
        if i % 2 == 0:
            rule: dict[str, Any] = {"Variable": "$.step.n", "NumericEquals": i}
        else:
            rule = {"Variable": "$.step.tag", "StringEquals": f"t{i}"}
        body[f"Choice_{i}"] = {
            "Type": "Choice",
            "Choices": [
                {"Variable": "$.mode", "StringEquals": "abort", "Next": "Mismatch"},
                {**rule, "Next": f"Pass_{i}"},
            ],
            "Default": "Mismatch",
        }
        passed: dict[str, Any] = {
            "Type": "Pass",
            "Result": {"n": i + 1, "tag": f"t{i + 1}"},
            "ResultPath": "$.step",
        }
        if i == pairs - 1:
            passed["End"] = True
        else:
            passed["Next"] = f"Choice_{i + 1}"
        body[f"Pass_{i}"] = passed
    body["Mismatch"] = {"Type": "Fail", "Error": "Bench.Mismatch", "Cause": "a Choice took Default"}
    definition = {"Comment": "bench: Pass/Choice chain", "StartAt": "Choice_0", "States": body}
    execution_input = {
        "mode": "run",
        "step": {"n": 0, "tag": "t0"},
        "payload": {"customer": "c-42", "items": ["book", "lamp", "mug"], "total": 42.5},
    }
    if payload_kb:
        execution_input["blob"] = [f"{i:05d}" + "x" * 1018 for i in range(payload_kb)]
        return Workload(f"chain_{payload_kb}kb", definition, execution_input, states)
    return Workload("chain", definition, execution_input, states)


def map_workload(items: int = MAP_ITEMS) -> Workload:
    definition = {
        "Comment": "bench: inline Map, one Pass per item",
        "StartAt": "Each",
        "States": {
            "Each": {
                "Type": "Map",
                "ItemProcessor": {
                    "ProcessorConfig": {"Mode": "INLINE"},
                    "StartAt": "Mark",
                    "States": {
                        "Mark": {
                            "Type": "Pass",
                            "Result": "done",
                            "ResultPath": "$.status",
                            "End": True,
                        }
                    },
                },
                "End": True,
            }
        },
    }
    execution_input = [{"id": i, "sku": f"sku-{i:04d}", "qty": i % 7} for i in range(items)]
    return Workload("map", definition, execution_input, items + 1)


# --- engines ------------------------------------------------------------------


def states_entered(types: list[str]) -> int:
    return sum(1 for t in types if t.endswith("StateEntered"))


class StepqEngine:
    name = "stepq core"

    def __init__(self, workload: Workload) -> None:
        self.machine = Machine(workload.definition, name=f"bench-{workload.name}")
        self.backend = LocalRunner(functions={})
        self.input = workload.input
        self.runs = 0

    def run(self, count: bool = True) -> tuple[float, Any, int]:
        """One timed execution: (seconds, output, states entered)."""
        self.runs += 1
        start = time.perf_counter()
        result = self.backend.run(self.machine, self.input, name=f"run-{self.runs}")
        elapsed = time.perf_counter() - start
        if result.status != "SUCCEEDED":
            raise AssertionError(f"stepq: {result.status} {result.error}: {result.cause}")
        return elapsed, result.output, states_entered([e.type for e in result.history])


class MotoEngine:
    name = "moto"

    def __init__(self, workload: Workload, client: Any) -> None:
        self.client = client
        self.input_json = json.dumps(workload.input)
        self.arn = client.create_state_machine(
            name=f"bench-{workload.name}",
            definition=json.dumps(workload.definition),
            roleArn=ROLE_ARN,
        )["stateMachineArn"]
        self.runs = 0

    def run(self, count: bool = True) -> tuple[float, Any, int]:
        """One timed execution; ``count`` also reads back the history (untimed, slow in moto)."""
        self.runs += 1
        name = f"run-{self.runs}"  # moto does not generate a name when none is given
        before = set(threading.enumerate())
        start = time.perf_counter()
        execution = self.client.start_execution(
            stateMachineArn=self.arn, name=name, input=self.input_json
        )
        # moto runs the execution in a thread: join it rather than poll, since
        # every describe_execution call (~2-3 ms of Python) would take the GIL
        # from the interpreter thread and make moto look slower than it is.
        # (Python names a thread after its target; Map iterations run in other
        # threads that the execution thread itself waits for.)
        for thread in set(threading.enumerate()) - before:
            if "_execution_logic" in thread.name:
                thread.join()
        described = self._wait(execution["executionArn"])
        elapsed = time.perf_counter() - start
        if described["status"] != "SUCCEEDED":
            raise AssertionError(
                f"moto: {described['status']} {described.get('error')}: {described.get('cause')}"
            )
        output = json.loads(described["output"])
        if not count:
            return elapsed, output, -1
        # Untimed: count the states moto entered, to check the workload matches.
        types: list[str] = []
        pages = self.client.get_paginator("get_execution_history").paginate(
            executionArn=described["executionArn"]
        )
        for page in pages:
            types.extend(e["type"] for e in page["events"])
        return elapsed, output, states_entered(types)

    def _wait(self, arn: str) -> dict[str, Any]:
        """Poll until done; after the join this normally returns at once."""
        while True:
            described = self.client.describe_execution(executionArn=arn)
            # moto sets the status a moment before the output: wait for both.
            status = described["status"]
            if status != "RUNNING" and (status != "SUCCEEDED" or "output" in described):
                return described
            time.sleep(POLL_SECONDS)


# --- measuring ----------------------------------------------------------------


@dataclass(frozen=True)
class Measure:
    engine: str
    workload: str
    transitions: int
    samples: list[float]

    @property
    def median(self) -> float:
        return statistics.median(self.samples)

    @property
    def best(self) -> float:
        return min(self.samples)

    @property
    def tps(self) -> float:
        """Transitions per second at the median sample."""
        return self.transitions / self.median

    @property
    def best_tps(self) -> float:
        return self.transitions / self.best


def measure(
    engine_name: str, workload: Workload, run: Callable[[bool], tuple[float, Any, int]], reps: int
) -> tuple[Measure, Any]:
    _, output, entered = run(True)  # warm-up: imports, caches, compiled paths; checks the count
    if entered != workload.transitions:
        raise AssertionError(
            f"{engine_name} entered {entered} states on {workload.name}, "
            f"expected {workload.transitions}"
        )
    samples = []
    for _ in range(reps):
        gc.collect()  # start each sample from the same heap, GC stays on while timing
        elapsed, again, _ = run(False)
        if again != output:
            raise AssertionError(f"{engine_name} output changed between runs of {workload.name}")
        samples.append(elapsed)
    return Measure(engine_name, workload.name, entered, samples), output


def machine_info() -> str:
    cpu = platform.processor() or "unknown CPU"
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    versions = ", ".join(f"{p} {metadata.version(p)}" for p in ("stepq", "moto", "boto3"))
    return (
        f"{cpu}, {os.cpu_count()} cores; {platform.system()} {platform.release()}; "
        f"Python {platform.python_version()} ({platform.python_implementation()}); {versions}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a fast smoke run (few repetitions)")
    parser.add_argument(
        "--reps", type=int, help="timed repetitions for stepq (default 21, quick 3)"
    )
    parser.add_argument(
        "--moto-reps", type=int, help="timed repetitions for moto (default 5, quick 1)"
    )
    parser.add_argument(
        "--payload-kb",
        type=int,
        default=0,
        metavar="N",
        help="also run the chain with N KiB of extra input carried through every state",
    )
    parser.add_argument(
        "--cpu", type=int, metavar="N", help="pin the process (both engines) to CPU N"
    )
    args = parser.parse_args(argv)
    if args.cpu is not None:
        os.sched_setaffinity(0, {args.cpu})  # threads started later (moto's) inherit it
    reps = args.reps or (3 if args.quick else 21)
    moto_reps = args.moto_reps or (1 if args.quick else 5)

    print(f"machine: {machine_info()}")
    print(
        f"method: 1 warm-up run, then the median of {reps} (stepq) / {moto_reps} (moto) "
        f"timed runs; time.perf_counter; CPUs {sorted(os.sched_getaffinity(0))}"
    )
    workloads = [chain_workload(), map_workload()]
    if args.payload_kb:
        workloads.append(chain_workload(payload_kb=args.payload_kb))
    results: list[tuple[Measure, Measure]] = []
    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
        client = boto3.client("stepfunctions", region_name=REGION)
        for workload in workloads:
            ours, our_output = measure("stepq core", workload, StepqEngine(workload).run, reps)
            theirs, their_output = measure(
                "moto", workload, MotoEngine(workload, client).run, moto_reps
            )
            if our_output != their_output:
                raise AssertionError(f"{workload.name}: stepq and moto outputs differ")
            results.append((ours, theirs))

    print()
    header = (
        f"{'workload':<11} {'engine':<11} {'states':>6} {'median ms':>10} {'best ms':>9} "
        f"{'transitions/s':>14} {'best/s':>9}"
    )
    print(header)
    print("-" * len(header))
    for pair in results:
        for m in pair:
            print(
                f"{m.workload:<11} {m.engine:<11} {m.transitions:>6} {m.median * 1e3:>10.2f} "
                f"{m.best * 1e3:>9.2f} {m.tps:>14,.0f} {m.best_tps:>9,.0f}"
            )
    print()
    for ours, theirs in results:
        ratio = ours.tps / theirs.tps
        print(
            f"{ours.workload}_transitions_per_second={ours.tps:.0f} "
            f"{ours.workload}_moto_ratio={ratio:.1f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())

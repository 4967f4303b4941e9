"""Deterministic simulation of the whole durable runtime (issue 9).

``run_seed(seed)`` builds a world from the seed (workloads, fault plan),
runs the real orchestrator, worker, scheduler, sweeper and client over
simulated DynamoDB and SQS with faults at every call, drains it, and checks
the invariants (``invariants.INVARIANTS``). One seed is one run: the
``trace`` hash covers every choice and I/O call.

Modules: ``faults`` (what breaks, when), ``services`` (limits and faults
around the memory backends, the trace), ``workloads`` (examples, generated
machines, step functions), ``oracle`` (the outcome the pure core gives),
``engine`` (the actors and the loop), ``invariants`` (the checks),
``determinism`` (the wall clock and OS randomness patched out).
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field

from stepq.testing.simulation.engine import Simulation
from stepq.testing.simulation.faults import KINDS, Crash
from stepq.testing.simulation.invariants import INVARIANTS, Violation, check

__all__ = [
    "INVARIANTS",
    "KINDS",
    "Crash",
    "SeedResult",
    "Simulation",
    "Violation",
    "check",
    "run_seed",
]


@dataclass(slots=True)
class SeedResult:
    seed: int
    executions: int
    steps: int
    faults: Counter[str] = field(default_factory=Counter)
    violations: list[Violation] = field(default_factory=list)
    trace: str = ""
    seconds: float = 0.0


def run_seed(
    seed: int,
    *,
    defects: frozenset[str] = frozenset(),
    kinds: frozenset[str] = frozenset(KINDS),
) -> SeedResult:
    began = time.perf_counter()
    sim = Simulation(seed, defects=defects, kinds=kinds)
    sim.run()
    violations = check(sim)
    return SeedResult(
        seed=seed,
        executions=len(sim.started),
        steps=sim.steps,
        faults=Counter(sim.faults.injected),
        violations=violations,
        trace=sim.trace.digest(),
        seconds=time.perf_counter() - began,
    )

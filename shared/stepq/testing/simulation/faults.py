"""What the simulation breaks, and when: one seeded plan of faults per run.

Every decision draws from the run's ``random.Random``, so a seed replays the
same faults at the same calls. ``Crash`` is a ``BaseException``: the
runtime's ``except Exception`` handlers must not swallow a process dying.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta

# Every kind of fault; ``--faults`` / ``FaultPlan.kinds`` select among them.
KINDS = (
    "crash_before_commit",
    "crash_after_commit",
    "crash_after_send",
    "crash_before_delete",
    "duplicate",
    "reorder",
    "visibility_expiry",
    "throttle",
    "conflict_storm",
    "scheduler_down",
    "store_down",
    "queues_down",
    "attacker",
    "large_input",  # a ~100 KB Map input (a workload more than a fault: defect 3)
)

OUTAGE = timedelta(minutes=30)  # how long DynamoDB or SQS is down
SCHEDULER_DOWN = timedelta(hours=3)


class Crash(BaseException):
    """The role's process died here: nothing after this line of it runs."""


@dataclass(slots=True)
class Window:
    start: datetime
    end: datetime

    def covers(self, now: datetime) -> bool:
        return self.start <= now < self.end


@dataclass(slots=True)
class FaultPlan:
    """Which kinds are on, how likely each is per opportunity, and the outage windows."""

    kinds: frozenset[str] = frozenset(KINDS)
    crash: float = 0.015  # per crash point
    duplicate: float = 0.03  # per sent message
    reorder: float = 0.5  # per receive
    visibility_expiry: float = 0.01  # per step run
    throttle: float = 0.005  # per call
    conflict_storm: float = 0.05  # per commit
    outages: dict[str, Window] = field(default_factory=dict)  # "store" | "queues" | "scheduler"

    @classmethod
    def draw(cls, rng: random.Random, kinds: frozenset[str], start: datetime) -> FaultPlan:
        """A plan for one run: each outage happens in about a third of the runs."""
        plan = cls(kinds=kinds)
        for kind, name, length in (
            ("store_down", "store", OUTAGE),
            ("queues_down", "queues", OUTAGE),
            ("scheduler_down", "scheduler", SCHEDULER_DOWN),
        ):
            if kind in kinds and rng.random() < 0.33:
                begin = start + timedelta(seconds=rng.randint(0, 1800))
                plan.outages[name] = Window(begin, begin + length)
        return plan


class Faults:
    """Rolls the dice at each opportunity and counts what it injected, by kind."""

    def __init__(self, rng: random.Random, plan: FaultPlan) -> None:
        self.rng = rng
        self.plan = plan
        self.armed = False  # only the runtime's roles see faults (not setup, client, checks)
        self.injected: Counter[str] = Counter()

    def roll(self, kind: str, probability: float | None = None) -> bool:
        if not self.armed or kind not in self.plan.kinds:
            return False
        chance = getattr(self.plan, kind) if probability is None else probability
        if self.rng.random() >= chance:
            return False
        self.injected[kind] += 1
        return True

    def crash(self, point: str) -> None:
        """Maybe die at this crash point (``crash_before_commit`` ...)."""
        if self.roll(point, self.plan.crash):
            raise Crash(point)

    def down(self, service: str, now: datetime) -> bool:
        window = self.plan.outages.get(service)
        if not self.armed or window is None or not window.covers(now):
            return False
        self.injected[f"{service}_down_call"] += 1
        return True

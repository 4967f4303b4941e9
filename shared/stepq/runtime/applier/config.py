"""How the applier runs: account and region, task routing, timer delays, the inline
budget, how long a writer that keeps losing commit races tries again, and where
its metrics go."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from stepq.runtime.backoff import Backoff
from stepq.runtime.messages import task_queue
from stepq.runtime.metrics import NO_METRICS, Metrics

MAX_SQS_DELAY = 900  # longer waits live in the store's timers index


def conflict_backoff() -> Backoff:
    """Lost commit races: the first retry within 10 ms (about one read-decide-write
    on DynamoDB), doubling to at most 1 s, so a hundred writers on one execution
    spread out instead of colliding again, and few write units are spent losing."""
    return Backoff(base=0.01, cap=1.0)


@dataclass(slots=True)
class RuntimeConfig:
    region: str = "us-east-1"
    account: str = "111111111111"
    # Embedded runs that skip time keep every timer in the store, where the
    # scheduler can jump the clock to it.
    sqs_delays: bool = True
    max_sqs_delay: int = MAX_SQS_DELAY
    route: Callable[[str | None], str] = field(default=task_queue)
    # Group commit: at most this many steps, for at most this long, run
    # inline before the commit that records them.
    inline_steps: int = 64
    inline_seconds: float = 1.0
    # A writer that lost a commit race waits (``conflict_backoff``, through
    # ``sleep``: real time even under a manual clock) and decides again, for as
    # long as other writers keep committing, up to ``conflict_budget`` seconds
    # in all: a hundred writers on one execution settle in a second or two,
    # and the budget stays under the orchestrator Lambda's 30 s timeout.
    conflict_backoff: Backoff = field(default_factory=conflict_backoff)
    conflict_budget: float = 20.0
    sleep: Callable[[float], None] = field(default=time.sleep)
    # Where the runtime's counts and timings go (runtime/metrics.py): nowhere by
    # default; a Lambda handler gives Powertools' EMF (hosting/lambda_metrics.py).
    metrics: Metrics = field(default=NO_METRICS)
    # Test-only: defects of issue 9 switched back on, so the deterministic
    # simulation can show it catches them (names in ``DEFECTS``). Never set
    # this outside tests.
    defects: frozenset[str] = frozenset()


# The defects ``RuntimeConfig.defects`` can switch back on (issue 9's numbers):
DEFECTS = {
    "lookback": "1: recovery only finds a redelivered message's commit among the last 16",
    "overtake": "2: an event that overtakes its start is dead-lettered with it",
    "unauthenticated": "5: events and task messages are accepted without a signature",
    "giveup": "7: lost commit races are retried 20 times at once, then given up",
}

"""Retry and Catch matching, and the pure retry decision.

The decision is a pure function of (retriers, error, attempts so far, seed),
so a replay of the same history decides the same delay, jitter included.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

from stepq.core.failures import ALL, DATA_LIMIT_EXCEEDED, RUNTIME, TASK_FAILED, TIMEOUT

DEFAULT_INTERVAL_SECONDS = 1
DEFAULT_MAX_ATTEMPTS = 3
DEFAULT_BACKOFF_RATE = 2.0

# Step Functions never retries or catches these, whatever the rules say.
_TERMINAL = frozenset({RUNTIME})
# States.TaskFailed does not match these (States.ALL does).
_NOT_WILDCARDED = frozenset({RUNTIME, DATA_LIMIT_EXCEEDED})


def error_matches(error_equals: list[str], error: str) -> bool:
    if error in _TERMINAL:
        return False
    for name in error_equals:
        if name == error:
            return True
        if name == ALL:
            return True
        if name == TASK_FAILED and error not in _NOT_WILDCARDED and error != TIMEOUT:
            return True
    return False


@dataclass(frozen=True, slots=True)
class RetryDecision:
    retrier: int
    delay_seconds: float


def decide_retry(
    retriers: list[dict[str, Any]], error: str, attempts: dict[int, int], seed: str
) -> RetryDecision | None:
    """The first retrier matching ``error`` decides; None means: do not retry."""
    for index, retrier in enumerate(retriers):
        if not error_matches(retrier.get("ErrorEquals", []), error):
            continue
        done = attempts.get(index, 0)
        if done >= retrier.get("MaxAttempts", DEFAULT_MAX_ATTEMPTS):
            return None
        delay = retrier.get("IntervalSeconds", DEFAULT_INTERVAL_SECONDS) * (
            retrier.get("BackoffRate", DEFAULT_BACKOFF_RATE) ** done
        )
        cap = retrier.get("MaxDelaySeconds")
        if cap is not None:
            delay = min(delay, cap)
        if retrier.get("JitterStrategy", "NONE") == "FULL":
            delay = random.Random(f"{seed}#{index}#{done}").uniform(0, delay)
        return RetryDecision(index, float(delay))
    return None

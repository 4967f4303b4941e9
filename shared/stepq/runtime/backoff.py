"""Waiting before a retry: capped exponential backoff with full jitter, and failure streaks.

Full jitter (AWS Architecture Blog, "Exponential Backoff And Jitter"): retry
``n`` (0 for the first) waits a uniform random time in
``[0, min(cap, base * 2**n)]``, so callers that failed together do not retry
together. The randomness comes from the ``random.Random`` a ``Backoff`` is
given (a simulation seeds it); by default one seeded by the OS.

``Streak`` is for long-running loops: it counts one job's consecutive
failures, logs one line when a streak starts and one when it ends (not a
traceback per failure), and says how long to wait before the next try.
"""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass, field

from stepq.clock import monotonic

_MAX_DOUBLINGS = 60  # 2**60 * any sane base is past any cap (and no float overflow)


@dataclass(slots=True)
class Backoff:
    base: float  # the ceiling of the first retry's wait, seconds
    cap: float  # no wait is longer
    rng: random.Random = field(default_factory=random.Random)

    def ceiling(self, attempt: int) -> float:
        """The longest wait before retry ``attempt`` (0 for the first)."""
        return min(self.cap, self.base * 2 ** min(max(attempt, 0), _MAX_DOUBLINGS))

    def delay(self, attempt: int) -> float:
        """A random wait before retry ``attempt``: uniform in ``[0, ceiling(attempt)]``."""
        return self.rng.uniform(0.0, self.ceiling(attempt))


def outage_backoff(rng: random.Random | None = None) -> Backoff:
    """For loops whose queue or store calls fail: soon at first, at most every 20 s.

    The first retries come within a second (a blip costs nothing); a long
    outage is polled a few times a minute, and the loop is back within 20 s
    of its end (10 s on average).
    """
    return Backoff(base=0.5, cap=20.0, rng=rng or random.Random())


class Streak:
    """Consecutive failures of one job in a long-running loop."""

    def __init__(self, what: str, log: logging.Logger, backoff: Backoff | None = None) -> None:
        self.what = what
        self.log = log
        self.backoff = backoff
        self.failures = 0
        self._since = 0.0

    def failed(self, error: object) -> float:
        """Count a failure (logged if it starts a streak); the seconds to wait before
        retrying (0 without a backoff: the caller keeps its own pace)."""
        if not self.failures:
            self._since = monotonic()
            self.log.warning("%s failing, retrying with backoff: %s", self.what, _describe(error))
        self.failures += 1
        return self.backoff.delay(self.failures - 1) if self.backoff else 0.0

    def succeeded(self) -> None:
        """The job worked: a streak of failures, if any, is over (logged)."""
        if self.failures:
            self.log.info(
                "%s recovered after %d failures in %.1fs",
                self.what,
                self.failures,
                monotonic() - self._since,
            )
        self.failures = 0


def _describe(error: object) -> str:
    if isinstance(error, BaseException):
        return f"{type(error).__name__}: {error}"
    return str(error)

"""The clock seam: the only module that reads the wall clock.

The core never reads time; callers pass ``now`` in. Runtimes take a ``Clock``
so tests can skip time (a one-year Wait finishes in milliseconds).
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """The current instant, timezone-aware (UTC)."""
        ...

    def sleep(self, seconds: float) -> None:
        """Wait ``seconds`` (a manual clock may skip instead)."""
        ...


class SystemClock:
    """Real time."""

    def now(self) -> datetime:
        return datetime.now(UTC)

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds)


class ManualClock:
    """A clock that only moves when told to; ``sleep`` advances it instantly."""

    def __init__(self, start: datetime | None = None) -> None:
        self._now = start or datetime(2026, 1, 1, tzinfo=UTC)
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return self._now

    def sleep(self, seconds: float) -> None:
        self.advance(seconds)

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._now += timedelta(seconds=max(0.0, seconds))

    def set(self, instant: datetime) -> None:
        with self._lock:
            if instant > self._now:
                self._now = instant


def monotonic() -> float:
    """Seconds from an arbitrary origin, for measuring durations (benchmarks, progress)."""
    return time.perf_counter()

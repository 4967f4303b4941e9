"""Capped exponential backoff with full jitter, and failure streaks logged once."""

from __future__ import annotations

import logging
import random

import pytest
from stepq.runtime.backoff import Backoff, Streak, outage_backoff


def test_each_delay_is_uniform_below_a_doubling_capped_ceiling() -> None:
    backoff = Backoff(base=0.01, cap=1.0, rng=random.Random(1))
    assert [backoff.ceiling(n) for n in range(9)] == [
        0.01,
        0.02,
        0.04,
        0.08,
        0.16,
        0.32,
        0.64,
        1.0,
        1.0,
    ]
    for attempt in range(12):
        delays = [backoff.delay(attempt) for _ in range(200)]
        ceiling = backoff.ceiling(attempt)
        assert all(0.0 <= d <= ceiling for d in delays)
        assert max(delays) > ceiling / 2 and min(delays) < ceiling / 2  # spread, not fixed


def test_huge_attempt_numbers_stay_at_the_cap() -> None:
    backoff = Backoff(base=0.5, cap=20.0)
    assert backoff.ceiling(10**9) == 20.0
    assert backoff.ceiling(-3) == 0.5


def test_a_seeded_random_repeats_its_delays() -> None:
    first = Backoff(base=0.01, cap=1.0, rng=random.Random(42))
    second = Backoff(base=0.01, cap=1.0, rng=random.Random(42))
    assert [first.delay(n) for n in range(20)] == [second.delay(n) for n in range(20)]
    assert outage_backoff(random.Random(42)).delay(3) == pytest.approx(
        Backoff(0.5, 20.0, random.Random(42)).delay(3)
    )


def test_a_streak_logs_when_it_starts_and_when_it_ends(caplog) -> None:
    log = logging.getLogger("stepq.test")
    streak = Streak("queue q", log, Backoff(base=1.0, cap=4.0, rng=random.Random(3)))
    with caplog.at_level(logging.INFO, logger="stepq.test"):
        waits = [streak.failed(ConnectionError("refused")) for _ in range(50)]
        streak.succeeded()
        streak.succeeded()  # no streak: nothing to say
        streak.failed("down again")
    assert all(0.0 <= w <= 4.0 for w in waits) and waits[-1] != waits[-2]
    lines = [r.getMessage() for r in caplog.records]
    assert lines == [
        "queue q failing, retrying with backoff: ConnectionError: refused",
        lines[1],
        "queue q failing, retrying with backoff: down again",
    ]
    assert lines[1].startswith("queue q recovered after 50 failures in ")
    assert not any(r.exc_info for r in caplog.records)  # no tracebacks


def test_a_streak_without_a_backoff_leaves_the_pace_to_its_caller() -> None:
    streak = Streak("sweeping q-dlq", logging.getLogger("stepq.test"))
    assert [streak.failed("down") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert streak.failures == 3

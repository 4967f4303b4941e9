"""Retention's wiring: STEPQ_RETENTION_DAYS reaches the store ``build`` makes, and the
scheduler's renewal walks each machine once a day however many schedulers run."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from stepq.backends.aws.settings import Settings, build
from stepq.backends.memory.queues import MemoryQueues
from stepq.backends.memory.store import MemoryStore
from stepq.clock import ManualClock
from stepq.runtime.ports import Commit, ExecutionHeader
from stepq.runtime.scheduler import Scheduler


@pytest.mark.parametrize(
    ("value", "days"), [("90", 90), ("", None), ("0", None), (None, None), ("7", 7)]
)
def test_the_store_build_makes_keeps_the_configured_retention(
    value: str | None, days: int | None
) -> None:
    env = {} if value is None else {"STEPQ_RETENTION_DAYS": value}
    store, _, _ = build(Settings.from_env(env), {"dynamodb": object(), "sqs": object()})
    assert store.retention_days == days


def test_a_negative_retention_is_refused() -> None:
    with pytest.raises(ValueError, match="STEPQ_RETENTION_DAYS"):
        Settings.from_env({"STEPQ_RETENTION_DAYS": "-1"})


class _Counting(MemoryStore):
    def __init__(self, **kw: Any) -> None:
        super().__init__(**kw)
        self.renewals = 0

    def renew_expiry(self, execution_id: str, observed: datetime) -> bool:
        self.renewals += 1
        return super().renew_expiry(execution_id, observed)


def test_the_renewal_walks_each_machine_once_a_day_across_schedulers() -> None:
    clock = ManualClock(datetime(2026, 1, 1, tzinfo=UTC))
    store = _Counting(clock=clock, retention_days=90)
    store.put_machine("sm", {"StartAt": "A"})
    header = ExecutionHeader("arn:e", "sm", 1, "e", "RUNNING", clock.now().isoformat())
    store.create_execution(header, Commit(1, {}, [{"id": 1}], [], "c1", header.start_time))
    first, second = (Scheduler(store, MemoryQueues(clock=clock), clock) for _ in range(2))
    clock.advance(timedelta(days=16).total_seconds())
    report = first.renew_expiries()
    assert report is not None and report.renewed == ["arn:e"] and store.renewals == 1
    assert second.renew_expiries() is not None and store.renewals == 1  # claimed by the first
    assert first.renew_expiries() is None  # done today in this process
    clock.advance(timedelta(days=1).total_seconds())
    report = second.renew_expiries()
    assert report is not None and report.machines == ["sm"] and report.renewed == []
    assert store.renewals == 2  # looked at (one read), not due: renewed yesterday

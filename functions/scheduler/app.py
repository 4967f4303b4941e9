"""Scheduler Lambda: every minute (EventBridge), fire the durable timers that are due."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger
from stepq.clock import SystemClock
from stepq.runtime.aws import Settings, build
from stepq.runtime.scheduler import Scheduler

logger = Logger(service="stepq-scheduler")
BATCH = 100
RESERVE_MS = 10_000  # stop early enough to finish the batch in hand
_scheduler: Scheduler | None = None  # built on first use, kept warm


def _get() -> Scheduler:
    global _scheduler
    if _scheduler is None:
        store, queues, _ = build(Settings.from_env())
        _scheduler = Scheduler(store, queues, SystemClock())
    return _scheduler


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    scheduler = _get()
    fired = ticks = 0
    while True:  # a backlog (the scheduler was down) drains in one run, time allowing
        count = scheduler.tick(limit=BATCH)
        fired += count
        ticks += 1
        if count < BATCH or context.get_remaining_time_in_millis() < RESERVE_MS:
            break
    logger.info("scheduler tick", fired=fired, ticks=ticks)
    return {"fired": fired, "ticks": ticks}

"""Scheduler Lambda: every minute (EventBridge), fire the durable timers that are due.

Each run also sweeps the dead-letter queues (``stepq.runtime.poison``),
every five minutes reconciles executions that went quiet
(``stepq.runtime.reconcile``): work a crash left unsent is sent again, and
once a day renews the expiry of long-running executions
(``stepq.runtime.renewal``, with STEPQ_RETENTION_DAYS).
"""

from __future__ import annotations

from typing import Any

from stepq.backends.aws.settings import DEFAULT_TASK_QUEUE, Settings, build, runtime_config
from stepq.clock import SystemClock
from stepq.hosting.lambda_metrics import Observability
from stepq.hosting.lambda_sqs import warm
from stepq.runtime.messages import EVENTS_QUEUE, task_queue
from stepq.runtime.poison import DeadLetterSweeper
from stepq.runtime.scheduler import Scheduler

obs = Observability("stepq-scheduler")  # Logger, Tracer, Metrics (EMF)
logger = obs.logger
BATCH = 100
RESERVE_MS = 10_000  # stop early enough to finish the batch in hand


@warm  # built on first use, kept warm
def _get() -> tuple[Scheduler, DeadLetterSweeper]:
    settings = Settings.from_env()
    store, queues, _ = build(settings)
    clock = SystemClock()
    config = runtime_config(settings)
    config.metrics = obs.emf  # TimerLateness, SchedulerLag, Repairs
    names = [EVENTS_QUEUE, DEFAULT_TASK_QUEUE]
    names += [task_queue(f) for f in settings.task_queues or ()]
    sweeper = DeadLetterSweeper(store, queues, clock, names, metrics=obs.emf)  # DlqArrivals
    return Scheduler(store, queues, clock, config), sweeper


@obs.tracer.capture_lambda_handler
@logger.inject_lambda_context
@obs.metrics.log_metrics  # one EMF blob per invocation (stdout)
@obs.emf.flushed  # the runtime's counts, added to it as the invocation ends
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    scheduler, sweeper = _get()
    fired = ticks = 0
    while True:  # a backlog (the scheduler was down) drains in one run, time allowing
        count = scheduler.tick(limit=BATCH)
        fired += count
        ticks += 1
        if count < BATCH or context.get_remaining_time_in_millis() < RESERVE_MS:
            break
    poisoned = sweeper.sweep()
    swept = scheduler.sweep_quiet()  # at most every five minutes (kept while warm)
    reconciled = len(swept.reconciled) if swept else 0
    renewal = scheduler.renew_expiries(
        lambda: context.get_remaining_time_in_millis() < RESERVE_MS
    )  # once a day per machine; the machines left by a run out of time go next minute
    renewed = len(renewal.renewed) if renewal else 0
    logger.info(
        "scheduler tick",
        fired=fired,
        ticks=ticks,
        poisoned=poisoned,
        reconciled=reconciled,
        renewed=renewed,
    )
    return {"fired": fired, "ticks": ticks, "poisoned": poisoned, "reconciled": reconciled}

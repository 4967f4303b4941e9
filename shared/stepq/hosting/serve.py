"""The three loops as long-lived processes, for users who are not on Lambda.

``stepq worker --role orchestrator|worker|scheduler --endpoint-url URL`` runs
one loop against any SQS- and DynamoDB-compatible endpoint (AWS, moto server,
DynamoDB Local, LocalStack at http://localhost:4566, ...).
"""

from __future__ import annotations

import logging
import signal
import threading
from typing import Any

from stepq.backends.aws.settings import Settings, build, make_client, runtime_config
from stepq.clock import SystemClock
from stepq.hosting.pump import Pump
from stepq.runtime.backoff import Backoff, Streak, outage_backoff
from stepq.runtime.messages import EVENTS_QUEUE, task_queue
from stepq.runtime.orchestrator import Orchestrator
from stepq.runtime.poison import DeadLetterSweeper, fail_owners
from stepq.runtime.scheduler import Scheduler

log = logging.getLogger(__name__)

ROLES = ("orchestrator", "worker", "scheduler")
TICK_LIMIT = 100  # timers fired per store query; a backlog takes several, back to back


def provision(settings: Settings, functions: list[str]) -> None:
    """Create the table and queues when missing (local endpoints; on AWS the template does it)."""
    from stepq.backends.aws.dynamodb_store import create_table

    create_table(make_client(settings, "dynamodb"), settings.table)
    _, queues, _ = build(settings)
    for name in [EVENTS_QUEUE, task_queue(None), *(task_queue(f) for f in functions)]:
        queues.ensure(name)  # type: ignore[attr-defined]


def serve(
    role: str,
    settings: Settings,
    functions: dict[str, Any],
    *,
    interval: float = 60.0,
    stop: threading.Event | None = None,
    wait_seconds: int = 10,
    backoff: Backoff | None = None,
) -> None:
    """Run ``role`` until ``stop`` is set (default: SIGINT or SIGTERM).

    An unreachable queue or table delays the work and never ends the loop:
    failing calls are retried after ``backoff`` (default ``outage_backoff()``),
    with one log line when a failure streak starts and one when it ends.
    """
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}")
    stop = stop or _stop_on_signals()
    backoff = backoff or outage_backoff()
    clock = SystemClock()
    store, queues, _ = build(settings)
    if role == "scheduler":
        scheduler = Scheduler(store, queues, clock, runtime_config(settings))
        names = [EVENTS_QUEUE, task_queue(None), *(task_queue(f) for f in functions)]
        sweeper = DeadLetterSweeper(store, queues, clock, names)
        _schedule(scheduler, sweeper, stop, interval, backoff)
        return
    orchestrator = Orchestrator(store, queues, clock, runtime_config(settings))
    if role == "orchestrator":
        names, handle = [EVENTS_QUEUE], orchestrator.handle_batch
    else:
        from stepq.runtime.client import Client
        from stepq.runtime.worker import DEFAULT_VISIBILITY_TIMEOUT, Worker

        names = sorted({task_queue(name) for name in functions} | {task_queue(None)})
        worker = Worker(
            functions,
            queues,
            clock,
            client=Client(orchestrator, queues),
            applier=orchestrator.applier,
            serves=names,
            route=orchestrator.config.route,
            # provision() gives the task queues ensure()'s default (60 s)
            visibility_timeout=DEFAULT_VISIBILITY_TIMEOUT
            if settings.task_visibility_timeout is None
            else settings.task_visibility_timeout,
        )
        handle = worker.handle_batch
    # One long-polling pump per queue, each on its own thread: polled one after
    # another, every empty queue would hold the others up for wait_seconds.
    threads = [
        threading.Thread(
            target=Pump(
                queues,
                [name],
                handle,
                wait_seconds=wait_seconds,
                backoff=backoff,
                on_dead=lambda queue, dead: fail_owners(store, queues, queue, dead, clock),
            ).run,
            args=(stop,),
            name=f"stepq-{name}",
            daemon=True,
        )
        for name in names
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def _schedule(
    scheduler: Scheduler,
    sweeper: DeadLetterSweeper,
    stop: threading.Event,
    interval: float,
    backoff: Backoff,
) -> None:
    """Every ``interval``: fire what is due (a backlog all at once), sweep the
    dead-letter queues, and now and then reconcile quiet executions. A failed
    tick is tried again after a backoff."""
    streak = Streak("the scheduler", log, backoff)
    while not stop.is_set():
        try:
            while scheduler.tick(limit=TICK_LIMIT) >= TICK_LIMIT and not stop.is_set():
                pass  # more may be due (the store or the scheduler was down)
            scheduler.sweep_quiet()
        except Exception as exc:
            stop.wait(min(interval, streak.failed(exc)))
            continue
        streak.succeeded()
        sweeper.sweep()  # never raises: it logs its own failures and tries next time
        stop.wait(interval)


def _stop_on_signals() -> threading.Event:
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    return stop

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
from stepq.clock import SystemClock, monotonic
from stepq.hosting.pump import Pump
from stepq.runtime.backoff import Backoff, Streak, outage_backoff
from stepq.runtime.messages import EVENTS_QUEUE, task_queue
from stepq.runtime.orchestrator import Orchestrator
from stepq.runtime.poison import DeadLetterSweeper, fail_owners
from stepq.runtime.scheduler import Scheduler

log = logging.getLogger(__name__)

ROLES = ("orchestrator", "worker", "scheduler")
TICK_LIMIT = 100  # timers fired per store query; a backlog takes several, back to back
# After a stop, how long the loops may take to finish their current call (a long
# poll, a step, a call retried by botocore); then the process exits anyway: what
# was in flight comes back after its visibility timeout, as after a crash.
SHUTDOWN_GRACE = 30.0
_STOP_POLL = 0.2  # the main thread's wake-up while it waits (signal handlers run then)


def provision(settings: Settings, functions: list[str]) -> None:
    """Create the table and queues when missing (local endpoints; on AWS the template does it)."""
    from stepq.backends.aws.dynamodb_store import create_table

    create_table(make_client(settings, "dynamodb"), settings.table)
    _, queues, _ = build(settings)
    for name in [EVENTS_QUEUE, task_queue(None), *(task_queue(f) for f in functions)]:
        queues.ensure(name)  # type: ignore[attr-defined]


def provision_until_done(
    settings: Settings,
    functions: list[str],
    stop: threading.Event,
    backoff: Backoff | None = None,
) -> bool:
    """``provision``, retried through an outage: True once done, False if stopped first.

    A process started while its endpoint is down (``stepq worker --create``
    restarted during an outage) waits for it, with one log line per failure
    streak, instead of exiting with a traceback and staying down. The attempts
    run on a daemon thread, so a stop is obeyed at once, even mid-call.
    """
    streak = Streak("creating the table and queues", log, backoff or outage_backoff())
    done = threading.Event()

    def attempts() -> None:
        while not stop.is_set():
            try:
                provision(settings, functions)
            except Exception as exc:  # unreachable, throttled, 5xx; a bad config is logged too
                stop.wait(streak.failed(exc))
                continue
            streak.succeeded()
            done.set()
            return

    threading.Thread(target=attempts, name="stepq-provision", daemon=True).start()
    while not done.wait(_STOP_POLL) and not stop.is_set():
        pass
    return done.is_set()


def serve(
    role: str,
    settings: Settings,
    functions: dict[str, Any],
    *,
    interval: float = 60.0,
    stop: threading.Event | None = None,
    wait_seconds: int = 10,
    backoff: Backoff | None = None,
    shutdown_grace: float = SHUTDOWN_GRACE,
) -> None:
    """Run ``role`` until ``stop`` is set (default: SIGINT or SIGTERM), then
    give its loops ``shutdown_grace`` seconds to finish what they are doing.

    An unreachable queue or table delays the work and never ends the loop:
    failing calls are retried after ``backoff`` (default ``outage_backoff()``),
    with one log line when a failure streak starts and one when it ends.
    """
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}")
    stop = stop or stop_on_signals()
    backoff = backoff or outage_backoff()
    clock = SystemClock()
    store, queues, _ = build(settings)
    if role == "scheduler":
        scheduler = Scheduler(store, queues, clock, runtime_config(settings))
        names = [EVENTS_QUEUE, task_queue(None), *(task_queue(f) for f in functions)]
        sweeper = DeadLetterSweeper(store, queues, clock, names)
        loop = threading.Thread(
            target=_schedule,
            args=(scheduler, sweeper, stop, interval, backoff),
            name="stepq-scheduler",
            daemon=True,
        )
        _run_until_stopped([loop], stop, shutdown_grace)
        return
    orchestrator = Orchestrator(store, queues, clock, runtime_config(settings))
    if role == "orchestrator":
        names, handle = [EVENTS_QUEUE], orchestrator.handle_batch
    else:
        from stepq.backends.aws.integrations import AwsIntegrations
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
            # The user's services, through boto3's own settings (AWS_ENDPOINT_URL...).
            integrations=AwsIntegrations(region=settings.region),
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
    _run_until_stopped(threads, stop, shutdown_grace)


def _run_until_stopped(
    threads: list[threading.Thread], stop: threading.Event, grace: float
) -> None:
    """Start the loops; once ``stop`` is set, give them ``grace`` seconds to end.

    The calling thread only waits (it is the one signal handlers run on), so
    a SIGTERM is noticed at once even while every loop is stuck in a call to
    an unreachable endpoint; a loop that does not end within the grace is
    left behind (daemon thread) with one log line, and the process exits.
    """
    for thread in threads:
        thread.start()
    while not stop.wait(_STOP_POLL):
        if not any(thread.is_alive() for thread in threads):
            return  # every loop ended on its own (they only do when stopped)
    deadline = monotonic() + grace
    for thread in threads:
        thread.join(max(0.0, deadline - monotonic()))
    busy = [thread.name for thread in threads if thread.is_alive()]
    if busy:
        log.warning(
            "stopping without waiting for %s (busy after %.0fs); their messages come back "
            "after the visibility timeout",
            ", ".join(busy),
            grace,
        )


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


def stop_on_signals() -> threading.Event:
    """An event set by SIGINT or SIGTERM (call from the main thread)."""
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    return stop

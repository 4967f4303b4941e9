"""The roles as long-lived processes, for users who are not on Lambda.

``stepq worker --role orchestrator|worker|scheduler|inbox --endpoint-url URL``
runs one loop against any SQS- and DynamoDB-compatible endpoint (AWS, moto
server, DynamoDB Local, LocalStack at http://localhost:4566, ...);
``--role api`` serves the Step Functions API there (what the API Lambda does
in AWS), on loopback unless told otherwise.
"""

from __future__ import annotations

import functools
import logging
import signal
import socket
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from stepq.backends.aws.settings import Settings, build, make_client, runtime_config
from stepq.clock import SystemClock, monotonic
from stepq.errors import StepqError
from stepq.hosting.api_server import DEFAULT_HOST, DEFAULT_PORT
from stepq.hosting.pump import Pump
from stepq.runtime.backoff import Backoff, Streak, outage_backoff
from stepq.runtime.inbox import INBOX_QUEUE
from stepq.runtime.messages import EVENTS_QUEUE, task_queue
from stepq.runtime.orchestrator import Orchestrator
from stepq.runtime.poison import DeadLetterSweeper, fail_owners
from stepq.runtime.scheduler import Scheduler

if TYPE_CHECKING:
    from stepq.api.context import ApiContext

log = logging.getLogger(__name__)

ROLES = ("orchestrator", "worker", "scheduler", "inbox", "api")
TICK_LIMIT = 100  # timers fired per store query; a backlog takes several, back to back
# After a stop, how long the loops may take to finish their current call (a long
# poll, a step, a call retried by botocore); then the process exits anyway: what
# was in flight comes back after its visibility timeout, as after a crash.
SHUTDOWN_GRACE = 30.0
_STOP_POLL = 0.2  # the main thread's wake-up while it waits (signal handlers run then)
# The API's check at start that its table and queues answer. botocore retries an
# unreachable endpoint for a minute; a server that cannot serve says so sooner.
REACH_SECONDS = 15.0


def provision(settings: Settings, functions: list[str]) -> None:
    """Create the table and queues when missing (local endpoints; on AWS the template does it)."""
    from stepq.backends.aws.dynamodb_store import create_table

    create_table(make_client(settings, "dynamodb"), settings.table)
    _, queues, _ = build(settings)
    for name in [EVENTS_QUEUE, task_queue(None), *(task_queue(f) for f in functions), INBOX_QUEUE]:
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
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    announce: Callable[[str], None] | None = None,
) -> None:
    """Run ``role`` until ``stop`` is set (default: SIGINT or SIGTERM), then
    give its loops ``shutdown_grace`` seconds to finish what they are doing.

    An unreachable queue or table delays the work and never ends the loop:
    failing calls are retried after ``backoff`` (default ``outage_backoff()``),
    with one log line when a failure streak starts and one when it ends.
    The API (``role="api"``) is the exception: it checks its table and queues
    answer before it binds ``host:port`` (StepqError if not), then tells
    ``announce`` its URL.
    """
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}")
    stop = stop or stop_on_signals()
    backoff = backoff or outage_backoff()
    if role == "api":
        check_endpoints(settings)
        _serve_api(api_context(settings, functions), settings, stop, host, port, announce)
        return
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
    on_dead: Callable[[str, list[Any]], None] | None = functools.partial(
        fail_owners, store, queues, clock=clock
    )
    if role == "orchestrator":
        names, handle = [EVENTS_QUEUE], orchestrator.handle_batch
    elif role == "inbox":
        from stepq.api.context import ApiContext
        from stepq.api.inbox import inbox
        from stepq.runtime.client import Client

        client = Client(orchestrator, queues)
        ctx = ApiContext.build(orchestrator, client, orchestrator.queues, functions=functions)
        names, handle = [INBOX_QUEUE], inbox(ctx).handle_batch
        on_dead = None  # a dead inbox message owns no execution
    else:
        from stepq.backends.aws.integrations import AwsIntegrations, CatalogRoles
        from stepq.runtime.client import Client
        from stepq.runtime.people.runner import PeopleRunner
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
            # Run as each machine's roleArn when STEPQ_ASSUME_ROLE says so (off here by default).
            integrations=AwsIntegrations(region=settings.region, roles=CatalogRoles(store)),
            people=PeopleRunner(store, queues, clock),  # human tasks, process activities
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
                on_dead=on_dead,
            ).run,
            args=(stop,),
            name=f"stepq-{name}",
            daemon=True,
        )
        for name in names
    ]
    _run_until_stopped(threads, stop, shutdown_grace)


def api_context(settings: Settings, functions: dict[str, Any]) -> ApiContext:
    """What the API and the inbox see, built on ``settings``' table and queues."""
    from stepq.hosting.lambda_api import build_context

    return build_context(settings, functions)


def _serve_api(
    ctx: ApiContext,
    settings: Settings,
    stop: threading.Event,
    host: str,
    port: int,
    announce: Callable[[str], None] | None,
) -> None:
    from stepq.api.handler import ApiHandler
    from stepq.hosting.api_server import ApiServer

    check_reachable(ctx, settings)
    server = ApiServer(ApiHandler(ctx), host, port).start()
    try:
        if announce is not None:
            announce(server.url)
        while not stop.wait(_STOP_POLL):
            pass
    finally:
        server.close()


def check_reachable(ctx: ApiContext, settings: Settings, timeout: float = REACH_SECONDS) -> None:
    """StepqError, with one line saying why, unless the table and the events queue answer.

    The calls run on a daemon thread: one stuck in botocore's retries is
    left behind when ``timeout`` passes.
    """
    outcome: list[Exception | None] = []

    def attempt() -> None:
        try:
            ctx.store.signing_key()  # reads the table (and makes the key on first use)
            ctx.queues.url(EVENTS_QUEUE)  # type: ignore[attr-defined]
        except Exception as exc:
            outcome.append(exc)
            return
        outcome.append(None)

    thread = threading.Thread(target=attempt, name="stepq-reach", daemon=True)
    thread.start()
    thread.join(timeout)
    where = settings.endpoint_url or "AWS"
    if not outcome:
        raise StepqError(f"the table or queues at {where} did not answer within {timeout:.0f}s")
    if outcome[0] is not None:
        error = outcome[0]
        raise StepqError(
            f"the table or queues at {where} are not ready: {error} (--create makes them)"
        ) from None


def check_endpoints(settings: Settings) -> None:
    """StepqError at once when nothing listens at a local endpoint of the table or queues."""
    for service in ("dynamodb", "sqs"):
        _connectable(settings.endpoint_for(service))


def _connectable(url: str | None, timeout: float = 5.0) -> None:
    """StepqError at once when nothing listens at ``url`` (None: AWS, not checked here)."""
    if not url:
        return
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        socket.create_connection((parts.hostname or "", port), timeout=timeout).close()
    except OSError as exc:
        raise StepqError(f"cannot reach {url}: {exc.strerror or exc}") from None


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

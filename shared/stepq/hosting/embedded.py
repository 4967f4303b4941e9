"""The embedded backend: the durable runtime on moto in-process.

Long: it wires every role (pumps, scheduler, sweeps, the people runner) and the
skipped-time idle check that must see all of them; split, each half would need the other.

No servers, no credentials: one DynamoDB table and the SQS queues live in
moto's in-process mock; the orchestrator, worker and scheduler loops run as
threads. It is the same code that runs in Lambda, only the clients differ.
With ``skip_time`` every timer waits in the store and the scheduler moves a
manual clock to the next one whenever the system is idle, so a one-day Wait
finishes at once while timeouts still see the time pass.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import threading
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from stepq.clock import Clock, ManualClock, SystemClock, monotonic
from stepq.errors import ExecutionTimeoutError, NotFoundError
from stepq.hosting.doorbell import Doorbell, RingingQueues
from stepq.hosting.pump import Pump
from stepq.runtime.applier.config import RuntimeConfig
from stepq.runtime.client import Client
from stepq.runtime.inbox import INBOX_QUEUE
from stepq.runtime.messages import EVENTS_QUEUE, task_queue
from stepq.runtime.orchestrator import Orchestrator
from stepq.runtime.poison import DeadLetterSweeper, fail_owners
from stepq.runtime.ports import Commit, ExecutionHeader, Received
from stepq.runtime.scheduler import Scheduler
from stepq.runtime.signing import signed
from stepq.runtime.steps import StepFunction

log = logging.getLogger(__name__)

TABLE = "stepq"
SWEEP_SECONDS = 5.0  # dead-letter queues: executions of poison messages fail
TICK_SECONDS = 0.5  # the scheduler's pace in real time (in AWS: once a minute)
_DUMMY_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}


class EmbeddedRuntime:
    """The whole durable runtime in one process: table, queues and every role.

    The same code path as a deployment (orchestrator, worker, scheduler,
    dead-letter sweep) on moto in-process, or on the in-memory stand-ins;
    with ``skip_time=True`` a virtual clock jumps to the next timer, so a
    one-day Wait finishes at once. A context manager: leaving it stops the
    loops and moto::

        from stepq import EmbeddedRuntime, load_functions

        with EmbeddedRuntime(load_functions("state_machine/order_saga.py")) as runtime:
            runtime.deploy("order_saga", definition)  # the ASL as a dict; validated
            arn = runtime.start("order_saga", {"order_id": "o-1"}, name="o-1")
            outcome = runtime.wait(arn)  # status, output, error, cause
            events = runtime.history(arn)  # Step Functions-shaped history events

    ``start`` with a name already used returns the same execution's ARN and
    starts nothing (the first start wins).
    """

    def __init__(
        self,
        functions: Mapping[str, StepFunction],
        *,
        skip_time: bool = False,
        clock: Clock | None = None,
        visibility_timeout: int = 30,
        worker_commits: bool = True,
        on_client: Any = None,
        inline_steps: int | None = None,
        backend: str = "moto",
        region: str | None = None,
        account: str | None = None,
        integrations: Any = None,
        retention_days: int | None = None,
        mailer: Any = None,
    ) -> None:
        """``backend="moto"`` (the default) is moto in-process behind boto3;
        ``"memory"`` uses ``MemoryStore``/``MemoryQueues``, the in-process
        fakes that pass the same contract suites as DynamoDB and SQS, without
        the per-request cost of botocore and moto (for speed: tests, load).
        ``region`` and ``account`` go into every ARN made (default us-east-1
        and 111111111111).
        ``worker_commits=False`` sends every result through the orchestrator
        (one hop and commit per step); ``on_client(service, client)`` sees each
        boto3 client before use (the cost benchmark registers its meter there).
        ``integrations`` runs Tasks on services (sqs:sendMessage, sns:publish,
        aws-sdk:*); default: ``AwsIntegrations()``, boto3's own settings.
        ``mailer`` sends the people's e-mail (process activities); default: the
        outbox folder (``STEPQ_OUTBOX``, else ``.stepq/outbox``), one .eml each."""
        if backend not in ("moto", "memory"):
            raise ValueError(f"backend must be 'moto' or 'memory', not {backend!r}")
        self.backend = backend
        self.skip_time = skip_time
        self.clock: Clock = clock or (ManualClock() if skip_time else SystemClock())
        self._mock: Any = None
        self._sqs: Any = None
        self._saved_env: dict[str, str | None] = {}
        if backend == "memory":
            from stepq.backends.memory.queues import MemoryQueues
            from stepq.backends.memory.store import MemoryStore

            self.store: Any = MemoryStore(clock=self.clock, retention_days=retention_days)
            self.queues: Any = MemoryQueues(clock=self.clock)
        else:
            import boto3
            from botocore import UNSIGNED
            from botocore.config import Config
            from moto import mock_aws

            from stepq.backends.aws.dynamodb_store import DynamoDBStore, create_table
            from stepq.backends.aws.sqs_queues import SqsQueues
            from stepq.backends.moto import speedups
            from stepq.backends.moto.client import MotoClient

            speedups.apply()  # same answers, less work per request (see the module)

            self._saved_env = {k: os.environ.get(k) for k in _DUMMY_ENV}
            os.environ.update(_DUMMY_ENV)  # moto needs some credentials; these reach nothing
            self._mock = mock_aws()
            self._mock.start()
            # Nothing leaves the process: no signature to compute, and moto checks
            # the parameters itself (the store's calls are also checked against
            # DynamoDB Local in tests/integration).
            # An AWS_ENDPOINT_URL in the environment is for the user's services
            # (integrations), never for stepq's own table and queues.
            local = Config(
                signature_version=UNSIGNED,
                parameter_validation=False,
                ignore_configured_endpoint_urls=True,
            )
            raw_dynamodb = boto3.client("dynamodb", region_name="us-east-1", config=local)
            sqs = boto3.client("sqs", region_name="us-east-1", config=local)
            create_table(raw_dynamodb, TABLE)
            if on_client is not None:  # botocore's hooks see every request
                on_client("dynamodb", raw_dynamodb)
                on_client("sqs", sqs)
            else:  # the same requests to moto, without botocore (backends/moto/client.py)
                raw_dynamodb, sqs = MotoClient("dynamodb"), MotoClient("sqs")
            # moto checks a condition and writes without a lock; serialise the calls
            # so conditional writes are atomic here as they are in DynamoDB.
            dynamodb = SerializedClient(raw_dynamodb)
            self._sqs = sqs
            self.store = DynamoDBStore(
                TABLE, client=dynamodb, clock=self.clock, retention_days=retention_days
            )
            self.queues = SqsQueues(client=sqs, prefix="stepq")
        # Every writer is in this process too: final commits wake ``wait``.
        self.finished = FinishWatch()
        self.store = WatchedStore(self.store, self.finished)
        # Every sender is in this process: sends ring the pumps awake (doorbell.py).
        self.doorbell = Doorbell()
        # Every role sends through these: each body signed with the table's key.
        self.queues = signed(RingingQueues(self.queues, self.doorbell), self.store)
        self.functions = dict(functions)
        if integrations is None:
            from stepq.backends.aws.integrations import AwsIntegrations

            integrations = AwsIntegrations()
        self.integrations = integrations
        if mailer is None:
            from stepq.backends.local_outbox import outbox_from_env

            mailer = outbox_from_env(clock=self.clock)
        self.mailer = mailer
        self.visibility_timeout = visibility_timeout
        # Work the pumps cannot see (an API request deciding a start): time stands
        # still meanwhile (``working``, ``_idle``).
        # More such work, asked about at each jump: ``stepq run --people`` holds time
        # while a scripted answer waits to be given (hosting/people_script.py).
        self.holds: list[Callable[[], bool]] = []
        self._outside = 0
        self._outside_lock = threading.Lock()
        self.task_queues = sorted(
            {task_queue(name) for name in self.functions} | {task_queue(None)}
        )
        for name in [EVENTS_QUEUE, *self.task_queues, INBOX_QUEUE]:
            self.queues.ensure(name, visibility_timeout=visibility_timeout)
        config = RuntimeConfig(sqs_delays=not skip_time, route=self._route)
        # The account and region of every ARN made here (not where moto runs).
        config.region = region or config.region
        config.account = account or config.account
        if inline_steps is not None:
            config.inline_steps = inline_steps
        self.orchestrator = Orchestrator(self.store, self.queues, self.clock, config)
        self.client = Client(self.orchestrator, self.queues)
        self.worker = _worker(self, worker_commits)
        self.scheduler = Scheduler(self.store, self.queues, self.clock, config)
        self.sweeper = DeadLetterSweeper(
            self.store, self.queues, self.clock, [EVENTS_QUEUE, *self.task_queues]
        )
        self.pumps = [
            Pump(
                self.queues,
                names,
                handler,
                on_dead=self._dead,
                doorbell=self.doorbell,
            )
            for names, handler in (
                ([EVENTS_QUEUE], self.orchestrator.handle_batch),
                (self.task_queues, self.worker.handle_batch),
            )
        ]
        # The inbox (runtime/inbox.py): messages from outside, resolved through the
        # API's catalog. No on_dead: a dead inbox message owns no execution.
        from stepq.api.context import ApiContext
        from stepq.api.inbox import inbox

        self.api = ApiContext.build(
            self.orchestrator, self.client, self.queues, functions=self.functions
        )
        self.inbox = inbox(self.api)
        # Kept apart from ``pumps`` (the orchestrator's and the worker's, which
        # tests and benchmarks step by hand); every loop below runs it too.
        self.inbox_pump = Pump(
            self.queues, [INBOX_QUEUE], self.inbox.handle_batch, doorbell=self.doorbell
        )
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def _dead(self, queue: str, dead: list[tuple[Received, str]]) -> None:
        fail_owners(self.store, self.queues, queue, dead, self.clock)

    def _route(self, function_name: str | None) -> str:
        name = task_queue(function_name)
        return name if name in self.task_queues else task_queue(None)

    # --- lifecycle ------------------------------------------------------------

    def __enter__(self) -> EmbeddedRuntime:
        self.start_loops()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def start_loops(self) -> None:
        if self._threads:
            return
        for index, pump in enumerate([*self.pumps, self.inbox_pump]):
            thread = threading.Thread(
                target=pump.run, args=(self._stop,), name=f"stepq-pump-{index}", daemon=True
            )
            thread.start()
            self._threads.append(thread)
        thread = threading.Thread(target=self._schedule_loop, name="stepq-scheduler", daemon=True)
        thread.start()
        self._threads.append(thread)

    def close(self) -> None:
        self._stop.set()
        for name in [EVENTS_QUEUE, *self.task_queues, INBOX_QUEUE]:
            self.doorbell.ring(name)  # pumps asleep on the doorbell see the stop now
        for thread in self._threads:
            thread.join(timeout=5)
        self._threads.clear()
        if self._mock is not None:
            self._mock.stop()
        for key, value in self._saved_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value

    # --- using it -------------------------------------------------------------

    def deploy(self, name: str, definition: dict[str, Any]) -> int:
        from stepq.core.definition import load_definition

        load_definition(definition)  # refuse an invalid definition here, with every problem
        version = self.store.put_machine(name, definition)
        self.orchestrator.applier.forget_machine(name)  # starts from here on use it
        return version

    def start(self, machine: str, execution_input: Any = None, name: str = "run-1") -> str:
        """Start an execution of the newest version of ``machine``; its ARN."""
        with self.working():
            return self.client.start_execution(machine, name, execution_input)

    @contextlib.contextmanager
    def working(self) -> Iterator[None]:
        """Hold skipped time still while work outside the pumps runs.

        A start writes its first commit, with its timeout's timer, before it
        sends its messages: a clock jumped in between would fire the timeout
        before the task was even sent.
        """
        with self._outside_lock:
            self._outside += 1
        try:
            yield
        finally:
            with self._outside_lock:
                self._outside -= 1

    def wait(self, execution_id: str, timeout: float = 120.0) -> ExecutionHeader:
        """The execution's outcome once it has finished (ExecutionTimeoutError after ``timeout`` s)."""
        self.start_loops()
        deadline = monotonic() + timeout
        while True:
            try:
                header = self.store.get_execution(execution_id)
            except NotFoundError:  # the start event is still on its way
                header = None
            if header is not None and header.status != "RUNNING":
                return header
            left = deadline - monotonic()
            if left <= 0:
                raise ExecutionTimeoutError(f"{execution_id} still running after {timeout:.0f}s")
            # Woken by the final commit; the timeout is a fallback, not the pace.
            self.finished.wait_for(execution_id, min(left, 0.5))

    def wait_finished(self, execution_ids: list[str], timeout: float = 120.0) -> None:
        """Block until every execution has written its final commit (no reads
        while it waits: final commits written here wake it; it looks in the
        store only for those still open after a quiet half second)."""
        self.start_loops()
        deadline = monotonic() + timeout
        open_ids = set(execution_ids)
        while open_ids:
            open_ids -= self.finished.wait_any(open_ids, min(0.5, deadline - monotonic()))
            if not open_ids:
                return
            if monotonic() >= deadline:
                raise ExecutionTimeoutError(f"{len(open_ids)} executions still running")
            if not self.finished.changed_within(0.5):
                for execution_id in list(open_ids):
                    with contextlib.suppress(NotFoundError):
                        if self.store.get_execution(execution_id).status != "RUNNING":
                            open_ids.discard(execution_id)

    def run_until_idle(self, max_rounds: int = 10_000, *, fire_timers: bool = True) -> None:
        """Single-threaded stepping (tests): pump and fire timers until nothing moves."""
        for _ in range(max_rounds):
            moved = sum(pump.poll_once() for pump in [*self.pumps, self.inbox_pump])
            if fire_timers:
                moved += self.scheduler.tick()
            if moved:
                continue
            due = self.scheduler.next_due() if fire_timers and self.skip_time else None
            if due is None or not isinstance(self.clock, ManualClock) or due <= self.clock.now():
                return
            self.clock.set(due)
        raise ExecutionTimeoutError(f"still moving after {max_rounds} rounds")

    def quiet(self) -> bool:
        """No handler is busy with a batch right now."""
        return not self._outside and not any(pump.busy for pump in [*self.pumps, self.inbox_pump])

    def pause(self, seconds: float) -> None:
        """Sleep, waking early if the runtime is closed."""
        self._stop.wait(seconds)

    def history(self, execution_id: str) -> list[dict[str, Any]]:
        return self.store.history(execution_id)

    def send_to_inbox(self, body: str | dict[str, Any]) -> str | None:
        """Send ``body`` to the inbox as an outside producer would: as is, unsigned.

        Returns the SQS message id (None on the memory backend, which has none to show).
        """
        text = body if isinstance(body, str) else json.dumps(body)
        message_id: str | None = None
        if self._sqs is None:
            self.queues.send_raw(INBOX_QUEUE, text)
        else:
            reply = self._sqs.send_message(QueueUrl=self.queues.url(INBOX_QUEUE), MessageBody=text)
            message_id = reply["MessageId"]
        self.doorbell.ring(INBOX_QUEUE)
        return message_id

    # --- the scheduler loop ---------------------------------------------------

    def _schedule_loop(self) -> None:
        next_sweep = monotonic() + SWEEP_SECONDS
        while not self._stop.is_set():
            try:
                fired = self.scheduler.tick()
                if monotonic() >= next_sweep:
                    self.sweeper.sweep()
                    self.scheduler.sweep_quiet()
                    self.scheduler.renew_expiries(self._stop.is_set)  # retention on only
                    next_sweep = monotonic() + SWEEP_SECONDS
            except Exception:  # the store is unreachable: the loop stays up, tries again
                log.warning("a scheduler tick failed; trying again", exc_info=True)
                self._stop.wait(TICK_SECONDS)
                continue
            if self.skip_time and not fired and self._idle():
                due = self.scheduler.next_due()
                if due is not None and isinstance(self.clock, ManualClock):
                    self.clock.set(due)
                    continue
            # Real time: waits of up to 15 minutes travel as delayed messages, so
            # the timers index holds only longer ones; no need to query it often.
            self._stop.wait(0.02 if self.skip_time else TICK_SECONDS)

    def _idle(self) -> bool:
        """No handler running and no message anywhere: only timers can move things on."""
        if self._outside or any(pump.busy for pump in [*self.pumps, self.inbox_pump]):
            return False
        if any(hold() for hold in self.holds):
            return False
        for name in [EVENTS_QUEUE, *self.task_queues, INBOX_QUEUE]:
            if self._sqs is None:
                if self.queues.depth(name):
                    return False
                continue
            attributes = self._sqs.get_queue_attributes(
                QueueUrl=self.queues.url(name),
                AttributeNames=[
                    "ApproximateNumberOfMessages",
                    "ApproximateNumberOfMessagesNotVisible",
                    "ApproximateNumberOfMessagesDelayed",
                ],
            )["Attributes"]
            if any(int(v) for v in attributes.values()):
                return False
        return not any(pump.busy for pump in [*self.pumps, self.inbox_pump])


class FinishWatch:
    """Executions whose final commit this process wrote, for ``wait`` to sleep on."""

    def __init__(self) -> None:
        self._done: set[str] = set()
        self._last = monotonic()
        self._changed = threading.Condition()

    def finished(self, execution_id: str) -> None:
        with self._changed:
            self._done.add(execution_id)
            self._last = monotonic()
            self._changed.notify_all()

    def reopened(self, execution_id: str) -> None:
        with self._changed:
            self._done.discard(execution_id)

    def wait_for(self, execution_id: str, timeout: float) -> bool:
        return bool(self.wait_any({execution_id}, timeout))

    def wait_any(self, execution_ids: set[str], timeout: float) -> set[str]:
        """Those of ``execution_ids`` finished, waiting up to ``timeout`` for one."""
        with self._changed:
            self._changed.wait_for(lambda: not self._done.isdisjoint(execution_ids), timeout)
            return execution_ids & self._done

    def changed_within(self, seconds: float) -> bool:
        with self._changed:
            return monotonic() - self._last < seconds


class WatchedStore:
    """``store`` that tells ``watch`` about every final commit written through it."""

    def __init__(self, store: Any, watch: FinishWatch) -> None:
        self._store = store
        self._watch = watch

    def create_execution(self, header: ExecutionHeader, first: Commit) -> None:
        self._store.create_execution(header, first)
        if first.outcome is not None:
            self._watch.finished(header.execution_id)

    def append(self, execution_id: str, commit: Commit) -> None:
        self._store.append(execution_id, commit)
        if commit.reopens:  # redriven: running again
            self._watch.reopened(execution_id)
        if commit.outcome is not None:
            self._watch.finished(execution_id)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)


class SerializedClient:
    """One request at a time through ``client`` (moto's in-process DynamoDB is not atomic)."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self._lock = threading.Lock()

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._client, name)
        if not callable(attr):
            return attr

        def call(*args: Any, **kwargs: Any) -> Any:
            with self._lock:
                return attr(*args, **kwargs)

        return call


def _worker(runtime: EmbeddedRuntime, commits: bool) -> Any:
    from stepq.runtime.people.runner import PeopleRunner
    from stepq.runtime.worker import Worker

    return Worker(
        runtime.functions,
        runtime.queues,
        runtime.clock,
        client=runtime.client,
        deferred_results=runtime.store if runtime.skip_time else None,
        applier=runtime.orchestrator.applier if commits else None,
        serves=runtime.task_queues,
        route=runtime._route,
        visibility_timeout=runtime.visibility_timeout,
        store=runtime.store,
        integrations=runtime.integrations,
        people=PeopleRunner(runtime.store, runtime.queues, runtime.clock, runtime.mailer),
    )

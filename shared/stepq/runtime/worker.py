"""The worker: a batch of task messages -> run the steps -> record their results.

At-least-once: if the worker dies after a step's side effect but before the
message is deleted, the message is delivered again and the step runs again
with the same ``context.idempotency_key`` (``stepq.idempotency`` makes a
side effect happen once). Only the first result of a task is recorded.

With an ``Applier`` (the default wherever the worker can reach the store)
the worker records results itself: it decides them against the execution
and commits, and runs the tasks that decision schedules inline when it
hosts them (group commit, see ``applier``). Without one it sends each
result to the events queue for the orchestrator, one hop and one commit per
step.

While a batch's steps run (inline ones too) and until their results are
committed, a heartbeat thread keeps the batch's messages invisible: every
half ``visibility_timeout`` it extends each by ``visibility_timeout``, so a
step longer than the queue's timeout is not delivered (and run) a second
time meanwhile. It runs on real time only (``SystemClock``); under a manual
clock the clock's owner decides when time passes, and no thread is started.
"""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Callable, Collection, Mapping
from datetime import timedelta
from typing import Any

from stepq.clock import Clock, SystemClock, monotonic
from stepq.core import dataflow
from stepq.core import events as ev
from stepq.core.definition.resources import is_people_resource, is_service_integration
from stepq.core.failures import DATA_LIMIT_EXCEEDED
from stepq.core.people.model import NOTICE_RESOURCE, REMINDER_RESOURCE
from stepq.core.states.task_state import size_label
from stepq.runtime import codec
from stepq.runtime.applier.apply import Applier
from stepq.runtime.applier.groups import Groups, record_groups
from stepq.runtime.applier.inbound import Inbound, InlineResult
from stepq.runtime.applier.outbox import Outbox
from stepq.runtime.batch import (
    BatchResult,
    content_errors_are_malformed,
    handle_one,
    parse_each,
)
from stepq.runtime.log_context import executing
from stepq.runtime.messages import EVENTS_QUEUE, TaskMessage, event_message, parse_task, task_queue
from stepq.runtime.metrics import NO_METRICS, TASK_LATENCY, Metrics
from stepq.runtime.ports import Commit, Queues, Received, Store, Timer
from stepq.runtime.signing import DEFECT, signed
from stepq.runtime.steps import (
    Outcome,
    PeopleTasks,
    ServiceIntegrations,
    StepContext,
    StepFunction,
    invoke,
    is_outage,
)

log = logging.getLogger(__name__)

DEFAULT_VISIBILITY_TIMEOUT = 60  # seconds: what ``Queues.ensure`` gives a queue by default
NO_PEOPLE = Outcome(
    error="Stepq.PeopleUnavailable",
    cause="this worker runs no human tasks or process activities (it was given no people runner)",
)


class _KeepInvisible:
    """Extends in-flight messages' visibility every ``seconds / 2`` by ``seconds``
    on a background thread, from ``start`` until ``stop``.

    A failing extension (a stale receipt, a queue outage) is logged once per
    message and that message is left alone; it never fails the step.
    """

    def __init__(self, queues: Queues, held: list[tuple[str, str]], seconds: int) -> None:
        self._queues = queues
        self._held = held  # (queue, receipt)
        self._seconds = seconds
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name="stepq-visibility", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopped.set()
        self._thread.join()  # no extension after this returns (the pump deletes next)

    def _run(self) -> None:
        interval = max(0.05, self._seconds / 2)
        while self._held and not self._stopped.wait(interval):
            for item in list(self._held):
                if self._stopped.is_set():
                    return
                queue, receipt = item
                try:
                    self._queues.change_visibility(queue, receipt, self._seconds)
                except Exception as exc:
                    log.warning(
                        "could not keep a running task's message invisible in %s: %s",
                        queue,
                        exc,
                        extra={"queue": queue},
                    )
                    self._held.remove(item)


def _keep_invisible(
    queues: Queues, clock: Clock, held: list[tuple[str, str]], seconds: int
) -> _KeepInvisible | None:
    if not held or seconds <= 0 or not isinstance(clock, SystemClock):
        return None
    keeper = _KeepInvisible(queues, held, seconds)
    keeper.start()
    return keeper


class Worker:
    def __init__(
        self,
        functions: Mapping[str, StepFunction],
        queues: Queues,
        clock: Clock,
        *,
        client: Any = None,
        deferred_results: Store | None = None,
        applier: Applier | None = None,
        serves: Collection[str] | None = None,
        route: Callable[[str | None], str] = task_queue,
        visibility_timeout: int = DEFAULT_VISIBILITY_TIMEOUT,
        store: Store | None = None,
        integrations: ServiceIntegrations | None = None,
        metrics: Metrics | None = None,
        people: PeopleTasks | None = None,
    ) -> None:
        self.functions = functions
        # Runs the Tasks whose resource is a service integration (None: they fail
        # as not found); injected by the host, the runtime knows no service.
        self.integrations = integrations
        # Runs human tasks and process activities (runtime/people/runner.py; None:
        # they fail, NO_PEOPLE). A human task is a callback task: the runner opens
        # it and answers an acknowledgement; the inbox brings the result later.
        self.people = people
        # The table's signing key signs what the worker sends and checks what it runs.
        store = store or (applier.store if applier is not None else deferred_results)
        if store is None:
            raise ValueError("a Worker needs the store: its signing key authenticates messages")
        self.queues = signed(queues, store)
        self.clock = clock
        self.client = client
        # With skipped time, a simulated long step does not sleep: its result
        # waits as a durable timer, so timeouts still see the time pass.
        self.deferred_results = deferred_results
        self.applier = applier
        # Inline continuation stays within the task queues this worker serves
        # (None: all), so a step pinned to its own pool never runs elsewhere.
        self.serves = None if serves is None else frozenset(serves)
        self.route = route
        # The task queues' visibility timeout: messages being worked on are
        # extended by this much every half of it (0: never extended).
        self.visibility_timeout = visibility_timeout
        self._metrics = metrics  # TaskLatency by step (None: the applier's)

    @property
    def metrics(self) -> Metrics:
        if self._metrics is not None:
            return self._metrics
        return self.applier.config.metrics if self.applier is not None else NO_METRICS

    # --- handling ---------------------------------------------------------------------

    def handle(self, body: Any) -> None:
        """One message body. Raises MalformedMessageError for poison, else what failed."""
        handle_one(self.handle_batch, body)

    def handle_batch(self, received: list[Received], *, raise_errors: bool = False) -> BatchResult:
        result = BatchResult()
        parsed = list(parse_each(received, parse_task, result, self._authentic()))
        # Each message stays invisible until its result is committed (inline steps too).
        held = [(self.route(t.command.function_name), m.receipt) for m, t in parsed if m.receipt]
        keeper = _keep_invisible(self.queues, self.clock, held, self.visibility_timeout)
        try:
            return self._handle_parsed(parsed, result, raise_errors)
        finally:
            if keeper is not None:
                keeper.stop()

    def _handle_parsed(
        self, parsed: list[tuple[Received, TaskMessage]], result: BatchResult, raise_errors: bool
    ) -> BatchResult:
        groups: Groups = {}
        outbox = Outbox()
        for message, task in parsed:
            try:
                # A redelivery, or a copy recovery sent again: recorded already?
                redelivered = message.receive_count > 1 or task.redriven
                if (redelivered or task.resent) and self._already_recorded(task):
                    outcome: ev.Event | Timer | None = None
                else:
                    with executing(task.execution_id):  # the step's own log lines too
                        outcome = self._run(task.execution_id, task.command)
            except Exception as exc:
                if raise_errors:
                    raise
                if is_outage(exc):  # run again after its visibility timeout
                    log.warning(
                        "a step could not finish, a service is down (run again later): %s",
                        exc,
                        extra={"execution_id": task.execution_id},
                    )
                else:
                    log.exception(
                        "running a step failed", extra={"execution_id": task.execution_id}
                    )
                result.failed.append(message)
                continue
            if isinstance(outcome, Timer):
                outbox.timers.append(outcome)
                continue
            # outcome None: recorded before; the applier resends its commit's commands.
            prior = None
            if task.after is not None and not redelivered:
                seq, snapshot = task.after
                prior = Commit(seq, snapshot, events=[], commands=[], cause_id="", at="")
            groups.setdefault(task.execution_id, []).append(
                (message, Inbound(task.id, outcome, redelivered=redelivered, prior=prior))
            )
        store = self.applier.store if self.applier else self.deferred_results
        return record_groups(
            result,
            groups,
            content_errors_are_malformed(self._record),
            self.queues,
            store,
            outbox=outbox,
            raise_errors=raise_errors,
        )

    # --- internals ----------------------------------------------------------------------

    def _authentic(self) -> Callable[[Received], bool] | None:
        if self.applier is not None and DEFECT in self.applier.config.defects:
            return None  # test-only: issue 9's defect 5 back on
        # Every task queue is one channel (signing.channel): any name stands for them.
        return functools.partial(self.queues.keys.authentic, task_queue(None))

    def _record(self, execution_id: str, inbound: list[Inbound], outbox: Outbox) -> None:
        if not inbound:
            return
        if self.applier is None:
            for item in inbound:
                if item.event is not None:
                    result_id = f"result|{execution_id}|{_task_id(item.event)}"
                    outbox.add(
                        EVENTS_QUEUE,
                        event_message(execution_id, item.event, result_id),
                        execution_id,
                    )
            return
        self.applier.apply(execution_id, inbound, outbox, runner=self._inline)

    def _already_recorded(self, task: TaskMessage) -> bool:
        """A redelivered task whose result is committed needs no second run."""
        if self.applier is None:
            return False
        if task.command.resource in (REMINDER_RESOURCE, NOTICE_RESOURCE):
            # Owned by no frame, so never outstanding: run it again (the people
            # runner does each of its activities once per task and reminder or notice).
            return False
        return not self.applier.outstanding(task.execution_id, task.command.task_id)

    def _inline(self, execution_id: str, command: ev.RunTask) -> InlineResult | None:
        if command.token is not None or command.heartbeat_seconds:
            return None  # callbacks and heartbeats address a committed task
        if not command.function_name or command.function_name not in self.functions:
            return None
        if self.serves is not None and self.route(command.function_name) not in self.serves:
            return None
        outcome = self._run(execution_id, command)
        if isinstance(outcome, Timer):
            return InlineResult(timer=outcome)
        return InlineResult(event=outcome)

    def _heartbeat_for(self, execution_id: str, command: ev.RunTask) -> Callable[[], None] | None:
        if not command.heartbeat_seconds:
            return None

        def beat() -> None:
            now = self.clock.now()
            event = ev.TaskHeartbeat(command.task_id, now, token=command.token)
            message_id = f"beat|{execution_id}|{command.task_id}|{now.isoformat()}"
            self.queues.send(EVENTS_QUEUE, [event_message(execution_id, event, message_id)])

        return beat

    def _run(self, execution_id: str, command: ev.RunTask) -> ev.Event | Timer:
        """Run the step; its result event, or a timer holding it (skipped time)."""
        context = StepContext.for_task(
            command, client=self.client, heartbeat=self._heartbeat_for(execution_id, command)
        )
        if command.qualifier:  # a directly invoked Lambda function runs that version/alias
            context.extra["qualifier"] = command.qualifier
        request_id = context.aws_request_id
        started = self.clock.now()
        began = monotonic()
        if is_people_resource(command.resource):
            outcome = self.people(execution_id, command, context) if self.people else NO_PEOPLE
        elif self.integrations is not None and is_service_integration(command.resource):
            outcome = self.integrations(command.resource, command.input, context)
        else:
            outcome = invoke(
                self.functions,
                command.function_name,
                command.input,
                request_id=request_id,
                context=context,
            )
        self.metrics.timing(TASK_LATENCY, (monotonic() - began) * 1000, step=step_name(command))
        now = self.clock.now()
        if outcome.delay_seconds and self.deferred_results is None:
            self.clock.sleep(outcome.delay_seconds)
            now = self.clock.now()
        elif outcome.delay_seconds:
            now += timedelta(seconds=outcome.delay_seconds)
        result: ev.Event
        if (
            command.timeout_seconds
            and (now - started).total_seconds() >= command.timeout_seconds
            and not outcome.delay_seconds
        ):
            # Ran inline past TimeoutSeconds (a queued task has a timeout timer for this).
            at = started + timedelta(seconds=command.timeout_seconds)
            result = ev.TaskTimedOut(command.task_id, at)
        elif (
            not outcome.failed
            and dataflow.payload_size(outcome.output) > dataflow.MAX_PAYLOAD_BYTES
        ):
            # Over Step Functions' limit: report it here rather than ship it.
            label = size_label(command.resource)
            cause = f"The state/task '{label}' returned a result with a size exceeding the maximum number of bytes service limit."
            result = ev.TaskFailed(command.task_id, DATA_LIMIT_EXCEEDED, cause, now)
        elif outcome.failed:
            result = ev.TaskFailed(command.task_id, outcome.error, outcome.cause, now)
        else:
            result = ev.TaskSucceeded(command.task_id, outcome.output, now)
        if outcome.delay_seconds and self.deferred_results is not None:
            result_id = f"result|{execution_id}|{command.task_id}"
            body = event_message(execution_id, result, result_id).body
            return Timer(result_id, execution_id, codec.instant(now) or "", body)
        return result


def step_name(command: ev.RunTask) -> str:
    """The ``step`` dimension of a task: its step function, or the service it calls
    (``sqs:sendMessage`` for ``arn:aws:states:::sqs:sendMessage``)."""
    if command.function_name:
        return command.function_name
    return command.resource.removeprefix("arn:aws:states:::") or "unknown"


def _task_id(event: ev.Event) -> str:
    return str(getattr(event, "task_id", ""))

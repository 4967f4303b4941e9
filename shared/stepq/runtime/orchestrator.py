"""The orchestrator: a batch of events-queue messages -> load, decide, commit, send.

The events of one execution in a batch are decided in order and committed
once (``applier.Applier``); everything the batch decided is sent after its
commits, grouped by queue. A message that can never be processed goes to
the dead-letter queue with its reason; any other failure leaves that
execution's messages for redelivery without holding up the rest.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any, NamedTuple

from stepq.clock import Clock
from stepq.core import events as ev
from stepq.core.interpreter import parse_token
from stepq.errors import (
    AlreadyExistsError,
    ExecutionAlreadyExistsError,
    MalformedMessageError,
    NotFoundError,
)
from stepq.runtime.applier.apply import Applier
from stepq.runtime.applier.config import RuntimeConfig
from stepq.runtime.applier.groups import Groups, record_groups
from stepq.runtime.applier.inbound import Inbound
from stepq.runtime.applier.outbox import Outbox
from stepq.runtime.batch import (
    BatchResult,
    content_errors_are_malformed,
    handle_one,
    parse_each,
)
from stepq.runtime.messages import EVENTS_QUEUE, event_message, parse_event
from stepq.runtime.ports import Message, Queues, Received, Store
from stepq.runtime.signing import DEFECT, signed

__all__ = ["Orchestrator", "RuntimeConfig", "execution_arn"]

log = logging.getLogger(__name__)


def execution_arn(machine: str, name: str, config: RuntimeConfig) -> str:
    return f"arn:aws:states:{config.region}:{config.account}:execution:{machine}:{name}"


class Begun(NamedTuple):
    """What ``Orchestrator.begin`` did."""

    arn: str
    start_time: str  # ISO 8601, as headers hold it
    created: bool  # False: the same start while it runs, answered with the running one


class Orchestrator:
    def __init__(
        self, store: Store, queues: Queues, clock: Clock, config: RuntimeConfig | None = None
    ) -> None:
        self.store = store
        self.queues = signed(queues, store)  # every send carries its MAC
        self.clock = clock
        self.applier = Applier(store, clock, config)

    @property
    def config(self) -> RuntimeConfig:
        return self.applier.config

    # --- messages for the events queue ---------------------------------------------

    def start_message(
        self, machine: str, name: str, execution_input: Any, version: int | None = None
    ) -> Message:
        """The message that starts an execution (send it to the events queue)."""
        arn = execution_arn(machine, name, self.config)
        event = ev.StartExecution(execution_input, self.clock.now())
        return event_message(
            arn, event, f"start|{arn}", machine=machine, version=version, name=name
        )

    def start(
        self, machine: str, name: str, execution_input: Any, version: int | None = None
    ) -> str:
        """StartExecution, durably (see ``begin``); the execution's ARN."""
        return self.begin(machine, name, execution_input, version)[0]

    def begin(
        self, machine: str, name: str, execution_input: Any, version: int | None = None
    ) -> Begun:
        """StartExecution, durably: the first commit is written before this returns.

        Every refusal is an error to the caller (an unknown machine:
        NotFoundError; a first commit too large to store: StoreError; the
        name in use with another input, or finished:
        ExecutionAlreadyExistsError), never an ARN that resolves to nothing.
        The same name and input while it runs returns the same ARN. The
        first commit's work is sent from here; if that send fails the
        execution exists and the scheduler's reconcile sends it later.
        Says what it did (``Begun``), so a caller shows the start time without a read.
        """
        message = self.start_message(machine, name, execution_input, version)
        arn = str(message.body["execution_id"])
        event = ev.StartExecution(execution_input, self.clock.now())
        inbound = Inbound(message.id, event, machine=machine, version=version, name=name)
        outbox = Outbox()
        try:
            self.applier.machines.get(machine, version)  # cached: usually no read
        except MalformedMessageError as exc:  # for a queued start; to a caller: not found
            raise NotFoundError(str(exc)) from None
        try:
            content_errors_are_malformed(self.applier.apply)(arn, [inbound], outbox, exclusive=True)
        except ExecutionAlreadyExistsError:
            raise  # the store refused the name itself (held by an expired execution's tail)
        except AlreadyExistsError:
            return Begun(arn, self._started_before(arn, machine, name, execution_input), False)
        if outbox.flush(self.queues, self.store):
            log.warning(
                "started %s, but its first work could not be sent yet; "
                "the scheduler's reconcile will send it",
                arn,
                extra={"execution_id": arn},
            )
        return Begun(arn, event.at.isoformat(), True)

    def _started_before(self, arn: str, machine: str, name: str, execution_input: Any) -> str:
        header = self.store.get_execution(arn)
        if header.status == "RUNNING" and header.input == execution_input:
            return header.start_time  # a retried start (Step Functions answers it the same way)
        raise ExecutionAlreadyExistsError(
            f"execution {name!r} of state machine {machine!r} already exists"
            + (" with another input" if header.status == "RUNNING" else f" ({header.status})")
        )

    def callback_message(
        self,
        token: str,
        *,
        output: Any = None,
        error: str | None = None,
        cause: str | None = None,
        failed: bool = False,
    ) -> Message:
        """SendTaskSuccess / SendTaskFailure as a message for the events queue."""
        parsed = parse_token(token)
        if parsed is None:
            raise MalformedMessageError("not a stepq task token")
        arn, task_id = parsed
        event = ev.CallbackReceived(
            token, self.clock.now(), output=output, error=error, cause=cause, failed=failed
        )
        return event_message(arn, event, f"callback|{arn}|{task_id}")

    def heartbeat_message(self, token: str) -> Message:
        """SendTaskHeartbeat as a message for the events queue."""
        parsed = parse_token(token)
        if parsed is None:
            raise MalformedMessageError("not a stepq task token")
        arn, task_id = parsed
        return self._heartbeat(arn, task_id, token)

    def task_heartbeat_message(self, execution_id: str, task_id: str) -> Message:
        """A heartbeat from the worker running the task (no token needed)."""
        return self._heartbeat(execution_id, task_id, None)

    def _heartbeat(self, arn: str, task_id: str, token: str | None) -> Message:
        now = self.clock.now()
        event = ev.TaskHeartbeat(task_id, now, token=token)
        # Each heartbeat is news: its own id, so it is not dropped as a duplicate.
        return event_message(arn, event, f"beat|{arn}|{task_id}|{now.isoformat()}")

    # --- handling ---------------------------------------------------------------------

    def _authentic(self) -> Callable[[Received], bool] | None:
        if DEFECT in self.config.defects:  # test-only: issue 9's defect 5 back on
            return None
        return functools.partial(self.queues.keys.authentic, EVENTS_QUEUE)

    def handle(self, body: Any) -> None:
        """One message body. Raises MalformedMessageError for poison, else what failed."""
        handle_one(self.handle_batch, body)

    def handle_batch(self, received: list[Received], *, raise_errors: bool = False) -> BatchResult:
        result = BatchResult()
        groups: Groups = {}
        for message, parsed in parse_each(received, parse_event, result, self._authentic()):
            inbound = Inbound(
                parsed.id,
                parsed.event,
                redelivered=message.receive_count > 1 or parsed.redriven,
                machine=parsed.machine,
                version=parsed.version,
                name=parsed.name,
            )
            groups.setdefault(parsed.execution_id, []).append((message, inbound))
        return record_groups(
            result,
            groups,
            content_errors_are_malformed(self.applier.apply),
            self.queues,
            self.store,
            raise_errors=raise_errors,
        )

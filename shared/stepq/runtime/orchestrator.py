"""The orchestrator: one inbound event -> load, decide, commit once, send.

Exactly-once transitions come from the store's conditional write: a commit
names the next sequence number, and only one writer can create it. The
loser reloads and decides again (the core drops what is already applied).
Commands are sent after the commit (outbox); if the process dies before
sending, the inbound message is redelivered, the orchestrator recognises it
as already applied and sends that commit's commands again. Consumers drop
duplicates by the deterministic message ids.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from stepq.clock import Clock
from stepq.core import events as ev
from stepq.core.definition import load_definition
from stepq.core.execution import ExecutionState, new_execution
from stepq.core.interpreter import decide, parse_token
from stepq.core.machine import Machine
from stepq.errors import DefinitionError, StepqError
from stepq.runtime import codec
from stepq.runtime.messages import (
    EVENTS_QUEUE,
    EventMessage,
    MalformedMessageError,
    event_message,
    parse_event,
    task_message,
    task_queue,
)
from stepq.runtime.ports import (
    AlreadyExistsError,
    Commit,
    ConflictError,
    ExecutionHeader,
    Message,
    NotFoundError,
    Queues,
    Store,
    Timer,
)

log = logging.getLogger("stepq.orchestrator")

MAX_SQS_DELAY = 900  # longer waits live in the store's timers index
RECENT_IDS = 256  # inbound ids remembered per execution, for redelivery detection
MAX_CONFLICT_RETRIES = 20


class UnknownExecutionError(StepqError):
    """An event names an execution that does not exist (and is not a start)."""


@dataclass(slots=True)
class RuntimeConfig:
    region: str = "us-east-1"
    account: str = "111111111111"
    # Embedded runs that skip time keep every timer in the store, where the
    # scheduler can jump the clock to it.
    sqs_delays: bool = True
    max_sqs_delay: int = MAX_SQS_DELAY
    route: Callable[[str | None], str] = field(default=task_queue)


def execution_arn(machine: str, name: str, config: RuntimeConfig) -> str:
    return f"arn:aws:states:{config.region}:{config.account}:execution:{machine}:{name}"


class Orchestrator:
    def __init__(
        self, store: Store, queues: Queues, clock: Clock, config: RuntimeConfig | None = None
    ) -> None:
        self.store = store
        self.queues = queues
        self.clock = clock
        self.config = config or RuntimeConfig()
        self._machines: dict[tuple[str, int], Machine] = {}

    # --- public entry points ------------------------------------------------

    def start_message(
        self, machine: str, name: str, execution_input: Any, version: int | None = None
    ) -> Message:
        """The message that starts an execution (send it to the events queue)."""
        arn = execution_arn(machine, name, self.config)
        event = ev.StartExecution(execution_input, self.clock.now())
        return event_message(
            arn, event, f"start|{arn}", machine=machine, version=version, name=name
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

    def handle(self, body: Any) -> None:
        """Process one events-queue message body. Raises MalformedMessageError for poison."""
        message = parse_event(body)
        if isinstance(message.event, ev.StartExecution):
            self._start(message)
        else:
            self._advance(message)

    # --- internals ------------------------------------------------------------

    def _machine(self, name: str, version: int | None) -> tuple[Machine, int]:
        if version is not None and (name, version) in self._machines:
            return self._machines[(name, version)], version  # versions never change: no read
        definition, resolved = self.store.get_machine(name, version)
        key = (name, resolved)
        if key not in self._machines:
            try:
                model = load_definition(definition)
            except DefinitionError as exc:
                raise MalformedMessageError(
                    f"state machine {name} v{resolved} is invalid: {exc}"
                ) from None
            self._machines[key] = Machine(model.raw, name=name)
        return self._machines[key], resolved

    def _start(self, message: EventMessage) -> None:
        if not message.machine or not message.name:
            raise MalformedMessageError("a start needs 'machine' and 'name'")
        try:
            machine, version = self._machine(message.machine, message.version)
        except NotFoundError:
            raise MalformedMessageError(f"no state machine named {message.machine!r}") from None
        event = message.event
        assert isinstance(event, ev.StartExecution)
        state = new_execution(
            name=message.name,
            state_machine_name=message.machine,
            start_time=event.at,
            region=self.config.region,
            account=self.config.account,
        )
        if state.meta.execution_arn != message.execution_id:
            raise MalformedMessageError("execution_id does not match machine and name")
        state, decision = decide(machine, state, event, in_place=True)
        commit = self._commit_record(1, state, decision, message.id, {}, version)
        header = ExecutionHeader(
            execution_id=message.execution_id,
            machine=message.machine,
            machine_version=version,
            name=message.name,
            status="RUNNING",  # the FinishExecution command sets the outcome, output included
            start_time=codec.instant(event.at) or "",
            input=event.input,
        )
        try:
            self.store.create_execution(header, commit)
        except AlreadyExistsError:
            # A redelivered start: make sure its commands went out, nothing more.
            self._resend(message.execution_id, self.store.commit(message.execution_id, 1))
            return
        self._dispatch(message.execution_id, decision.commands, state)

    def _advance(self, message: EventMessage) -> None:
        for _ in range(MAX_CONFLICT_RETRIES):
            try:
                latest = self.store.latest(message.execution_id)
            except NotFoundError:
                raise MalformedMessageError(f"no execution {message.execution_id}") from None
            recent: dict[str, int] = latest.snapshot.get("recent", {})
            if message.id in recent:
                self._resend(
                    message.execution_id,
                    self.store.commit(message.execution_id, recent[message.id]),
                )
                return
            state = codec.decode_state(latest.snapshot["state"])
            if state.done:
                return
            machine, version = self._machine(latest.snapshot["machine"], latest.snapshot["version"])
            state, decision = decide(machine, state, message.event, in_place=True)
            if not decision.events and not decision.commands:
                return  # stale or duplicate: nothing to record
            commit = self._commit_record(
                latest.seq + 1,
                state,
                decision,
                message.id,
                recent,
                version,
                machine_name=machine.name,
            )
            try:
                self.store.append(message.execution_id, commit)
            except ConflictError:
                log.info(
                    "lost a commit race; deciding again",
                    extra={"execution_id": message.execution_id},
                )
                continue
            self._dispatch(message.execution_id, decision.commands, state)
            return
        raise ConflictError(
            f"gave up after {MAX_CONFLICT_RETRIES} commit conflicts on {message.execution_id}"
        )

    def _commit_record(
        self,
        seq: int,
        state: ExecutionState,
        decision: ev.Decision,
        cause_id: str,
        recent: dict[str, int],
        version: int,
        machine_name: str | None = None,
    ) -> Commit:
        recent = dict(recent)
        recent[cause_id] = seq
        while len(recent) > RECENT_IDS:
            recent.pop(next(iter(recent)))
        snapshot = {
            "state": codec.encode_state(state),
            "recent": recent,
            "machine": machine_name or state.meta.state_machine_name,
            "version": version,
        }
        return Commit(
            seq=seq,
            snapshot=snapshot,
            events=[codec.encode_history(e) for e in decision.events],
            commands=[codec.encode_command(c) for c in decision.commands],
            cause_id=cause_id,
            at=codec.instant(self.clock.now()) or "",
            status=state.status,
        )

    def _resend(self, execution_id: str, commit: Commit) -> None:
        commands = [codec.decode_command(c) for c in commit.commands]
        state = codec.decode_state(commit.snapshot["state"])
        self._dispatch(execution_id, commands, state)

    def _dispatch(
        self,
        execution_id: str,
        commands: list[ev.Command],
        state: ExecutionState,
    ) -> None:
        by_queue: dict[str, list[Message]] = {}
        now = self.clock.now()
        for command in commands:
            if isinstance(command, ev.RunTask):
                by_queue.setdefault(self.config.route(command.function_name), []).append(
                    task_message(execution_id, command)
                )
                if command.timeout_seconds:
                    self._later(
                        by_queue,
                        execution_id,
                        f"timeout|{execution_id}|{command.task_id}",
                        ev.TaskTimedOut(command.task_id, now),
                        now,
                        command.timeout_seconds,
                    )
                if command.heartbeat_seconds:
                    self._later(
                        by_queue,
                        execution_id,
                        f"heartbeat|{execution_id}|{command.task_id}",
                        ev.TaskTimedOut(command.task_id, now, heartbeat=True),
                        now,
                        command.heartbeat_seconds,
                    )
            elif isinstance(command, ev.StartTimer):
                seconds = max(0.0, (command.fire_at - now).total_seconds())
                self._later(
                    by_queue,
                    execution_id,
                    f"timer|{execution_id}|{command.timer_id}",
                    ev.TimerFired(command.timer_id, command.fire_at),
                    now,
                    seconds,
                    due=command.fire_at,
                )
            elif isinstance(command, ev.FinishExecution):
                self.store.finish_execution(self._finished_header(execution_id, state))
        for queue, messages in by_queue.items():
            self.queues.send(queue, messages)

    def _later(
        self,
        by_queue: dict[str, list[Message]],
        execution_id: str,
        message_id: str,
        event: ev.Event,
        now: datetime,
        seconds: float,
        due: datetime | None = None,
    ) -> None:
        """Deliver ``event`` after ``seconds``: an SQS delay when short, else a durable timer."""
        due = due or now + timedelta(seconds=seconds)
        event = _at(event, due)
        if self.config.sqs_delays and seconds <= self.config.max_sqs_delay:
            delay = int(seconds + 0.999)  # never early: SQS delays are whole seconds
            by_queue.setdefault(EVENTS_QUEUE, []).append(
                event_message(execution_id, event, message_id, delay=delay)
            )
            return
        body = event_message(execution_id, event, message_id).body
        with contextlib.suppress(AlreadyExistsError):  # re-sent after a crash: already there
            self.store.put_timer(Timer(message_id, execution_id, codec.instant(due) or "", body))

    def _finished_header(self, execution_id: str, state: ExecutionState) -> ExecutionHeader:
        header = self.store.get_execution(execution_id)
        header.status = state.status
        header.stop_time = codec.instant(state.stop_time)
        header.output = state.output
        header.error = state.error
        header.cause = state.cause
        return header


def _at(event: ev.Event, when: datetime) -> ev.Event:
    """The event as decided at ``when`` (its due instant)."""
    return dataclasses.replace(event, at=when)

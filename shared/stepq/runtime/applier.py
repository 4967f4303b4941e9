"""Apply inbound events to one execution: load, decide, commit once, then send.

Shared by the orchestrator (events queue) and the worker (the results of the
steps it ran). Exactly-once transitions come from the store's conditional
write: a commit names the next sequence number and only one writer creates
it; the loser reloads and decides again (the core drops what is already
applied). Several events of one execution that arrive in one batch are
decided one after the other and committed together: one write, however many
transitions they make.

**Inline continuation (group commit).** Given a ``runner`` (the worker's), a
task the decision schedules is run at once, in this process, when the runner
can run it (a plain request-response step it hosts), and its result is
decided too, until nothing runnable is left or a budget of steps and seconds
is spent; then everything is committed in one write. A crash before that
commit re-runs those steps (the same idempotency keys: steps are
at-least-once anyway) and loses no committed transition; the budget bounds
the work a crash can cost. This is what keeps a chain of short steps at one
write per commit instead of one write and four queue requests per step.

**Outbox.** Commands decided in a commit are sent after it. If the process
dies in between, the inbound message is delivered again (its receive count
says so); it is stale by then, so its commit is found among the last
``LOOKBACK`` commits by the message id it records, and that commit's
commands are sent again. Message ids are deterministic, so consumers drop
duplicates. A first delivery that is stale is dropped without a read.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from stepq.clock import Clock, monotonic
from stepq.core import events as ev
from stepq.core.definition import load_definition
from stepq.core.execution import RUNNING, ExecutionState, new_execution
from stepq.core.interpreter import decide
from stepq.core.machine import Machine
from stepq.errors import (
    AlreadyExistsError,
    ConflictError,
    DefinitionError,
    MalformedMessageError,
    NotFoundError,
)
from stepq.runtime import codec
from stepq.runtime.batch import BatchResult
from stepq.runtime.messages import EVENTS_QUEUE, event_message, task_message, task_queue
from stepq.runtime.ports import Commit, ExecutionHeader, Message, Queues, Received, Store, Timer

log = logging.getLogger("stepq.applier")

MAX_SQS_DELAY = 900  # longer waits live in the store's timers index
MAX_CONFLICT_RETRIES = 20
LOOKBACK = 16  # commits searched for a redelivered message's own commit
MAX_CARRIED_BYTES = 16 * 1024  # a larger snapshot is read back, not carried
NEWEST_SECONDS = 1.0  # how long a start may keep using the newest version it last read


@dataclass(slots=True)
class RuntimeConfig:
    region: str = "us-east-1"
    account: str = "111111111111"
    # Embedded runs that skip time keep every timer in the store, where the
    # scheduler can jump the clock to it.
    sqs_delays: bool = True
    max_sqs_delay: int = MAX_SQS_DELAY
    route: Callable[[str | None], str] = field(default=task_queue)
    # Group commit: at most this many steps, for at most this long, run
    # inline before the commit that records them.
    inline_steps: int = 64
    inline_seconds: float = 1.0


@dataclass(frozen=True, slots=True)
class Inbound:
    """One inbound event for an execution, with the message that carried it."""

    message_id: str
    event: ev.Event | None  # None: already recorded (only a redelivery to answer)
    redelivered: bool = False  # the queue delivered this message before
    machine: str | None = None  # a start names its machine, version and name
    version: int | None = None
    name: str | None = None
    # The commit that sent the task, carried by its message (messages.TaskMessage.after).
    prior: Commit | None = None


@dataclass(frozen=True, slots=True)
class InlineResult:
    """A step run inline: its result now (``event``) or later (``timer``, skipped time)."""

    event: ev.Event | None = None
    timer: Timer | None = None


InlineRunner = Callable[[str, ev.RunTask], InlineResult | None]


@dataclass(slots=True)
class Outbox:
    """Messages and timers to send once the commits that decided them are written.

    Each item remembers its execution, so a send that fails is retried per
    execution and only the executions whose messages could not go out are
    reported (their inbound messages are redelivered; their commits re-sent).
    """

    messages: dict[str, list[tuple[str, Message]]] = field(default_factory=dict)
    timers: list[Timer] = field(default_factory=list)
    stale_timers: list[Timer] = field(default_factory=list)  # to delete: nobody waits any more

    def add(self, queue: str, message: Message, execution_id: str = "") -> None:
        self.messages.setdefault(queue, []).append((execution_id, message))

    def flush(self, queues: Queues, store: Store | None) -> set[str]:
        """Send everything; the ids of the executions whose sends failed."""
        failed: set[str] = set()
        for timer in self.timers:
            try:
                if store is None:
                    raise RuntimeError("a timer to write but no store to hold it")
                with contextlib.suppress(AlreadyExistsError):  # re-sent after a crash
                    store.put_timer(timer)
            except Exception:
                log.exception("writing a timer failed", extra={"execution_id": timer.execution_id})
                failed.add(timer.execution_id)
        for timer in self.stale_timers:
            if store is not None:
                try:  # an undeleted one fires later and is dropped as stale
                    store.claim_timer(timer)
                except Exception:
                    log.warning("deleting a stale timer failed", exc_info=True)
        for queue, items in self.messages.items():
            try:
                queues.send(queue, [m for _, m in items])
                continue
            except Exception:
                log.warning("a batched send failed; sending per execution", extra={"queue": queue})
            by_execution: dict[str, list[Message]] = {}
            for execution_id, message in items:
                by_execution.setdefault(execution_id, []).append(message)
            for execution_id, messages in by_execution.items():
                try:
                    queues.send(queue, messages)
                except Exception:
                    log.exception("sending failed", extra={"execution_id": execution_id})
                    failed.add(execution_id)
        self.messages.clear()
        self.timers.clear()
        self.stale_timers.clear()
        return failed


class Applier:
    def __init__(self, store: Store, clock: Clock, config: RuntimeConfig | None = None) -> None:
        self.store = store
        self.clock = clock
        self.config = config or RuntimeConfig()
        self._machines: dict[tuple[str, int], Machine] = {}
        self._newest: dict[str, tuple[int, float]] = {}  # name -> (version, until)

    # --- machines ---------------------------------------------------------------

    def forget_machine(self, name: str) -> None:
        """A new version of ``name`` was deployed here: starts use it from now on."""
        self._newest.pop(name, None)

    def machine(self, name: str, version: int | None) -> tuple[Machine, int]:
        if version is None:
            # Like StartExecution right after UpdateStateMachine, a start may use the
            # previous newest version for NEWEST_SECONDS; that saves a read per start.
            cached = self._newest.get(name)
            if cached is not None and monotonic() < cached[1]:
                version = cached[0]
        if version is not None and (name, version) in self._machines:
            return self._machines[(name, version)], version  # versions never change: no read
        asked = version
        try:
            definition, resolved = self.store.get_machine(name, version)
        except NotFoundError:
            raise MalformedMessageError(f"no state machine named {name!r}") from None
        key = (name, resolved)
        if key not in self._machines:
            try:
                model = load_definition(definition)
            except DefinitionError as exc:
                raise MalformedMessageError(
                    f"state machine {name} v{resolved} is invalid: {exc}"
                ) from None
            self._machines[key] = Machine(model.raw, name=name)
        if asked is None:
            self._newest[name] = (resolved, monotonic() + NEWEST_SECONDS)
        return self._machines[key], resolved

    # --- applying ---------------------------------------------------------------

    def apply(
        self,
        execution_id: str,
        inbound: list[Inbound],
        outbox: Outbox,
        runner: InlineRunner | None = None,
    ) -> None:
        """Decide ``inbound`` in order against the execution and commit once."""
        # A start delivered for the first time is assumed new: commit 1 is a
        # conditional put that fails if the execution exists, so no read first.
        fresh = isinstance(inbound[0].event, ev.StartExecution) and not inbound[0].redelivered
        # Likewise a lone task result that carries the commit which sent it.
        prior = inbound[0].prior if len(inbound) == 1 and not inbound[0].redelivered else None
        for _ in range(MAX_CONFLICT_RETRIES):
            try:
                if self._attempt(execution_id, inbound, outbox, runner, fresh=fresh, prior=prior):
                    return
            except (ConflictError, AlreadyExistsError):
                pass
            fresh, prior = False, None
            log.info("lost a commit race; deciding again", extra={"execution_id": execution_id})
            runner = None  # inline results may be stale now; the queues carry the tasks
        raise ConflictError(
            f"gave up after {MAX_CONFLICT_RETRIES} commit conflicts on {execution_id}"
        )

    def _attempt(
        self,
        execution_id: str,
        inbound: list[Inbound],
        outbox: Outbox,
        runner: InlineRunner | None,
        *,
        fresh: bool = False,
        prior: Commit | None = None,
    ) -> bool:
        latest: Commit | None = prior
        if not fresh and prior is None:
            try:
                latest = self.store.latest(execution_id)
            except NotFoundError:
                latest = None
        if latest is None:
            first = inbound[0]
            if not isinstance(first.event, ev.StartExecution):
                raise MalformedMessageError(f"no execution {execution_id}")
            state, machine, version = self._new_state(execution_id, first)
            seq = 1
            waiting = {}
        else:
            if latest.status != RUNNING:
                self._resend_stale(execution_id, [i for i in inbound if i.redelivered], outbox)
                return True
            state = codec.decode_state(latest.snapshot["state"])
            machine, version = self.machine(latest.snapshot["machine"], latest.snapshot["version"])
            seq = latest.seq + 1
            waiting = dict(latest.snapshot.get("task_timers", {}))
        applied: list[str] = []
        stale: list[Inbound] = []
        history: list[ev.HistoryEvent] = []
        commands: list[ev.Command] = []
        for item in inbound:
            is_start = isinstance(item.event, ev.StartExecution)
            if (
                item.event is None
                or state.done
                or (is_start and seq > 1)
                or (is_start and item is not inbound[0])
            ):
                stale.append(item)
                continue
            state, decision = decide(machine, state, item.event, in_place=True)
            if decision.events or decision.commands:
                applied.append(item.message_id)
                history.extend(decision.events)
                commands.extend(decision.commands)
            else:
                stale.append(item)
        if runner is not None and not state.done:
            state, commands = self._continue_inline(
                execution_id, machine, state, history, commands, runner, outbox
            )
        if not history and not commands:
            self._resend_stale(execution_id, [i for i in stale if i.redelivered], outbox)
            return True
        # Durable timeout timers (task id -> timer ids) of tasks still waited for;
        # those of finished tasks are deleted after the commit.
        for command in commands:
            if isinstance(command, ev.RunTask):
                ids = self._durable_timer_ids(execution_id, command)
                if ids:
                    waiting[command.task_id] = ids
        finished = [t for t in waiting if state.done or t not in state.tasks]
        stale_timers = [tid for t in finished for tid in waiting.pop(t)]
        commit = Commit(
            seq=seq,
            # A finished execution is never decided again: its final commit
            # carries the outcome and no snapshot (fewer bytes, fewer write units).
            snapshot={}
            if state.done
            else {
                "state": codec.encode_state(state),
                "machine": machine.name,
                "version": version,
                **({"task_timers": waiting} if waiting else {}),
            },
            events=[codec.encode_history(e) for e in history],
            commands=[codec.encode_command(c) for c in commands],
            cause_id=" ".join(cause_digest(i) for i in applied),
            at=codec.instant(self.clock.now()) or "",
            status=state.status,
            outcome=self._outcome(state, version) if state.done else None,
        )
        if seq == 1:
            self.store.create_execution(self._header(state, version), commit)
        else:
            self.store.append(execution_id, commit)
        self.dispatch(execution_id, commands, outbox, after=_carried(state, commands, commit))
        outbox.stale_timers.extend(Timer(tid, execution_id, "") for tid in stale_timers)
        self._resend_stale(execution_id, [i for i in stale if i.redelivered], outbox)
        return True

    def _new_state(self, execution_id: str, start: Inbound) -> tuple[ExecutionState, Machine, int]:
        if not start.machine or not start.name:
            raise MalformedMessageError("a start needs 'machine' and 'name'")
        machine, version = self.machine(start.machine, start.version)
        assert isinstance(start.event, ev.StartExecution)
        state = new_execution(
            name=start.name,
            state_machine_name=start.machine,
            start_time=start.event.at,
            region=self.config.region,
            account=self.config.account,
            # Signs this execution's task tokens: a callback must quote one it was given.
            token_secret=secrets.token_urlsafe(16),  # 128 bits, stored in every snapshot
        )
        if state.meta.execution_arn != execution_id:
            raise MalformedMessageError("execution_id does not match machine and name")
        return state, machine, version

    def _continue_inline(
        self,
        execution_id: str,
        machine: Machine,
        state: ExecutionState,
        history: list[ev.HistoryEvent],
        commands: list[ev.Command],
        runner: InlineRunner,
        outbox: Outbox,
    ) -> tuple[ExecutionState, list[ev.Command]]:
        """Run what the runner can run now, decide its results; the rest stays commands."""
        deadline = monotonic() + self.config.inline_seconds
        steps = 0
        pending = list(commands)
        kept: list[ev.Command] = []
        while pending:
            command = pending.pop(0)
            ran = None
            if (
                isinstance(command, ev.RunTask)
                and not state.done
                and steps < self.config.inline_steps
                and monotonic() < deadline
            ):
                ran = runner(execution_id, command)
            if ran is None:
                kept.append(command)
                continue
            steps += 1
            if ran.timer is not None:  # a simulated long step: its result waits as a timer
                outbox.timers.append(ran.timer)
                if command.timeout_seconds:  # and may be overtaken by its timeout
                    self._task_timeout(outbox, execution_id, command, self.clock.now())
                continue
            assert ran.event is not None
            state, decision = decide(machine, state, ran.event, in_place=True)
            history.extend(decision.events)
            pending.extend(decision.commands)
        if state.done:  # nothing is waiting for a task any more
            kept = [c for c in kept if not isinstance(c, ev.RunTask)]
        return state, kept

    def outstanding(self, execution_id: str, task_id: str) -> bool:
        """Whether the execution still waits for this task (one read)."""
        try:
            latest = self.store.latest(execution_id)
        except NotFoundError:
            return False
        if latest.status != RUNNING:
            return False
        return task_id in codec.decode_state(latest.snapshot["state"]).tasks

    # --- sending ----------------------------------------------------------------

    def dispatch(
        self,
        execution_id: str,
        commands: list[ev.Command],
        outbox: Outbox,
        after: tuple[int, dict[str, Any]] | None = None,
    ) -> None:
        now = self.clock.now()
        for command in commands:
            if isinstance(command, ev.RunTask):
                outbox.add(
                    self.config.route(command.function_name),
                    task_message(execution_id, command, after),
                    execution_id,
                )
                if command.timeout_seconds:
                    self._task_timeout(outbox, execution_id, command, now)
                if command.heartbeat_seconds:
                    self._later(
                        outbox,
                        execution_id,
                        f"heartbeat|{execution_id}|{command.task_id}",
                        ev.TaskTimedOut(command.task_id, now, heartbeat=True),
                        now,
                        command.heartbeat_seconds,
                    )
            elif isinstance(command, ev.StartTimer):
                seconds = max(0.0, (command.fire_at - now).total_seconds())
                self._later(
                    outbox,
                    execution_id,
                    f"timer|{execution_id}|{command.timer_id}",
                    ev.TimerFired(command.timer_id, command.fire_at),
                    now,
                    seconds,
                    due=command.fire_at,
                )
            elif isinstance(command, ev.ScheduleHeartbeatCheck):
                seconds = max(0.0, (command.fire_at - now).total_seconds())
                self._later(
                    outbox,
                    execution_id,
                    f"heartbeat|{execution_id}|{command.task_id}|{command.beat}",
                    ev.TaskTimedOut(command.task_id, command.fire_at, heartbeat=True),
                    now,
                    seconds,
                    due=command.fire_at,
                )
            # FinishExecution: the final commit carries the outcome; CancelTask:
            # the late result is dropped as stale.

    def _task_timeout(
        self, outbox: Outbox, execution_id: str, command: ev.RunTask, now: datetime
    ) -> None:
        """The TaskTimedOut a task's TimeoutSeconds delivers unless its result comes first."""
        self._later(
            outbox,
            execution_id,
            f"timeout|{execution_id}|{command.task_id}",
            ev.TaskTimedOut(command.task_id, now),
            now,
            command.timeout_seconds or 0,
        )

    def _durable(self, seconds: float) -> bool:
        return not (self.config.sqs_delays and seconds <= self.config.max_sqs_delay)

    def _durable_timer_ids(self, execution_id: str, command: ev.RunTask) -> list[str]:
        """The timers index entries ``dispatch`` makes for this task (not SQS delays)."""
        ids = []
        if command.timeout_seconds and self._durable(command.timeout_seconds):
            ids.append(f"timeout|{execution_id}|{command.task_id}")
        if command.heartbeat_seconds and self._durable(command.heartbeat_seconds):
            ids.append(f"heartbeat|{execution_id}|{command.task_id}")
        return ids

    def _later(
        self,
        outbox: Outbox,
        execution_id: str,
        message_id: str,
        event: ev.Event,
        now: datetime,
        seconds: float,
        due: datetime | None = None,
    ) -> None:
        """Deliver ``event`` after ``seconds``: an SQS delay when short, else a durable timer."""
        due = due or now + timedelta(seconds=seconds)
        event = dataclasses.replace(event, at=due)  # decided at its due instant
        if not self._durable(seconds):
            delay = int(seconds + 0.999)  # never early: SQS delays are whole seconds
            message = event_message(execution_id, event, message_id, delay=delay)
            outbox.add(EVENTS_QUEUE, message, execution_id)
            return
        body = event_message(execution_id, event, message_id).body
        outbox.timers.append(Timer(message_id, execution_id, codec.instant(due) or "", body))

    def _resend_stale(self, execution_id: str, redelivered: list[Inbound], outbox: Outbox) -> None:
        """Send again the commands of the commits that applied these redelivered messages."""
        if not redelivered:
            return
        wanted = {cause_digest(i.message_id) for i in redelivered}
        for commit in self.store.recent(execution_id, LOOKBACK):
            if wanted & set(commit.causes):
                commands = [codec.decode_command(c) for c in commit.commands]
                self.dispatch(execution_id, commands, outbox)

    # --- execution summaries --------------------------------------------------------

    def _header(self, state: ExecutionState, version: int) -> ExecutionHeader:
        meta = state.meta
        return ExecutionHeader(
            execution_id=meta.execution_arn,
            machine=meta.state_machine_name,
            machine_version=version,
            name=meta.name,
            status="RUNNING",
            start_time=codec.instant(meta.start_time) or "",
            input=meta.input,
        )

    def _outcome(self, state: ExecutionState, version: int) -> ExecutionHeader:
        header = self._header(state, version)
        header.status = state.status
        header.input = None  # kept on the first commit
        header.stop_time = codec.instant(state.stop_time)
        header.output = state.output
        header.error = state.error
        header.cause = state.cause
        return header


def cause_digest(message_id: str) -> str:
    """A short stand-in for a message id in commits (ids embed the execution ARN)."""
    return hashlib.blake2b(message_id.encode(), digest_size=9).hexdigest()


Groups = dict[str, list[tuple[Received, Inbound]]]


def record_groups(
    result: BatchResult,
    groups: Groups,
    record: Callable[[str, list[Inbound], Outbox], None],
    queues: Queues,
    store: Store | None,
    *,
    outbox: Outbox | None = None,
    raise_errors: bool = False,
) -> BatchResult:
    """Record each execution's inbound events, then send what they decided.

    One execution failing leaves only its own messages for redelivery; a
    message that can never be processed is dead-lettered with its reason;
    an execution whose sends failed after its commit is redelivered too (its
    commit's commands are then re-sent).
    """
    outbox = outbox or Outbox()
    applied: dict[str, list[Received]] = {}
    for execution_id, items in groups.items():
        messages = [m for m, _ in items]
        try:
            record(execution_id, [i for _, i in items], outbox)
            applied[execution_id] = messages
        except MalformedMessageError as exc:
            result.dead.extend((m, str(exc)) for m in messages)
        except Exception:
            if raise_errors:
                raise
            log.exception("recording events failed", extra={"execution_id": execution_id})
            result.failed.extend(messages)
    unsent = outbox.flush(queues, store)
    if unsent and raise_errors:
        raise RuntimeError(f"sending failed for {sorted(unsent)}")
    for execution_id in unsent:
        result.failed.extend(applied.get(execution_id, []))
    return result


def handle_one(
    handle_batch: Callable[..., BatchResult], body: Any, *, redelivered: bool = False
) -> None:
    """One message body through a batch handler; MalformedMessageError for poison."""
    received = Received(body, "", "", 2 if redelivered else 1, "")
    result = handle_batch([received], raise_errors=True)
    if result.dead:
        raise MalformedMessageError(result.dead[0][1])


def _carried(
    state: ExecutionState, commands: list[ev.Command], commit: Commit
) -> tuple[int, dict[str, Any]] | None:
    """(seq, snapshot) for the task message when its result will likely be the next
    commit: one task, no timer, a small snapshot. Otherwise the worker reads."""
    tasks = [c for c in commands if isinstance(c, ev.RunTask)]
    if len(tasks) != 1 or len(state.tasks) != 1 or state.timers or state.done:
        return None
    if len(json.dumps(commit.snapshot, separators=(",", ":"))) > MAX_CARRIED_BYTES:
        return None
    return commit.seq, commit.snapshot

"""The Applier: load an execution, decide its inbound events in order, commit once.

With a runner, the tasks a decision schedules are run inline and their
results decided before the one commit (group commit); the commands left are
dispatched to the outbox, and a redelivered message's commit is re-sent.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from stepq.clock import Clock, monotonic
from stepq.core import events as ev
from stepq.core.execution import RUNNING, ExecutionState, ResultsNeeded, new_execution
from stepq.core.interpreter import decide
from stepq.core.machine import Machine
from stepq.errors import (
    AlreadyExistsError,
    ConflictError,
    ExecutionAlreadyExistsError,
    MalformedMessageError,
    NotFoundError,
)
from stepq.runtime import codec
from stepq.runtime.applier.config import RuntimeConfig
from stepq.runtime.applier.inbound import Inbound, InlineResult, InlineRunner
from stepq.runtime.applier.machines import Machines
from stepq.runtime.applier.observe import count_commit, count_conflict, retries_of
from stepq.runtime.applier.outbox import Dispatcher, Outbox
from stepq.runtime.applier.redelivery import applied_before, cause_digest, resend_stale
from stepq.runtime.applier.snapshots import Gathered, Loaded, Snapshots
from stepq.runtime.ports import Commit, ExecutionHeader, Store, Timer
from stepq.runtime.signing import Keys

log = logging.getLogger(__name__)

# Lost commit races in a row after which no other writer's commit showed up:
# the store keeps refusing a write nobody else made, so trying again is futile.
# (A race lost to a writer that committed is progress and is always retried,
# within RuntimeConfig.conflict_budget.)
MAX_CONFLICT_RETRIES = 20
MAX_CARRIED_BYTES = 16 * 1024  # a larger snapshot is read back, not carried


class Applier:
    def __init__(self, store: Store, clock: Clock, config: RuntimeConfig | None = None) -> None:
        self.store = store
        self.clock = clock
        self.config = config or RuntimeConfig()
        self.machines = Machines(store)
        self.snapshots = Snapshots(store)
        self.dispatcher = Dispatcher(self.config, clock)
        self.keys = Keys(store)  # token secrets, derived from the table's signing key

    def forget_machine(self, name: str) -> None:
        """A new version of ``name`` was deployed here: starts use it from now on."""
        self.machines.forget(name)

    # --- applying ---------------------------------------------------------------

    def apply(
        self,
        execution_id: str,
        inbound: list[Inbound],
        outbox: Outbox,
        runner: InlineRunner | None = None,
        *,
        exclusive: bool = False,
    ) -> None:
        """Decide ``inbound`` in order against the execution and commit once.

        ``exclusive``: a start that must create the execution (a client's
        synchronous start): AlreadyExistsError if it exists, instead of
        treating the start as a duplicate delivery."""
        if "overtake" not in self.config.defects:  # test-only: defect 2 back on
            inbound = _start_first(inbound)
        # A start delivered for the first time is assumed new: commit 1 is a
        # conditional put that fails if the execution exists, so no read first.
        fresh = isinstance(inbound[0].event, ev.StartExecution) and not inbound[0].redelivered
        # Likewise a lone task result that carries the commit which sent it.
        prior = inbound[0].prior if len(inbound) == 1 and not inbound[0].redelivered else None
        races = _Races(execution_id, self.config)
        gathered: Gathered = {}  # a wide Map's outputs, read back when it finishes
        runner = _Remembered.wrap(runner)
        while True:
            try:
                self._attempt(
                    execution_id,
                    inbound,
                    outbox,
                    runner,
                    fresh=fresh,
                    prior=prior,
                    races=races,
                    gathered=gathered,
                )
                return
            except ResultsNeeded as need:
                # Nothing was written: read the outputs back and decide the same
                # events again (steps already run inline are not run twice).
                self.snapshots.gather(execution_id, need.held, gathered)
                continue
            except (ConflictError, AlreadyExistsError) as exc:
                # The store refusing a name outright is no race to retry against.
                if isinstance(exc, ExecutionAlreadyExistsError) or (
                    exclusive and isinstance(exc, AlreadyExistsError)
                ):
                    raise
                races.lost_one(exc)  # waits, or raises ConflictError saying why it stops
            fresh, prior = False, None
            runner = None  # inline results may be stale now; the queues carry the tasks

    def _attempt(
        self,
        execution_id: str,
        inbound: list[Inbound],
        outbox: Outbox,
        runner: InlineRunner | None,
        *,
        fresh: bool = False,
        prior: Commit | None = None,
        races: _Races | None = None,
        gathered: Gathered | None = None,
    ) -> bool:
        latest: Commit | None = prior
        if not fresh and prior is None:
            try:
                latest = self.store.latest(execution_id)
            except NotFoundError:
                latest = None
        if races is not None:
            races.read = 0 if latest is None else latest.seq
        if latest is None:
            first = inbound[0]
            if not isinstance(first.event, ev.StartExecution):
                raise MalformedMessageError(f"no execution {execution_id}")
            state, machine, version = self._new_state(execution_id, first)
            seq = 1
            waiting = {}
            loaded = Loaded()
        else:
            # A finished execution takes nothing but a redrive, and only when its
            # final commit kept the state it ended in (core/redrive.py).
            if latest.status != RUNNING and not (_redrives(inbound) and latest.snapshot):
                self._resend_stale(execution_id, inbound, outbox)
                return True
            state, loaded = self.snapshots.load(execution_id, latest, gathered)
            # Never in a snapshot (an old one's random secret is replaced too).
            state.meta.token_secret = self.keys.token_secret(execution_id)
            machine, version = self.machines.get(
                latest.snapshot["machine"], latest.snapshot["version"]
            )
            seq = latest.seq + 1
            waiting = dict(latest.snapshot.get("task_timers", {}))
        applied: list[str] = []
        stale: list[Inbound] = []
        history: list[ev.HistoryEvent] = []
        commands: list[ev.Command] = []
        retried: list[tuple[str, str]] = []  # (state, error) of the retries decided
        for item in inbound:
            is_start = isinstance(item.event, ev.StartExecution)
            if (
                item.event is None
                or (state.done and not isinstance(item.event, ev.RedriveRequested))
                or (is_start and seq > 1)
                or (is_start and item is not inbound[0])
                or self._repeated(execution_id, item, applied, seq)
            ):
                stale.append(item)
                continue
            state, decision = decide(machine, state, item.event, in_place=True)
            if decision.events or decision.commands:
                applied.append(item.message_id)
                history.extend(decision.events)
                commands.extend(decision.commands)
                retried.extend(retries_of(decision, state))
            else:
                stale.append(item)
        if runner is not None and not state.done:
            state, commands = self._continue_inline(
                execution_id, machine, state, history, commands, runner, outbox, retried
            )
        if not history and not commands:
            self._resend_stale(execution_id, stale, outbox)
            return True
        # Durable timeout timers (task id -> timer ids) of tasks still waited for;
        # those of finished tasks are deleted after the commit.
        now = self.clock.now()
        for command in commands:
            if isinstance(command, ev.RunTask | ev.ScheduleHeartbeatCheck):
                ids = self.dispatcher.durable_timer_ids(execution_id, command, now)
                if ids:
                    known = waiting.setdefault(command.task_id, [])
                    known.extend(i for i in ids if i not in known)
        finished = [t for t in waiting if state.done or t not in state.tasks]
        stale_timers = [tid for t in finished for tid in waiting.pop(t)]
        # A succeeded execution is never decided again: its final commit carries
        # the outcome and no snapshot (fewer bytes, fewer write units). An
        # unsuccessful one keeps the state it ended in, for a redrive (and a
        # redriven one its redrive count, for DescribeExecution).
        snapshot: dict[str, Any] = {}
        values: dict[str, Any] = {}
        if not state.done or state.halted or state.redrive_count:  # snapshots.py
            parts, values = self.snapshots.save(execution_id, seq, state, loaded)
            snapshot = {**parts, "machine": machine.name, "version": version}
            if waiting:
                snapshot["task_timers"] = waiting
        commit = Commit(
            seq=seq,
            snapshot=snapshot,
            events=[codec.encode_history(e) for e in history],
            commands=[codec.encode_command(c) for c in commands],
            cause_id=" ".join(cause_digest(i) for i in applied),
            at=codec.instant(self.clock.now()) or "",
            status=state.status,
            outcome=self._outcome(state, version) if state.done else None,
            values=values,
            reopens=latest.seq if latest is not None and latest.status != RUNNING else 0,
        )
        metrics = self.config.metrics
        began = monotonic()
        try:
            if seq == 1:
                self.store.create_execution(self._header(state, version), commit)
            else:
                self.store.append(execution_id, commit)
        except (ConflictError, AlreadyExistsError):
            count_conflict(metrics)
            raise
        count_commit(metrics, history, retried, (monotonic() - began) * 1000)
        after = _carried(state, commands, commit)
        self.dispatcher.dispatch(execution_id, commands, outbox, after=after)
        outbox.stale_timers.extend(Timer(tid, execution_id, "") for tid in stale_timers)
        self._resend_stale(execution_id, stale, outbox)
        return True

    def _new_state(self, execution_id: str, start: Inbound) -> tuple[ExecutionState, Machine, int]:
        if not start.machine or not start.name:
            raise MalformedMessageError("a start needs 'machine' and 'name'")
        machine, version = self.machines.get(start.machine, start.version)
        assert isinstance(start.event, ev.StartExecution)
        state = new_execution(
            name=start.name,
            state_machine_name=start.machine,
            start_time=start.event.at,
            region=self.config.region,
            account=self.config.account,
            # Signs this execution's task tokens: a callback must quote one it was given.
            # Derived from the table's key, so no snapshot needs to carry it.
            token_secret=self.keys.token_secret(execution_id),
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
        retried: list[tuple[str, str]],
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
                    self.dispatcher.task_timeout(outbox, execution_id, command, self.clock.now())
                continue
            assert ran.event is not None
            state, decision = decide(machine, state, ran.event, in_place=True)
            history.extend(decision.events)
            pending.extend(decision.commands)
            retried.extend(retries_of(decision, state))
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

    def _repeated(self, execution_id: str, item: Inbound, applied: list[str], seq: int) -> bool:
        """An audit record (or a reminder or notice due) whose message was applied already (in
        this commit or one before): the core would decide it again, so only its
        message id tells."""
        if not isinstance(item.event, ev.AuditRecorded | ev.ReminderDue | ev.AssignmentNoticeDue):
            return False
        if item.message_id in applied:
            return True
        return seq > 1 and applied_before(self.store, execution_id, item.message_id, item.event.at)

    def _resend_stale(self, execution_id: str, inbound: list[Inbound], outbox: Outbox) -> None:
        """Re-send the commits of the redelivered messages among ``inbound``."""
        redelivered = [i for i in inbound if i.redelivered]
        resend_stale(self.store, self.dispatcher, execution_id, redelivered, outbox)

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


class _Remembered:
    """An inline runner that runs each task once: deciding again (``ResultsNeeded``)
    asks for the same tasks, and gets the results they had the first time."""

    def __init__(self, runner: InlineRunner) -> None:
        self._runner = runner
        self._ran: dict[str, InlineResult | None] = {}

    @classmethod
    def wrap(cls, runner: InlineRunner | None) -> InlineRunner | None:
        return runner if runner is None or isinstance(runner, cls) else cls(runner)

    def __call__(self, execution_id: str, command: ev.RunTask) -> InlineResult | None:
        if command.task_id not in self._ran:
            self._ran[command.task_id] = self._runner(execution_id, command)
        return self._ran[command.task_id]


class _Races:
    """The commit races one ``apply`` lost: wait and decide again, or give up and say why.

    Every lost race normally means another writer committed, so the execution
    moves on and this writer keeps trying (after a full-jitter backoff, so a
    crowd of writers spreads out), within the configured time budget. A loss
    after which the execution is still at the same commit shows no progress;
    ``MAX_CONFLICT_RETRIES`` of those in a row end it too.
    """

    def __init__(self, execution_id: str, config: RuntimeConfig) -> None:
        self.execution_id = execution_id
        self.config = config
        self.read: int | None = None  # the commit the current attempt decided on
        self._before: int | None = None  # ... and the previous attempt
        self.lost = 0
        self.stalled = 0
        self.started = monotonic()

    def lost_one(self, error: Exception) -> None:
        self.lost += 1
        if "giveup" in self.config.defects:  # test-only: defect 7 back on
            if self.lost >= MAX_CONFLICT_RETRIES:
                raise ConflictError(f"gave up on {self.execution_id} (defect 7)") from error
            return
        progress = self._before is None or self.read is None or self.read > self._before
        self.stalled = 0 if progress else self.stalled + 1
        self._before = self.read
        elapsed = monotonic() - self.started
        why = ""
        if self.stalled >= MAX_CONFLICT_RETRIES:
            why = (
                f"the store refused commit {(self.read or 0) + 1} {self.stalled} times in a row "
                f"while no other writer committed ({error})"
            )
        elif elapsed >= self.config.conflict_budget:
            why = (
                "other writers kept committing first for longer than the "
                f"{self.config.conflict_budget:g}s budget (RuntimeConfig.conflict_budget)"
            )
        if why:
            raise ConflictError(
                f"gave up on {self.execution_id} after losing {self.lost} commit races "
                f"in {elapsed:.1f}s: {why}"
            ) from error
        log.debug(
            "lost a commit race; deciding again",
            extra={"execution_id": self.execution_id, "lost": self.lost},
        )
        self.config.sleep(self.config.conflict_backoff.delay(self.lost - 1))


def _redrives(inbound: list[Inbound]) -> bool:
    return any(isinstance(i.event, ev.RedriveRequested) for i in inbound)


def _start_first(inbound: list[Inbound]) -> list[Inbound]:
    """A start precedes every other event of its execution, whatever order the queue
    delivered them in: a stop or callback that overtook its start in the same batch
    is decided after it, instead of taking the start down with it ("no execution")."""
    for index, item in enumerate(inbound):
        if isinstance(item.event, ev.StartExecution):
            return inbound if index == 0 else [item, *inbound[:index], *inbound[index + 1 :]]
    return inbound

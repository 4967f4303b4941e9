"""Reconciliation: rebuild the work a running execution waits for, from its history.

An execution moves only when a message or a timer reaches it. A process that
dies between a commit and the sends it decided loses those sends; the
inbound message that caused the commit normally comes back and re-sends
them (``redelivery``), but a start written by a client that died right
after its commit, or a message lost to an operator's purge, leaves nothing
to come back. Reconciling an execution re-derives what its last commit
implies: every task it still waits for and every timer still pending is
found in the commit that issued it (searching back from the newest) and
sent again, with the same message and timer ids, so what did arrive is
dropped as a duplicate (a resent task is checked against the store before
it runs).

Two callers: ``stepq ops reconcile [ARN]`` (an operator, any time) and the
scheduler's sweep, which reconciles executions that have gone quiet: no
commit for ``QUIET_AGES[0]`` (15 minutes), again at one hour, six hours and a
day. Waiting is normal (a callback may take days): each age is visited once
per quiet spell, so a long wait costs four reconciles, not one a minute.
A callback task (``.waitForTaskToken``) is re-sent by the sweep only while
the execution is at its first commit (a client's start whose sends were
lost); after that, its message was sent by a process whose inbound message
recovers it, and re-sending would hand the token out again for nothing.

Cost: a sweep reads each running execution's newest commit (one Query,
0.5 to 1 read unit), once per sweep period; nothing per transition.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from stepq.clock import Clock
from stepq.core import events as ev
from stepq.core.execution import RUNNING
from stepq.errors import NotFoundError
from stepq.runtime import codec
from stepq.runtime.applier.config import RuntimeConfig
from stepq.runtime.applier.outbox import Dispatcher, Outbox
from stepq.runtime.applier.redelivery import newest_first
from stepq.runtime.applier.snapshots import Snapshots
from stepq.runtime.metrics import REPAIRS, Metrics
from stepq.runtime.ports import Queues, Store
from stepq.runtime.signing import signed

log = logging.getLogger(__name__)

QUIET_AGES = (
    timedelta(minutes=15),
    timedelta(hours=1),
    timedelta(hours=6),
    timedelta(days=1),
)
SWEEP_LIMIT = 1000  # running executions looked at per machine and sweep


@dataclass(slots=True)
class Plan:
    """What reconciling one execution sends: the commands still outstanding."""

    execution_id: str
    status: str
    seq: int = 0  # the newest commit
    at: datetime | None = None  # ... and when it was written
    commands: list[ev.Command] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)  # outstanding, issuing commit not found


@dataclass(slots=True)
class SweepReport:
    looked_at: int = 0
    reconciled: list[str] = field(default_factory=list)
    resent: int = 0


class Reconciler:
    def __init__(
        self, store: Store, queues: Queues, clock: Clock, config: RuntimeConfig | None = None
    ) -> None:
        self.store = store
        self.queues = signed(queues, store)  # what it sends again is signed like the rest
        self.clock = clock
        self.dispatcher = Dispatcher(config or RuntimeConfig(), clock)

    @property
    def metrics(self) -> Metrics:
        return self.dispatcher.config.metrics  # Repairs

    def plan(self, execution_id: str) -> Plan:
        """The outstanding work of an execution (NotFoundError if it does not exist)."""
        latest = self.store.latest(execution_id)
        plan = Plan(execution_id, latest.status, latest.seq, codec.parse_instant(latest.at or None))
        if latest.status != RUNNING:
            return plan
        state, _ = Snapshots(self.store).load(execution_id, latest)  # stored values read back
        tasks, timers = set(state.tasks), set(state.timers)
        beats: set[str] = set()  # tasks whose newest heartbeat check was found
        found: list[ev.Command] = []
        for commit in newest_first(self.store, execution_id):
            for raw in commit.commands:
                command = codec.decode_command(raw)
                if isinstance(command, ev.RunTask) and command.task_id in tasks:
                    tasks.discard(command.task_id)  # the newest attempt wins
                    found.append(command)
                elif isinstance(command, ev.StartTimer) and command.timer_id in timers:
                    timers.discard(command.timer_id)
                    found.append(command)
                elif (
                    isinstance(command, ev.ScheduleHeartbeatCheck)
                    and command.task_id in state.tasks
                    and command.task_id not in beats
                ):
                    beats.add(command.task_id)
                    found.append(command)
            if not tasks and not timers:
                break
        plan.commands = list(reversed(found))  # in the order they were issued
        plan.missing = sorted(tasks | timers)
        return plan

    def reconcile(self, execution_id: str, *, callbacks: bool = True) -> Plan:
        """Send an execution's outstanding work again; the plan that was sent.

        ``callbacks=False`` leaves out the tasks that hand out a task token."""
        plan = self.plan(execution_id)
        if not callbacks:
            plan.commands = [
                c for c in plan.commands if not (isinstance(c, ev.RunTask) and c.token)
            ]
        if plan.missing:
            log.warning(
                "reconcile: the commits that issued %s were not found",
                ", ".join(plan.missing),
                extra={"execution_id": execution_id},
            )
        if plan.commands:
            outbox = Outbox()
            self.dispatcher.dispatch(execution_id, plan.commands, outbox, resent=True)
            unsent = outbox.flush(self.queues, self.store)
            if unsent:
                raise RuntimeError(f"reconcile: sending the work of {execution_id} failed")
            self.metrics.count(REPAIRS, len(plan.commands))  # the work sent again
        return plan

    def sweep(self, period: timedelta, machines: list[str] | None = None) -> SweepReport:
        """Reconcile the running executions whose newest commit is just past one of the
        ``QUIET_AGES`` (within ``period``: the time since the previous sweep). A
        callback task is sent again only while its execution is at commit 1."""
        return self._reconcile_where(lambda age: _due(age, period), machines, first_only=True)

    def reconcile_quiet(self, quiet: timedelta, machines: list[str] | None = None) -> SweepReport:
        """Reconcile every running execution with no commit for ``quiet`` or longer
        (the operator's ``stepq ops reconcile`` without an ARN)."""
        return self._reconcile_where(lambda age: age >= quiet, machines, first_only=False)

    def _reconcile_where(
        self,
        quiet_enough: Callable[[timedelta], bool],
        machines: list[str] | None,
        *,
        first_only: bool,
    ) -> SweepReport:
        report = SweepReport()
        now = self.clock.now()
        for machine in machines if machines is not None else self.store.list_machines():
            for header in self.store.list_executions(machine, RUNNING, SWEEP_LIMIT):
                report.looked_at += 1
                try:
                    latest = self.store.latest(header.execution_id)
                except NotFoundError:
                    continue
                at = codec.parse_instant(latest.at) if latest.at else None
                if latest.status != RUNNING or at is None or not quiet_enough(now - at):
                    continue
                callbacks = latest.seq == 1 or not first_only
                plan = self.reconcile(header.execution_id, callbacks=callbacks)
                report.reconciled.append(header.execution_id)
                report.resent += len(plan.commands)
        return report


def _due(age: timedelta, period: timedelta) -> bool:
    """Whether a quiet spell of ``age`` crossed one of the QUIET_AGES in the last ``period``."""
    return any(quiet <= age < quiet + period for quiet in QUIET_AGES)

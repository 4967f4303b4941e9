"""Starting and resuming executions by sending events (the public API).

``send_task_success``/``send_task_failure`` are stepq's SendTaskSuccess and
SendTaskFailure: a callback carrying a task token resumes the execution
waiting on it (a human approval, an external verification).
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from stepq.core import events as ev
from stepq.core.execution import RUNNING
from stepq.core.redrive import MAX_HISTORY_EVENTS, REDRIVABLE
from stepq.errors import NotFoundError, NotRedrivableError
from stepq.runtime import codec
from stepq.runtime.applier.inbound import Inbound
from stepq.runtime.applier.outbox import Outbox
from stepq.runtime.applier.redelivery import cause_digest
from stepq.runtime.batch import content_errors_are_malformed
from stepq.runtime.messages import EVENTS_QUEUE, event_message
from stepq.runtime.orchestrator import Orchestrator
from stepq.runtime.ports import Commit, Queues
from stepq.runtime.signing import signed

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class RedriveFacts:
    """What an execution's newest commit says about redriving it (no decoding needed)."""

    count: int  # redrives so far
    time: datetime | None  # when the last one was made
    reason: str | None  # why it cannot be redriven now; None: it can

    @classmethod
    def of(cls, latest: Commit) -> RedriveFacts:
        state = latest.snapshot.get("state") or {}
        count = int(state.get("redrive_count") or 0)
        time = codec.parse_instant(state.get("redrive_time") or None)
        reason = None
        if latest.status not in REDRIVABLE:
            reason = f"Execution is {latest.status} and cannot be redriven"
        elif not state.get("halted"):  # its final commit kept no state to redrive from
            reason = "Execution was started before the launch of RedriveExecution"
        elif int(state.get("last_event_id") or 0) >= MAX_HISTORY_EVENTS:
            reason = "Execution history event limit exceeded"
        return cls(count, time, reason)


@dataclass(frozen=True, slots=True)
class Redrive:
    """One redrive of one execution, planned (``Client.plan_redrive``) then made.

    ``count`` is the redrive it makes (1 for the first) and ``seq`` the commit
    it is written as; ``request`` names who asked (a client token), so asking
    again with the same plan finds the commit it made instead of a refusal.
    """

    execution_id: str
    count: int
    seq: int
    at: datetime
    request: str

    @property
    def message_id(self) -> str:
        return f"redrive|{self.execution_id}|{self.count}|{self.request}"


class Client:
    """Start, stop and answer executions: what a caller of the runtime holds.

    Every call is a message on the events queue; the orchestrator applies it.
    A task token is signed by its execution, so only a token that was handed
    out resumes anything.
    """

    def __init__(self, orchestrator: Orchestrator, queues: Queues) -> None:
        self._orchestrator = orchestrator
        self._queues = signed(queues, orchestrator.store)  # what it sends is signed

    def start_execution(
        self, machine: str, name: str, execution_input: Any = None, version: int | None = None
    ) -> str:
        """StartExecution: the execution exists when this returns (see Orchestrator.start)."""
        if "overtake" in self._orchestrator.config.defects:  # test-only: the old queued start
            message = self._orchestrator.start_message(machine, name, execution_input, version)
            self._queues.send(EVENTS_QUEUE, [message])
            return str(message.body["execution_id"])
        return self._orchestrator.start(machine, name, execution_input, version)

    # --- RedriveExecution ---------------------------------------------------------------

    def plan_redrive(self, execution_id: str, request: str | None = None) -> Redrive:
        """The redrive the execution would take now (one read). NotFoundError if it
        does not exist; NotRedrivableError, with Step Functions' reason, if it
        cannot be redriven."""
        latest = self._orchestrator.store.latest(execution_id)
        facts = RedriveFacts.of(latest)
        if facts.reason is not None:
            raise NotRedrivableError(facts.reason)
        return Redrive(
            execution_id,
            facts.count + 1,
            latest.seq + 1,
            self._orchestrator.clock.now(),
            request or uuid.uuid4().hex,
        )

    def redrive(self, plan: Redrive) -> bool:
        """Make the planned redrive, synchronously: True once it is the execution's commit
        ``plan.seq`` (written now, or by an earlier call with this plan); False if
        another redrive took its place. Its work is sent from here (if that send
        fails, the scheduler's reconcile sends it later)."""
        store = self._orchestrator.store
        inbound = Inbound(plan.message_id, ev.RedriveRequested(plan.at, plan.count))
        outbox = Outbox()
        # Through the applier: one conditional write, so of two racing redrives
        # one wins and the other decides nothing (the core checks ``count``).
        content_errors_are_malformed(self._orchestrator.applier.apply)(
            plan.execution_id, [inbound], outbox
        )
        try:
            commit = store.commit(plan.execution_id, plan.seq)
        except NotFoundError:
            return False
        if cause_digest(plan.message_id) not in commit.causes:
            return False
        if outbox.flush(self._orchestrator.queues, store):
            log.warning(
                "redrove %s, but its work could not be sent yet; the scheduler's reconcile "
                "will send it",
                plan.execution_id,
                extra={"execution_id": plan.execution_id},
            )
        return True

    def redrive_execution(self, execution_id: str, request: str | None = None) -> Redrive:
        """RedriveExecution: the redrive is committed when this returns (NotFoundError,
        NotRedrivableError otherwise)."""
        plan = self.plan_redrive(execution_id, request)
        if not self.redrive(plan):
            raise NotRedrivableError(f"Execution is {RUNNING} and cannot be redriven")
        return plan

    def send_task_success(self, token: str, output: Any) -> None:
        self._queues.send(EVENTS_QUEUE, [self._orchestrator.callback_message(token, output=output)])

    def send_task_failure(
        self, token: str, error: str | None = None, cause: str | None = None
    ) -> None:
        message = self._orchestrator.callback_message(token, error=error, cause=cause, failed=True)
        self._queues.send(EVENTS_QUEUE, [message])

    def send_task_heartbeat(self, token: str) -> None:
        """SendTaskHeartbeat: the task holding ``token`` is alive (HeartbeatSeconds)."""
        self._queues.send(EVENTS_QUEUE, [self._orchestrator.heartbeat_message(token)])

    def stop_execution(
        self, execution_id: str, error: str | None = None, cause: str | None = None
    ) -> None:
        # StopExecution of an execution that does not exist is the caller's error
        # (Step Functions: ExecutionDoesNotExist), not a message for the DLQ.
        if "overtake" not in self._orchestrator.config.defects:  # test-only: defect 2
            self._orchestrator.store.get_execution(execution_id)  # NotFoundError
        event = ev.StopRequested(self._orchestrator.clock.now(), error=error, cause=cause)
        self._queues.send(
            EVENTS_QUEUE, [event_message(execution_id, event, f"stop|{execution_id}")]
        )

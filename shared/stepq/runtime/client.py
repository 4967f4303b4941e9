"""Starting and resuming executions by sending events (the public API).

``send_task_success``/``send_task_failure`` are stepq's SendTaskSuccess and
SendTaskFailure: a callback carrying a task token resumes the execution
waiting on it (a human approval, an external verification).
"""

from __future__ import annotations

from typing import Any

from stepq.core import events as ev
from stepq.runtime.messages import EVENTS_QUEUE, event_message
from stepq.runtime.orchestrator import Orchestrator
from stepq.runtime.ports import Queues
from stepq.runtime.signing import signed


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

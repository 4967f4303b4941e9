"""The local runner: the pure core in-process under a virtual clock; no store, no queues.

Behind ``stepq run --backend memory`` and ``stepq conformance --backend memory``
(the CLI value predates the name). Not to be confused with ``backends/memory``,
the in-memory stand-ins for DynamoDB and SQS that the durable runtime runs on.

A discrete-event loop: task results, timeouts and timers are queued at the
virtual instant they happen, so a Wait of a year or a 60-second step costs
nothing, while a Task's TimeoutSeconds still sees the time pass.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from stepq.core.events import (
    Command,
    Event,
    FinishExecution,
    HistoryEvent,
    RunTask,
    StartExecution,
    StartTimer,
    TaskFailed,
    TaskSucceeded,
    TaskTimedOut,
    TimerFired,
)
from stepq.core.execution import ExecutionState, new_execution
from stepq.core.interpreter import decide
from stepq.core.machine import Machine
from stepq.runtime.steps import StepContext, StepFunction, invoke

DEFAULT_START = datetime(2026, 1, 1, tzinfo=UTC)


@dataclass(slots=True)
class ExecutionResult:
    status: str
    output: Any = None
    error: str | None = None
    cause: str | None = None
    history: list[HistoryEvent] = field(default_factory=list)
    state: ExecutionState | None = None
    # Every event fed to the decision function, in order: enough to replay.
    inbound: list[Event] = field(default_factory=list)
    commands: list[Command] = field(default_factory=list)


class LocalRunner:
    """Runs executions to completion in-process; no I/O, no real waiting."""

    def __init__(
        self, functions: Mapping[str, StepFunction], *, max_events: int = 1_000_000
    ) -> None:
        self.functions = functions
        self.max_events = max_events

    def run(
        self,
        machine: Machine,
        execution_input: Any,
        *,
        name: str = "execution",
        start: datetime = DEFAULT_START,
    ) -> ExecutionResult:
        state = self.initial_state(machine, name, start)
        queue: list[tuple[datetime, int, Event]] = []
        order = itertools.count()
        history: list[HistoryEvent] = []
        inbound: list[Event] = []
        commands: list[Command] = []

        def push(at: datetime, event: Event) -> None:
            heapq.heappush(queue, (at, next(order), event))

        push(start, StartExecution(execution_input, start))
        handled = 0
        while queue and not state.done:
            handled += 1
            if handled > self.max_events:
                raise RuntimeError(f"execution did not finish after {self.max_events} events")
            now, _, event = heapq.heappop(queue)
            state, decision = decide(machine, state, event, in_place=True)
            inbound.append(event)
            history.extend(decision.events)
            commands.extend(decision.commands)
            for command in decision.commands:
                if isinstance(command, RunTask):
                    self._run_task(command, now, push)
                elif isinstance(command, StartTimer):
                    push(
                        max(command.fire_at, now),
                        TimerFired(command.timer_id, max(command.fire_at, now)),
                    )
                elif isinstance(command, FinishExecution):
                    break
        return ExecutionResult(
            state.status, state.output, state.error, state.cause, history, state, inbound, commands
        )

    @staticmethod
    def initial_state(
        machine: Machine, name: str = "execution", start: datetime = DEFAULT_START
    ) -> ExecutionState:
        return new_execution(name=name, state_machine_name=machine.name, start_time=start)

    def _run_task(self, command: RunTask, now: datetime, push: Any) -> None:
        ctx = StepContext.for_task(command)
        outcome = invoke(
            self.functions,
            command.function_name,
            command.input,
            request_id=ctx.aws_request_id,
            context=ctx,
        )
        done_at = now + timedelta(seconds=outcome.delay_seconds)
        if command.timeout_seconds is not None:
            push(
                now + timedelta(seconds=command.timeout_seconds),
                TaskTimedOut(command.task_id, now + timedelta(seconds=command.timeout_seconds)),
            )
        if outcome.failed:
            push(done_at, TaskFailed(command.task_id, outcome.error, outcome.cause, done_at))
        else:
            push(done_at, TaskSucceeded(command.task_id, outcome.output, done_at))

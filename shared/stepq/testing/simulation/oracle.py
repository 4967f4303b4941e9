"""The outcome an execution must reach: the pure core, without the runtime.

A discrete-event loop over ``stepq.core.interpreter.decide`` (like
``LocalRunner``): each step runs at once, a callback is answered at once
with the answer the step gave its verifier, timers fire on time. What faults
may legitimately change is taken from the observed run: a task the run saw
time out (its own timeout or heartbeat timer was applied) times out here too.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from stepq.core import events as ev
from stepq.core.execution import new_execution
from stepq.core.interpreter import decide
from stepq.core.machine import Machine
from stepq.runtime.steps import StepContext, StepFunction, invoke
from stepq.testing.simulation.workloads import step_key

MAX_EVENTS = 20_000


@dataclass(frozen=True, slots=True)
class Outcome:
    status: str
    output: Any = None
    error: str | None = None


class _Verifier:
    """Stands in for the client actor: remembers the step's answer to its token."""

    def __init__(self) -> None:
        self.answers: list[ev.CallbackReceived] = []
        self.at: datetime | None = None

    def send_task_success(self, token: str, output: Any) -> None:
        assert self.at is not None
        self.answers.append(ev.CallbackReceived(token, self.at, output=output))

    def send_task_failure(
        self, token: str, error: str | None = None, cause: str | None = None
    ) -> None:
        assert self.at is not None
        self.answers.append(
            ev.CallbackReceived(token, self.at, error=error, cause=cause, failed=True)
        )


def expected_outcome(
    machine: Machine,
    functions: Mapping[str, StepFunction],
    execution_input: Any,
    *,
    name: str,
    start: datetime,
    region: str,
    account: str,
    timed_out: Mapping[str, bool],
) -> Outcome:
    """``timed_out``: step keys (``step_key``) the run saw time out -> by heartbeat?"""
    state = new_execution(
        name=name, state_machine_name=machine.name, start_time=start, region=region, account=account
    )
    queue: list[tuple[datetime, int, ev.Event]] = []
    order = itertools.count()

    def push(at: datetime, event: ev.Event) -> None:
        heapq.heappush(queue, (at, next(order), event))

    push(start, ev.StartExecution(execution_input, start))
    handled = 0
    while queue and not state.done and handled < MAX_EVENTS:
        handled += 1
        now, _, event = heapq.heappop(queue)
        state, decision = decide(machine, state, event, in_place=True)
        for command in decision.commands:
            if isinstance(command, ev.RunTask):
                _run(functions, command, now, push, timed_out)
            elif isinstance(command, ev.StartTimer):
                at = max(command.fire_at, now)
                push(at, ev.TimerFired(command.timer_id, at))
            elif isinstance(command, ev.ScheduleHeartbeatCheck):
                at = max(command.fire_at, now)
                push(at, ev.TaskTimedOut(command.task_id, at, heartbeat=True))
    if not state.done:
        return Outcome("RUNNING")
    return Outcome(state.status, state.output, state.error)


def _run(
    functions: Mapping[str, StepFunction],
    command: ev.RunTask,
    now: datetime,
    push: Any,
    timed_out: Mapping[str, bool],
) -> None:
    key = step_key(command.function_name, command.input, command.attempt)
    if key in timed_out:
        push(now, ev.TaskTimedOut(command.task_id, now, heartbeat=timed_out[key]))
        return
    if command.timeout_seconds:
        at = now + timedelta(seconds=command.timeout_seconds)
        push(at, ev.TaskTimedOut(command.task_id, at))
    if command.heartbeat_seconds:
        at = now + timedelta(seconds=command.heartbeat_seconds)
        push(at, ev.TaskTimedOut(command.task_id, at, heartbeat=True))
    verifier = _Verifier()
    verifier.at = now
    context = StepContext.for_task(command, client=verifier)
    outcome = invoke(
        functions, command.function_name, command.input, request_id="oracle", context=context
    )
    if command.token is not None:  # waitForTaskToken: the answer is what moves it
        if outcome.failed:
            push(now, ev.TaskFailed(command.task_id, outcome.error, outcome.cause, now))
        for answer in verifier.answers[:1]:
            push(now, answer)
    elif outcome.failed:
        push(now, ev.TaskFailed(command.task_id, outcome.error, outcome.cause, now))
    else:
        push(now, ev.TaskSucceeded(command.task_id, outcome.output, now))

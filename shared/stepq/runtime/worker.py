"""The worker: one task message -> run the step function -> send its result event.

At-least-once: if the worker dies after the step's side effect but before
the message is deleted, the message is delivered again and the step runs
again with the same ``context.idempotency_key`` (``stepq.idempotency`` or
Powertools' idempotency utility make a side effect happen once). The
orchestrator records only the first result for a task.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from stepq.clock import Clock
from stepq.core import dataflow
from stepq.core import events as ev
from stepq.core.failures import DATA_LIMIT_EXCEEDED
from stepq.core.states.task_state import size_label
from stepq.invoke import InvocationContext, StepFunction, invoke
from stepq.runtime import codec
from stepq.runtime.messages import EVENTS_QUEUE, event_message, parse_task
from stepq.runtime.ports import AlreadyExistsError, Queues, Store, Timer


class Worker:
    def __init__(
        self,
        functions: Mapping[str, StepFunction],
        queues: Queues,
        clock: Clock,
        *,
        client: Any = None,
        deferred_results: Store | None = None,
    ) -> None:
        self.functions = functions
        self.queues = queues
        self.clock = clock
        self.client = client
        # With skipped time, a simulated long step does not sleep: its result
        # waits as a durable timer, so timeouts still see the time pass.
        self.deferred_results = deferred_results

    def handle(self, body: Any) -> None:
        message = parse_task(body)
        command = message.command
        request_id = str(uuid.uuid5(uuid.NAMESPACE_URL, command.idempotency_key))
        context = InvocationContext(
            function_name=command.function_name or "",
            aws_request_id=request_id,
            idempotency_key=command.idempotency_key,
            attempt=command.attempt,
            task_token=command.token,
            client=self.client,
        )
        outcome = invoke(
            self.functions,
            command.function_name,
            command.input,
            request_id=request_id,
            context=context,
        )
        now = self.clock.now()
        if outcome.delay_seconds and self.deferred_results is None:
            self.clock.sleep(outcome.delay_seconds)
            now = self.clock.now()
        elif outcome.delay_seconds:
            now += timedelta(seconds=outcome.delay_seconds)
        result: ev.Event
        if (
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
        result_id = f"result|{message.execution_id}|{command.task_id}"
        outgoing = event_message(message.execution_id, result, result_id)
        if outcome.delay_seconds and self.deferred_results is not None:
            timer = Timer(result_id, message.execution_id, codec.instant(now) or "", outgoing.body)
            with contextlib.suppress(AlreadyExistsError):  # a redelivered task: already waiting
                self.deferred_results.put_timer(timer)
            return
        self.queues.send(EVENTS_QUEUE, [outgoing])

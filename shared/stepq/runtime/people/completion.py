"""Whether an execution still waits on a human task, and sending the task's completion.

The token is never stored. Its MAC key is the execution's token secret,
which ``signing.Keys`` derives from the table's signing key and the ARN, and
the token names (execution ARN, the RunTask's task id): so the runtime mints
the same token again (``core.tokens.make_token``). The execution's latest
commit is read anyway, to know whether it still waits (a task the execution
left is CLOSED); a token minted under an older key is found there, in the
state's outstanding tokens.

The completion is a ``CallbackReceived`` marked ``via_inbox`` on the events
queue, with the message id a callback of that task always has: sent twice
(a repair after a crash), the second is a duplicate the core ignores. It
carries the completing action's audit lines (``completion_lines``: ActOnTask
and TaskCompleted), which the core records in the commit that resumes the
task: sent as audit messages of their own, SQS could deliver them after the
completion had finished the execution, which then records no more lines.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from stepq.clock import Clock
from stepq.core import events as ev
from stepq.core.execution import ExecutionMeta
from stepq.core.tokens import make_token
from stepq.errors import NotFoundError
from stepq.runtime.messages import EVENTS_QUEUE, event_message
from stepq.runtime.open_tasks import waiting_state
from stepq.runtime.people.documents import TaskDoc
from stepq.runtime.ports import Queues, Store
from stepq.runtime.signing import SignedQueues, signed

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
ACT, TASK_COMPLETED = "ActOnTask", "TaskCompleted"  # the audit lines' ``what``


def completion_lines(task: TaskDoc) -> list[dict[str, Any]]:
    """A completed task's last audit lines, from its document (so a repair sends the
    same): the completing action, then ``TaskCompleted`` with the transition."""
    if not task.actions:
        return []  # not completed by an action (cannot happen through the inbox)
    record = task.actions[-1]
    detail: dict[str, Any] = {"action": record.action}
    if record.comment:
        detail["comment"] = record.comment
    if record.principal != record.actor:
        detail["onBehalfOf"] = record.principal
    return [
        {"who": record.actor, "what": ACT, "taskId": task.task_id, "detail": detail},
        {
            "who": record.actor,
            "what": TASK_COMPLETED,
            "taskId": task.task_id,
            "detail": {"transition": task.transition},
        },
    ]


class Completions:
    """Checks and completes human tasks of one table, through its signed queues."""

    def __init__(self, store: Store, queues: Queues, clock: Clock) -> None:
        self.store = store
        self.queues: SignedQueues = signed(queues, store)
        self.clock = clock

    def token(self, execution_arn: str, run_task_id: str) -> str:
        """The task's token, minted again (the same the core minted)."""
        secret = self.queues.keys.token_secret(execution_arn)
        meta = ExecutionMeta(execution_arn, "", "", "", "", _EPOCH, token_secret=secret)
        return make_token(meta, run_task_id)

    def waiting_token(self, execution_arn: str, run_task_id: str) -> str | None:
        """The token, when the execution still waits on the task (None: it left it,
        or does not exist)."""
        try:
            state = waiting_state(self.store, self.queues.keys, execution_arn)
        except NotFoundError:
            return None
        if state is None or run_task_id not in state.tasks:
            return None
        token = self.token(execution_arn, run_task_id)
        if state.tokens.get(token) == run_task_id:
            return token
        # Minted under an earlier key of this execution: the state still holds it.
        return next((t for t, task in state.tokens.items() if task == run_task_id), None)

    def state_of(self, execution_arn: str, run_task_id: str) -> str | None:
        """The name of the state the RunTask belongs to (None: no longer waiting)."""
        try:
            state = waiting_state(self.store, self.queues.keys, execution_arn)
        except NotFoundError:
            return None
        frame = state.frames.get(state.tasks.get(run_task_id, "")) if state else None
        return frame.state if frame is not None else None

    def send(self, task: TaskDoc, token: str) -> None:
        """The completion of a COMPLETED task: its result, as the inbox's callback,
        carrying its last audit lines."""
        arn = task.execution_arn
        event = ev.CallbackReceived(
            token,
            self.clock.now(),
            output=task.result,
            via_inbox=True,
            audit=completion_lines(task),
        )
        message = event_message(arn, event, f"callback|{arn}|{task.run_task_id}")
        self.queues.send(EVENTS_QUEUE, [message])

"""Which task a callback's token names, and whether it still waits: one read.

The API (SendTask*) and the inbox both check a token before queueing its
callback, because their senders expect the error now (the API) or in the
dead-letter queue's reason (the inbox) rather than a callback the core drops
as stale. The check reads the execution's latest commit:

- not a stepq token at all, or its signature does not verify: ``InvalidToken``;
- its execution does not exist: ``TaskDoesNotExist``;
- its task has closed (answered, timed out, execution finished): ``TaskTimedOut``;
- its task is a human task (``HUMAN_TASK_RESOURCE``): ``InvalidToken``, since only
  the people inbox answers one (``runtime/people``), after checking who acts.

A task that closes after the check drops the callback, as stale.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from stepq.core.execution import RUNNING, ExecutionMeta, ExecutionState
from stepq.core.tokens import parse_token, verify_token
from stepq.errors import NotFoundError, TaskNotOpenError
from stepq.runtime import codec
from stepq.runtime.ports import Store
from stepq.runtime.signing import Keys

__all__ = ["HUMAN_TOKEN", "is_human", "open_task", "waiting_state"]

HUMAN_TOKEN = "Invalid Token: answer a human task through the inbox"


def open_task(store: Store, keys: Keys, token: str) -> tuple[str, str]:
    """(execution ARN, task id) of the task ``token`` names, still waiting; TaskNotOpenError else."""
    parsed = parse_token(token)
    if parsed is None:
        raise TaskNotOpenError(
            "InvalidToken", "Invalid Token: not a task token this service issued"
        )
    arn, task_id = parsed
    try:
        latest = store.latest(arn)
    except NotFoundError:
        raise TaskNotOpenError(
            "TaskDoesNotExist", "Task Does Not Exist: its execution does not exist"
        ) from None
    secret = keys.token_secret(arn)
    state = _state(latest.snapshot, secret) if latest.status == RUNNING else None
    if state is None:  # finished: no snapshot to check against but the key itself
        state = ExecutionState(_bare_meta(arn, secret), status=latest.status)
    if not verify_token(state, token):
        raise TaskNotOpenError(
            "InvalidToken", "Invalid Token: the token's signature does not verify"
        )
    if state.status != RUNNING or token not in state.tokens:
        raise TaskNotOpenError("TaskTimedOut", "Task Timed Out: the task is no longer waiting")
    if is_human(state, task_id):
        raise TaskNotOpenError("InvalidToken", HUMAN_TOKEN)
    return arn, task_id


def is_human(state: ExecutionState, task_id: str) -> bool:
    """Whether ``task_id`` is a human task (its resource is ``HUMAN_TASK_RESOURCE``):
    only the people inbox answers it, after checking who acts."""
    frame = state.frames.get(state.tasks.get(task_id, ""))
    return frame is not None and bool(frame.scratch.get("human"))


def waiting_state(store: Store, keys: Keys, arn: str) -> ExecutionState | None:
    """The running execution's state, its token secret derived (None: finished)."""
    latest = store.latest(arn)
    if latest.status != RUNNING:
        return None
    return _state(latest.snapshot, keys.token_secret(arn))


def _state(snapshot: dict[str, Any], secret: str) -> ExecutionState | None:
    data = snapshot.get("state") if isinstance(snapshot, dict) else None
    if not isinstance(data, dict):
        return None
    state = codec.decode_state(data)
    state.meta.token_secret = secret  # derived on load, never stored (runtime/signing.py)
    return state


def _bare_meta(arn: str, secret: str) -> ExecutionMeta:
    """Enough of an execution to check a token's signature (only the ARN and key count)."""
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    return ExecutionMeta(arn, "", "", "", "", epoch, token_secret=secret)

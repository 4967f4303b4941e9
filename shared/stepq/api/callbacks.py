"""SendTaskSuccess, SendTaskFailure, SendTaskHeartbeat.

Synchronous about errors, as Step Functions is: before the callback is queued,
the token is checked against its execution's latest commit (one read,
``runtime.open_tasks``): InvalidToken, TaskDoesNotExist or TaskTimedOut; and
``output`` not JSON: ``InvalidOutput``; over 256 KiB: ``ValidationException``.

Otherwise the callback goes to the events queue (``runtime.client``) and the
orchestrator applies it; a task that closes in between drops it, as stale.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from stepq.api.context import ApiContext
from stepq.api.protocol import ApiError
from stepq.api.registry import operation
from stepq.errors import TaskNotOpenError
from stepq.runtime.open_tasks import open_task as find_open_task
from stepq.runtime.signing import keys_of

MAX_OUTPUT_BYTES = 256 * 1024  # Step Functions' payload limit, in UTF-8 bytes
# botocore's model states these maxima but its validator checks only minima.
MAX_ERROR = 256
MAX_CAUSE = 32768


@dataclass(frozen=True, slots=True)
class OpenTask:
    execution_arn: str
    task_id: str


def open_task(ctx: ApiContext, token: str) -> OpenTask:
    """The task ``token`` names, still waiting for it; the Step Functions error else."""
    try:
        arn, task_id = find_open_task(ctx.store, keys_of(ctx.queues, ctx.store), token)
    except TaskNotOpenError as exc:
        raise ApiError(exc.code, str(exc)) from None
    return OpenTask(arn, task_id)


def _too_long(member: str, limit: int) -> ApiError:
    return ApiError(
        "ValidationException",
        f"1 validation error detected: Value at '{member}' failed to satisfy constraint: "
        f"Member must have length less than or equal to {limit}",
    )


def _failure(params: dict[str, Any]) -> tuple[str | None, str | None]:
    error, cause = params.get("error"), params.get("cause")
    if error is not None and len(error) > MAX_ERROR:
        raise _too_long("error", MAX_ERROR)
    if cause is not None and len(cause) > MAX_CAUSE:
        raise _too_long("cause", MAX_CAUSE)
    return error, cause


def _output(text: str) -> Any:
    if len(text.encode("utf-8", "surrogatepass")) > MAX_OUTPUT_BYTES:
        raise _too_long("output", MAX_OUTPUT_BYTES)
    try:
        return json.loads(text)
    except ValueError:
        raise ApiError("InvalidOutput", "Invalid Output: the output is not valid JSON") from None


@operation("SendTaskSuccess")
def send_task_success(ctx: ApiContext, params: dict[str, Any]) -> dict[str, Any]:
    token = params["taskToken"]
    output = _output(params["output"])
    open_task(ctx, token)
    ctx.client.send_task_success(token, output)
    ctx.wake()
    return {}


@operation("SendTaskFailure")
def send_task_failure(ctx: ApiContext, params: dict[str, Any]) -> dict[str, Any]:
    token = params["taskToken"]
    error, cause = _failure(params)
    open_task(ctx, token)
    ctx.client.send_task_failure(token, error, cause)
    ctx.wake()
    return {}


@operation("SendTaskHeartbeat")
def send_task_heartbeat(ctx: ApiContext, params: dict[str, Any]) -> dict[str, Any]:
    token = params["taskToken"]
    open_task(ctx, token)
    ctx.client.send_task_heartbeat(token)
    ctx.wake()
    return {}

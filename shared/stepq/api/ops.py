"""stepq's operator operations: what ``stepq ops ... --api-url URL`` calls.

``stepq dev`` keeps its table and queues in memory in its own process, so
the operator tools reach them through its API; a deployment is reached
either way (its settings, or its API when the API's role may read the
dead-letter queues: docs/OPERATIONS.md). Requests are camelCase as Step
Functions' are; replies are the runtime's reports as they are (snake_case),
the same JSON ``stepq ops ... --output json`` prints on either path.

- ``Stepq.ListStuckExecutions``  {olderThanMinutes, stateMachineName?, limit?}
- ``Stepq.ReconcileExecutions``  {executionArn?, quietMinutes?, dryRun?}
- ``Stepq.ListDeadLetters``      {queue?, limit?}
- ``Stepq.RedriveDeadLetters``   {queue, ids?, all?, dryRun?}
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

from pydantic import Field

from stepq.api.context import ApiContext
from stepq.api.protocol import ApiError
from stepq.api.registry import operation
from stepq.api.stepq_requests import StepqRequest, parse_request
from stepq.errors import NotFoundError, QueueError, QueueNotFoundError
from stepq.runtime import dead_letters, stuck
from stepq.runtime.reconcile import Reconciler


class StuckRequest(StepqRequest):
    olderThanMinutes: float = Field(15.0, ge=0)
    stateMachineName: str | None = None
    limit: int = Field(stuck.DEFAULT_LIMIT, ge=1, le=100_000)


class ReconcileRequest(StepqRequest):
    executionArn: str | None = None
    quietMinutes: float = Field(15.0, ge=0)
    dryRun: bool = False


class ListDeadLettersRequest(StepqRequest):
    queue: str | None = None
    limit: int = Field(dead_letters.DEFAULT_LIMIT, ge=1, le=10_000)


class RedriveRequest(StepqRequest):
    queue: str
    ids: list[str] | None = None
    all: bool = False
    dryRun: bool = False


@operation("ListStuckExecutions", stepq=True)
def list_stuck(ctx: ApiContext, params: dict[str, Any]) -> dict[str, Any]:
    request = parse_request(StuckRequest, params)
    finder = stuck.StuckFinder(ctx.store, ctx.queues, ctx.clock, ctx.orchestrator.config)
    report = finder.find(
        timedelta(minutes=request.olderThanMinutes),
        machine=request.stateMachineName,
        limit=request.limit,
    )
    return stuck.as_dict(report)


@operation("ReconcileExecutions", stepq=True)
def reconcile(ctx: ApiContext, params: dict[str, Any]) -> dict[str, Any]:
    request = parse_request(ReconcileRequest, params)
    reconciler = Reconciler(ctx.store, ctx.queues, ctx.clock, ctx.orchestrator.config)
    if request.executionArn is None:
        if request.dryRun:
            raise ApiError("ValidationException", "dryRun needs an executionArn")
        report = reconciler.reconcile_quiet(timedelta(minutes=request.quietMinutes))
        ctx.wake()
        return {"reconciled": report.reconciled, "resent": report.resent}
    try:
        arn = request.executionArn
        plan = reconciler.plan(arn) if request.dryRun else reconciler.reconcile(arn)
    except NotFoundError:
        raise ApiError("ExecutionDoesNotExist", f"Execution Does Not Exist: '{arn}'") from None
    ctx.wake()
    return {
        "executionArn": arn,
        "status": plan.status,
        "commands": [describe_command(c) for c in plan.commands],
        "missing": plan.missing,
        "dryRun": request.dryRun,
    }


@operation("ListDeadLetters", stepq=True)
def list_dead_letters(ctx: ApiContext, params: dict[str, Any]) -> dict[str, Any]:
    request = parse_request(ListDeadLettersRequest, params)
    with _queue_errors():
        listing = dead_letters.DeadLetters(ctx.queues, ctx.clock).list(request.queue, request.limit)
    return dead_letters.as_dict(listing)


@operation("RedriveDeadLetters", stepq=True)
def redrive_dead_letters(ctx: ApiContext, params: dict[str, Any]) -> dict[str, Any]:
    request = parse_request(RedriveRequest, params)
    if bool(request.ids) == request.all:
        raise ApiError("ValidationException", "Give ids or all=true (one of them)")
    with _queue_errors():
        report = dead_letters.DeadLetters(ctx.queues, ctx.clock).redrive(
            request.queue, request.ids, dry_run=request.dryRun
        )
    ctx.wake()
    return dead_letters.as_dict(report)


def describe_command(command: object) -> str:
    """``RunTask <task id>``, ``StartTimer <timer id>``: what a reconcile sends."""
    kind = type(command).__name__
    ident = getattr(command, "task_id", None) or getattr(command, "timer_id", "")
    return f"{kind} {ident}"


@contextmanager
def _queue_errors() -> Iterator[None]:
    """A missing dead-letter queue is the caller's mistake (400); other queue failures
    are the service's (503: the caller may retry)."""
    try:
        yield
    except QueueNotFoundError as exc:
        raise ApiError("ResourceNotFound", str(exc)) from None
    except QueueError as exc:
        raise ApiError("ServiceUnavailable", str(exc), 503) from None

"""ListMapRuns, DescribeMapRun, UpdateMapRun: the map runs of Distributed Map states.

A map run is read off its execution: ``MapRunStarted`` names it (its ARN,
settings and size; ``core/states/map_state.py``), ``MapRunSucceeded`` or
``MapRunFailed`` closes it with the item counts. A running one's progress is
in the latest snapshot, whose Map frame names the run; one whose execution
ended without closing it (stopped, timed out, failed elsewhere) is ABORTED,
with the counts of the last snapshot that held it.

stepq runs a Distributed Map's items inside the execution itself, one child
frame an item, so ``executionCounts`` equal ``itemCounts`` (one child
execution an item, as without ItemBatcher); nothing is written by a
ResultWriter (``resultsWritten`` is 0) and map runs are not redriven on their
own (``redriveCount`` 0).

UpdateMapRun records the new settings (catalog ``mapRun`` document, which
DescribeMapRun shows), then sends the running Map a ``MapRunUpdated`` event
carrying all of them: more concurrency starts more items; a tolerance below
the failures so far fails the run. A crash between the two leaves the
document ahead of the run; the caller's retry (the call failed) sends it.
"""

from __future__ import annotations

import uuid
from typing import Any

from stepq.api import arns as arn_rules
from stepq.api import catalog
from stepq.api.context import ApiContext
from stepq.api.protocol import ApiError, epoch
from stepq.api.registry import operation
from stepq.core import events as ev
from stepq.errors import AlreadyExistsError, ConflictError, NotFoundError, QueueError
from stepq.runtime.messages import EVENTS_QUEUE, event_message
from stepq.runtime.ports import ExecutionHeader
from stepq.runtime.signing import signed

_ENDS = {"MapRunSucceeded": "SUCCEEDED", "MapRunFailed": "FAILED"}
_SNAPSHOT_PAGES = 5  # commits read back, ten at a time, for an aborted run's last counts
_COUNTERS = ("pending", "running", "succeeded", "failed", "timedOut", "aborted", "total")


def _execution(ctx: ApiContext, arn: str, missing: str) -> ExecutionHeader:
    try:
        return ctx.store.get_execution(arn)
    except NotFoundError:
        if missing == "ExecutionDoesNotExist":
            raise ApiError(missing, f"Execution Does Not Exist: '{arn}'") from None
        raise ApiError(missing, f"Resource not found: '{arn}'") from None


def _runs(ctx: ApiContext, execution_arn: str) -> dict[str, dict[str, Any]]:
    """Every map run of an execution by ARN, in start order: its start and end events."""
    runs: dict[str, dict[str, Any]] = {}
    for event in ctx.store.history(execution_arn):
        details = event.get("details") or {}
        arn = details.get("mapRunArn")
        if not arn:
            continue
        if event["type"] == "MapRunStarted":
            runs[arn] = {"started": event, "ended": None}
        elif event["type"] in _ENDS and arn in runs:
            runs[arn]["ended"] = event
    return runs


def _split_map_run(ctx: ApiContext, map_run_arn: object) -> str:
    """The execution ARN a map run ARN belongs to; InvalidArn if it is not one of ours."""
    parsed = arn_rules.parse(map_run_arn, "mapRun")
    ctx.arns.own(parsed, str(map_run_arn))
    machine, _, name = parsed.parts[0].partition("/")
    if len(parsed.parts) != 2 or not machine or not name or "/" in name:
        raise ApiError("InvalidArn", f"Invalid Arn: '{map_run_arn}'")
    return ctx.arns.execution(machine, name)


def _page(params: dict[str, Any], size: int) -> tuple[int, int]:
    token = params.get("nextToken")
    start = 0
    if token is not None:
        if not token.isdigit() or int(token) > size:
            raise ApiError("InvalidToken", f"Invalid Token: '{token}'")
        start = int(token)
    limit = params.get("maxResults") or 100
    return start, min(start + limit, size)


@operation("ListMapRuns")
def list_map_runs(ctx: ApiContext, params: dict[str, Any]) -> dict[str, Any]:
    arn = str(params["executionArn"])
    parsed = arn_rules.parse(arn, "execution")
    ctx.arns.own(parsed, arn)
    header = _execution(ctx, arn, "ExecutionDoesNotExist")
    runs = list(_runs(ctx, arn).items())
    start, end = _page(params, len(runs))
    listed = []
    for map_run_arn, run in runs[start:end]:
        item: dict[str, Any] = {
            "executionArn": arn,
            "mapRunArn": map_run_arn,
            "stateMachineArn": ctx.arns.machine(header.machine),
            "startDate": epoch(run["started"]["timestamp"]),
        }
        stop = _stop(run, header)
        if stop is not None:
            item["stopDate"] = epoch(stop)
        listed.append(item)
    reply: dict[str, Any] = {"mapRuns": listed}
    if end < len(runs):
        reply["nextToken"] = str(end)
    return reply


def _stop(run: dict[str, Any], header: ExecutionHeader) -> str | None:
    if run["ended"] is not None:
        return str(run["ended"]["timestamp"])
    return None if header.status == "RUNNING" else header.stop_time


def _find(ctx: ApiContext, map_run_arn: object) -> tuple[str, ExecutionHeader, dict[str, Any]]:
    execution_arn = _split_map_run(ctx, map_run_arn)
    header = _execution(ctx, execution_arn, "ResourceNotFound")
    run = _runs(ctx, execution_arn).get(str(map_run_arn))
    if run is None:
        raise ApiError("ResourceNotFound", f"Resource not found: '{map_run_arn}'")
    return execution_arn, header, run


def _progress(ctx: ApiContext, execution_arn: str, map_run_arn: str) -> dict[str, int] | None:
    """The Map frame's counters in the newest snapshot that holds the run (None: none does)."""
    before: int | None = None
    for _ in range(_SNAPSHOT_PAGES):
        commits = ctx.store.recent(execution_arn, 10, before)
        for commit in commits:
            # Only the counters are read: the snapshot keeps them in place (it moves
            # a Map's items and results elsewhere, never its counters).
            state = (commit.snapshot or {}).get("state") or {}
            for frame in (state.get("frames") or {}).values():
                children = frame.get("children") or {}
                if children.get("map_run") == map_run_arn:
                    return {k: int(children[k]) for k in ("next", "running", "done", "failed")}
        if len(commits) < 10:
            return None
        before = commits[-1].seq
    return None


def _counts(
    ctx: ApiContext, execution_arn: str, header: ExecutionHeader, run: dict[str, Any]
) -> dict[str, int]:
    started = run["started"]["details"]
    total = int(started.get("total", 0))
    counts = dict.fromkeys(_COUNTERS, 0)
    counts["total"] = total
    if run["ended"] is not None:
        ended = run["ended"]["details"]
        for key in ("succeeded", "failed", "aborted", "pending"):
            counts[key] = int(ended.get(key, 0))
        # Items never started when the run failed were aborted with it.
        counts["aborted"] += counts.pop("pending")
        counts["pending"] = 0
        return counts
    progress = _progress(ctx, execution_arn, run["started"]["details"]["mapRunArn"])
    if progress is not None:
        counts["succeeded"] = progress["done"] - progress["failed"]
        counts["failed"] = progress["failed"]
        counts["running"] = progress["running"]
        counts["pending"] = total - progress["next"]
    elif header.status == "RUNNING":
        counts["pending"] = total
    if header.status != "RUNNING":  # the execution ended around the run: cut short
        counts["aborted"] = counts["running"] + counts["pending"]
        counts["running"] = counts["pending"] = 0
    return counts


def _with_extras(counts: dict[str, int]) -> dict[str, int]:
    return {**counts, "resultsWritten": 0, "failuresNotRedrivable": 0, "pendingRedrive": 0}


@operation("DescribeMapRun")
def describe_map_run(ctx: ApiContext, params: dict[str, Any]) -> dict[str, Any]:
    map_run_arn = str(params["mapRunArn"])
    execution_arn, header, run = _find(ctx, map_run_arn)
    started = run["started"]["details"]
    if run["ended"] is not None:
        status = _ENDS[run["ended"]["type"]]
    else:
        status = "RUNNING" if header.status == "RUNNING" else "ABORTED"
    settings = {
        "maxConcurrency": int(started.get("maxConcurrency", 0)),
        "toleratedFailurePercentage": float(started.get("toleratedFailurePercentage", 0)),
        "toleratedFailureCount": int(started.get("toleratedFailureCount", 0)),
    }
    update = ctx.store.get_doc("mapRun", map_run_arn)
    if update is not None:
        recorded = catalog.MapRunDoc.model_validate(update.body).model_dump(exclude_none=True)
        settings.update(recorded)
    counts = _with_extras(_counts(ctx, execution_arn, header, run))
    reply: dict[str, Any] = {
        "mapRunArn": map_run_arn,
        "executionArn": execution_arn,
        "status": status,
        "startDate": epoch(run["started"]["timestamp"]),
        **settings,
        "itemCounts": counts,
        "executionCounts": dict(counts),
        "redriveCount": 0,
    }
    stop = _stop(run, header)
    if stop is not None:
        reply["stopDate"] = epoch(stop)
    return reply


def _tell_the_run(
    ctx: ApiContext, execution_arn: str, map_run_arn: str, doc: catalog.MapRunDoc
) -> None:
    """Send the running Map its new limits (signed, as every event of an execution)."""
    event = ev.MapRunUpdated(
        map_run_arn,
        ctx.clock.now(),
        max_concurrency=doc.maxConcurrency,
        tolerated_failure_count=doc.toleratedFailureCount,
        tolerated_failure_percentage=doc.toleratedFailurePercentage,
    )
    message_id = f"maprun|{map_run_arn}|{uuid.uuid4().hex}"
    try:
        signed(ctx.queues, ctx.store).send(
            EVENTS_QUEUE, [event_message(execution_arn, event, message_id)]
        )
    except QueueError as exc:
        raise ApiError("ServiceUnavailable", f"the map run was not told: {exc}", 503) from None
    ctx.wake()


@operation("UpdateMapRun")
def update_map_run(ctx: ApiContext, params: dict[str, Any]) -> dict[str, Any]:
    map_run_arn = str(params["mapRunArn"])
    wanted = {
        k: params[k]
        for k in ("maxConcurrency", "toleratedFailurePercentage", "toleratedFailureCount")
        if params.get(k) is not None
    }
    if not wanted:
        raise ApiError(
            "ValidationException",
            "Give at least one of maxConcurrency, toleratedFailurePercentage, toleratedFailureCount",
        )
    for key, value in wanted.items():
        if value < 0 or (key == "toleratedFailurePercentage" and value > 100):
            raise ApiError("ValidationException", f"Invalid {key}: {value}")
    _, header, run = _find(ctx, map_run_arn)
    if run["ended"] is not None or header.status != "RUNNING":
        raise ApiError("ValidationException", f"Map run '{map_run_arn}' is no longer running")
    for _ in range(5):  # conditional on the revision read; a lost race reads again
        doc = ctx.store.get_doc("mapRun", map_run_arn)
        current = {} if doc is None else catalog.MapRunDoc.model_validate(doc.body).model_dump()
        body = catalog.MapRunDoc.model_validate({**current, **wanted}).model_dump()
        try:
            ctx.store.put_doc("mapRun", map_run_arn, body, None if doc is None else doc.rev)
        except (ConflictError, AlreadyExistsError):
            continue
        _tell_the_run(ctx, header.execution_id, map_run_arn, catalog.MapRunDoc(**body))
        return {}
    raise ApiError("ConflictException", f"map run {map_run_arn} keeps changing; try again")

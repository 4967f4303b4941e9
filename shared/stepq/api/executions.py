"""StartExecution, StartSyncExecution, DescribeExecution, ListExecutions, StopExecution, and stepq's SearchExecutions.

A start resolves the state machine ARN (plain, version or alias) to the
store revision it runs, and is synchronous about failure: the execution
exists when the call returns, or the call failed. A start through a version
or alias first records which (document kind ``started``), so describing and
listing can show it. Listing is paged by ``api/listing.py``.
"""

from __future__ import annotations

import contextlib
import json
import threading
import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from stepq.api import arns as arn_rules
from stepq.api import catalog, listing, paging, redrive
from stepq.api.context import ApiContext
from stepq.api.execution_tags import MAX_TAG_FILTERS, TagFilter, machines_tagged
from stepq.api.protocol import ApiError, epoch
from stepq.api.registry import operation
from stepq.api.stepq_requests import parse_request
from stepq.clock import monotonic
from stepq.errors import AlreadyExistsError, ExecutionAlreadyExistsError, NotFoundError
from stepq.runtime.ports import Commit, ExecutionHeader

MAX_INPUT = 262144  # Step Functions' limit: 256 KiB
SYNC_LIMIT_SECONDS = 300.0  # an Express execution's longest run
STOP_WAIT_SECONDS = 2.0  # how long StopExecution waits to see the stop applied
EXPRESS = "EXPRESS"


# --- checks -----------------------------------------------------------------------


def _too_long(member: str, limit: int) -> ApiError:
    # The service's own constraint message (botocore's client does not check maxima).
    return ApiError(
        "ValidationException",
        f"1 validation error detected: Value at '{member}' failed to satisfy constraint: "
        f"Member must have length less than or equal to {limit}",
    )


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def parse_input(params: dict[str, Any]) -> tuple[str, Any]:
    """The input as text and as a value; Step Functions' default is ``{}``."""
    text = params.get("input")
    if text is None:
        return "{}", {}
    if len(text) > MAX_INPUT:
        raise _too_long("input", MAX_INPUT)
    if len(text.encode("utf-8")) > MAX_INPUT:
        raise ApiError(
            "InvalidExecutionInput",
            f"Invalid State Machine Execution Input: the input is over {MAX_INPUT} bytes "
            "of UTF-8 (Step Functions' limit is 256 KiB)",
        )
    try:
        value = json.loads(text, parse_constant=_no_constants)
    except (ValueError, RecursionError) as exc:
        raise ApiError(
            "InvalidExecutionInput", f"Invalid State Machine Execution Input: '{exc}'"
        ) from None
    return text, value


def execution_name(params: dict[str, Any]) -> str:
    name = params.get("name")
    if name is None:
        return str(uuid.uuid4())
    if len(name) > arn_rules.MAX_NAME:
        raise _too_long("name", arn_rules.MAX_NAME)
    arn_rules.check_name(name, "an execution name")
    return name


def parse_execution_arn(ctx: ApiContext, arn: Any) -> tuple[str, str]:
    """(machine name, execution name) of an execution ARN of this deployment."""
    parsed = arn_rules.parse(arn, "execution")
    ctx.arns.own(parsed, str(arn))
    if len(parsed.parts) != 2:
        raise ApiError("InvalidArn", f"Invalid Arn: '{arn}'")
    return parsed.parts[0], parsed.parts[1]


def load_execution(ctx: ApiContext, arn: Any) -> ExecutionHeader:
    """The execution's header; InvalidArn or ExecutionDoesNotExist."""
    parse_execution_arn(ctx, arn)
    try:
        return ctx.store.get_execution(arn)
    except NotFoundError:
        raise ApiError("ExecutionDoesNotExist", f"Execution Does Not Exist: '{arn}'") from None


def _described(ctx: ApiContext, arn: Any) -> tuple[ExecutionHeader, Commit]:
    """The execution's header and newest commit (one read); as ``load_execution`` fails."""
    parse_execution_arn(ctx, arn)
    try:
        return ctx.store.describe(arn)
    except NotFoundError:
        raise ApiError("ExecutionDoesNotExist", f"Execution Does Not Exist: '{arn}'") from None


def _text(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


# --- starting ---------------------------------------------------------------------


def start(ctx: ApiContext, params: dict[str, Any]) -> tuple[str, str]:
    """Resolve, record the version/alias, start; the execution's ARN and start time."""
    target = catalog.resolve(ctx, params.get("stateMachineArn"))
    name = execution_name(params)
    _, value = parse_input(params)
    arn = ctx.arns.execution(target.name, name)
    recorded = False
    if target.version_arn or target.alias_arn:
        recorded = _record_start(ctx, arn, target)
    try:
        begun = ctx.orchestrator.begin(target.name, name, value, version=target.revision)
    except ExecutionAlreadyExistsError:
        raise ApiError("ExecutionAlreadyExists", f"Execution Already Exists: '{arn}'") from None
    except NotFoundError:
        if recorded:
            _forget_start(ctx, arn)
        shown = params.get("stateMachineArn")
        raise ApiError(
            "StateMachineDoesNotExist", f"State Machine Does Not Exist: '{shown}'"
        ) from None
    except BaseException:
        if recorded:
            _forget_start(ctx, arn)
        raise
    ctx.wake()
    if begun.created and not (target.version_arn or target.alias_arn):
        # Created on $LATEST by this call: no ``started`` document (version/alias) to read.
        ctx.cache.note_started(arn, None)
    return arn, begun.start_time


def _record_start(ctx: ApiContext, arn: str, target: catalog.Target) -> bool:
    """Write the ``started`` document before the start (True: this call wrote it).

    An execution of that name that exists already keeps what it started with
    (the start below returns it or refuses)."""
    with contextlib.suppress(NotFoundError):
        ctx.store.get_execution(arn)
        return False
    body = catalog.StartedDoc(
        stateMachineVersionArn=target.version_arn, stateMachineAliasArn=target.alias_arn
    ).model_dump(exclude_none=True)
    try:
        ctx.store.put_doc("started", arn, body, None)
    except AlreadyExistsError:
        return False  # a concurrent start of the same name wrote it
    return True


def _forget_start(ctx: ApiContext, arn: str) -> None:
    with contextlib.suppress(NotFoundError):
        ctx.store.get_execution(arn)
        return  # it exists after all: its record stays
    with contextlib.suppress(NotFoundError):
        ctx.store.delete_doc("started", arn)


@operation("StartExecution")
def start_execution(ctx: ApiContext, params: dict[str, Any]) -> dict[str, Any]:
    arn, started_at = start(ctx, params)
    return {"executionArn": arn, "startDate": epoch(started_at)}


@operation("StartSyncExecution")
def start_sync_execution(ctx: ApiContext, params: dict[str, Any]) -> dict[str, Any]:
    name, _ = catalog.parse_machine_arn(ctx, params.get("stateMachineArn"))
    doc, _ = catalog.machine(ctx, name, str(params.get("stateMachineArn")))
    if doc.type != EXPRESS:
        raise ApiError(
            "StateMachineTypeNotSupported",
            "This operation is not supported by this type of state machine",
        )
    began = monotonic()
    arn, _ = start(ctx, params)
    header = _wait_closed(ctx, arn, SYNC_LIMIT_SECONDS)
    status = header.status
    if status == "RUNNING":  # past the Express limit: it is stopped, as AWS times it out
        ctx.client.stop_execution(header.execution_id, "States.Timeout", "Execution timed out")
        ctx.wake()
        header = _wait_closed(ctx, header.execution_id, STOP_WAIT_SECONDS)
        status = "TIMED_OUT"
    elif status == "ABORTED":  # stopped by a caller: the sync answer has no ABORTED
        status = "FAILED"
    elapsed_ms = int((monotonic() - began) * 1000)
    result: dict[str, Any] = {
        "executionArn": header.execution_id,
        "stateMachineArn": ctx.arns.machine(header.machine),
        "name": header.name,
        "startDate": epoch(header.start_time),
        "stopDate": epoch(header.stop_time or ctx.clock.now()),
        "status": status,
        "billingDetails": {
            "billedMemoryUsedInMB": 64,
            "billedDurationInMilliseconds": max(100, -(-elapsed_ms // 100) * 100),
        },
    }
    if header.error is not None:
        result["error"] = header.error
    if header.cause is not None:
        result["cause"] = header.cause
    if params.get("includedData") != "METADATA_ONLY":
        result["input"] = _text(header.input)
        result["inputDetails"] = {"included": True}
        if header.status == "SUCCEEDED":
            result["output"] = _text(header.output)
            result["outputDetails"] = {"included": True}
    return result


def _wait_closed(ctx: ApiContext, arn: str, seconds: float) -> ExecutionHeader:
    """Poll the store until the execution closes or ``seconds`` pass (any store: no
    runtime hook), from every millisecond to every 50 ms."""
    deadline = monotonic() + seconds
    pause = 0.001
    sleeper = threading.Event()
    while True:
        header = ctx.store.get_execution(arn)
        if header.status != "RUNNING" or monotonic() >= deadline:
            return header
        sleeper.wait(min(pause, max(0.0, deadline - monotonic())))
        pause = min(pause * 2, 0.05)


# --- describing and stopping ------------------------------------------------------


@operation("DescribeExecution")
def describe_execution(ctx: ApiContext, params: dict[str, Any]) -> dict[str, Any]:
    header, latest = _described(ctx, params.get("executionArn"))
    return described(ctx, header, latest, params)


def load_described(ctx: ApiContext, arn: Any) -> tuple[ExecutionHeader, Commit]:
    """The execution's header and newest commit, loaded once (ExecutionDoesNotExist...)."""
    return _described(ctx, arn)


def described(
    ctx: ApiContext, header: ExecutionHeader, latest: Commit, params: dict[str, Any]
) -> dict[str, Any]:
    """DescribeExecution's reply from an execution already loaded."""
    started = listing.started_doc(ctx, header.execution_id)
    result = listing.summary(ctx, header, started)
    if params.get("includedData") == "METADATA_ONLY":
        result["inputDetails"] = {"included": False}
    else:
        result["input"] = _text(header.input)
        result["inputDetails"] = {"included": True}
        if header.status == "SUCCEEDED":
            result["output"] = _text(header.output)
            result["outputDetails"] = {"included": True}
    if header.error is not None:
        result["error"] = header.error
    if header.cause is not None:
        result["cause"] = header.cause
    for key, value in redrive.fields_of(latest).items():
        if value is not None:
            result[key] = epoch(value) if key == "redriveDate" else value
    return result


@operation("StopExecution")
def stop_execution(ctx: ApiContext, params: dict[str, Any]) -> dict[str, Any]:
    arn = params.get("executionArn")
    header = load_execution(ctx, arn)
    if header.status == "RUNNING":
        ctx.client.stop_execution(header.execution_id, params.get("error"), params.get("cause"))
        ctx.wake()
        # The stop is an event like any other: wait briefly so a DescribeExecution
        # right after sees it, as on Step Functions.
        header = _wait_closed(ctx, header.execution_id, STOP_WAIT_SECONDS)
    # A closed execution stays as it was; its stop date is when it closed.
    return {"stopDate": epoch(header.stop_time or ctx.clock.now())}


# --- listing ----------------------------------------------------------------------


def _machine_filter(ctx: ApiContext, arn: Any) -> tuple[str, catalog.MachineDoc, Any]:
    """(machine name, its settings, the keep-filter of a version or alias ARN)."""
    name, qualifier = catalog.parse_machine_arn(ctx, arn)
    doc, _ = catalog.machine(ctx, name, str(arn))
    if qualifier is None:
        return name, doc, None
    if qualifier.isdigit():
        catalog.version(ctx, name, int(qualifier), str(arn))
        member = "stateMachineVersionArn"
    else:
        catalog.alias(ctx, name, qualifier, str(arn))
        member = "stateMachineAliasArn"
    return name, doc, (member, str(arn))


def _keep(
    ctx: ApiContext,
    qualified: tuple[str, str] | None,
    redrive_filter: str | None,
    name_prefix: str = "",
    cache: dict[str, catalog.StartedDoc | None] | None = None,
) -> Any:
    cache = {} if cache is None else cache

    def keep(header: ExecutionHeader) -> bool:
        if name_prefix and not header.name.startswith(name_prefix):
            return False
        if qualified is not None:
            started = listing.started_doc(ctx, header.execution_id)
            cache[header.execution_id] = started
            if started is None or getattr(started, qualified[0]) != qualified[1]:
                return False
        if redrive_filter is not None:
            count = int(redrive.describe_fields(ctx, header).get("redriveCount", 0))
            if (count > 0) != (redrive_filter == "REDRIVEN"):
                return False
        return True

    return keep


def _items(
    ctx: ApiContext,
    headers: list[ExecutionHeader],
    cache: dict[str, catalog.StartedDoc | None],
) -> list[dict[str, Any]]:
    out = []
    for header in headers:
        if header.execution_id in cache:
            started = cache[header.execution_id]
        else:
            started = listing.started_doc(ctx, header.execution_id)
        out.append(listing.list_item(ctx, header, started))
    return out


@operation("ListExecutions")
def list_executions(ctx: ApiContext, params: dict[str, Any]) -> dict[str, Any]:
    machine_arn, map_run_arn = params.get("stateMachineArn"), params.get("mapRunArn")
    if (machine_arn is None) == (map_run_arn is None):
        raise ApiError(
            "ValidationException", "Exactly one of stateMachineArn and mapRunArn must be given"
        )
    limit = paging.page_size(params.get("maxResults"))
    request = paging.fingerprint(
        "ListExecutions",
        machine_arn,
        map_run_arn,
        params.get("statusFilter"),
        params.get("redriveFilter"),
    )
    position = listing.Position.load(paging.read_token(params.get("nextToken"), request))
    if params.get("nextToken") is not None and position is None:
        raise paging.invalid_token(params.get("nextToken"))
    if map_run_arn is not None:
        return _list_map_run(ctx, map_run_arn)
    name, doc, qualified = _machine_filter(ctx, machine_arn)
    if doc.type == EXPRESS:
        raise ApiError(
            "StateMachineTypeNotSupported",
            "This operation is not supported by this type of state machine",
        )
    cache: dict[str, catalog.StartedDoc | None] = {}
    headers, following = listing.scan(
        ctx,
        [name],
        status=params.get("statusFilter"),
        limit=limit,
        position=position,
        keep=_keep(ctx, qualified, params.get("redriveFilter"), cache=cache),
    )
    result: dict[str, Any] = {"executions": _items(ctx, headers, cache)}
    if following is not None:
        result["nextToken"] = paging.make_token(request, following.dump())
    return result


def _list_map_run(ctx: ApiContext, arn: Any) -> dict[str, Any]:
    """A Map Run's child executions: stepq runs a Map's iterations inside its execution,
    so there are none to list; an unknown Map Run is ResourceNotFound."""
    parsed = arn_rules.parse(arn, "mapRun")
    ctx.arns.own(parsed, str(arn))
    machine, _, execution = parsed.parts[0].partition("/")
    if not execution:
        raise ApiError("InvalidArn", f"Invalid Arn: '{arn}'")
    try:
        ctx.store.get_execution(ctx.arns.execution(machine, execution))
    except NotFoundError:
        raise ApiError("ResourceNotFound", f"Resource not found: '{arn}'") from None
    return {"executions": []}


# --- stepq's own: SearchExecutions ------------------------------------------------

Status = Literal["RUNNING", "SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED", "PENDING_REDRIVE"]


class SearchRequest(BaseModel):
    """``Stepq.SearchExecutions``: every filter optional (docs/API.md)."""

    model_config = ConfigDict(extra="forbid", strict=False)

    stateMachineArn: str | None = Field(default=None, max_length=256)
    stateMachineName: str | None = Field(default=None, max_length=80)
    statusFilter: Status | None = None
    namePrefix: str = Field(default="", max_length=80)
    tags: list[TagFilter] = Field(default_factory=list, max_length=MAX_TAG_FILTERS)
    startedAfter: datetime | None = None  # inclusive
    startedBefore: datetime | None = None  # exclusive
    maxResults: int = Field(default=0, ge=0, le=paging.MAX_PAGE)
    nextToken: str | None = Field(default=None, min_length=1, max_length=3096)

    _instant = field_validator("startedAfter", "startedBefore", mode="before")(
        lambda value: listing.instant(value)
    )
    _aware = field_validator("startedAfter", "startedBefore")(lambda value: listing.aware(value))


@operation("SearchExecutions", stepq=True)
def search_executions(ctx: ApiContext, params: dict[str, Any]) -> dict[str, Any]:
    request = parse_request(SearchRequest, params)
    if request.stateMachineArn is not None and request.stateMachineName is not None:
        raise ApiError("ValidationException", "Give stateMachineArn or stateMachineName, not both")
    fingerprint = paging.fingerprint(
        "SearchExecutions", request.model_dump(mode="json", exclude={"nextToken", "maxResults"})
    )
    position = listing.Position.load(paging.read_token(request.nextToken, fingerprint))
    if request.nextToken is not None and position is None:
        raise paging.invalid_token(request.nextToken)
    qualified = None
    if request.stateMachineArn is not None:
        name, _, qualified = _machine_filter(ctx, request.stateMachineArn)
        machines = [name]
    elif request.stateMachineName is not None:
        arn_rules.check_name(request.stateMachineName, "a state machine name")
        catalog.machine(ctx, request.stateMachineName)
        machines = [request.stateMachineName]
    else:
        machines = ctx.store.list_machines()
    if request.tags:
        tagged = machines_tagged(ctx, request.tags)
        machines = [m for m in machines if m in tagged]
        if not machines:
            return {"executions": []}
    cache: dict[str, catalog.StartedDoc | None] = {}
    before, after = request.startedBefore, request.startedAfter
    headers, following = listing.scan(
        ctx,
        machines,
        status=request.statusFilter,
        limit=paging.page_size(request.maxResults),
        position=position,
        keep=_keep(ctx, qualified, None, request.namePrefix, cache),
        **listing.cursor_bounds(after, before),
    )
    result: dict[str, Any] = {"executions": _items(ctx, headers, cache)}
    if following is not None:
        result["nextToken"] = paging.make_token(fingerprint, following.dump())
    return result

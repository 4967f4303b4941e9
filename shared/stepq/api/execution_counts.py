"""``Stepq.CountExecutions``: how many executions are in each status (the console's counts).

{stateMachineName?, namePrefix?, tags?, startedAfter?, startedBefore?} -> {counts: {RUNNING: n,
...}, total, truncated} (times as ``Stepq.SearchExecutions`` takes them).
One pass over the newest ``limit`` executions (default and most 10,000) of one
machine or of every machine; ``truncated`` says more exist than were counted.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from stepq.api import arns as arn_rules
from stepq.api import catalog, listing
from stepq.api.context import ApiContext
from stepq.api.execution_tags import MAX_TAG_FILTERS, TagFilter, machines_tagged
from stepq.api.protocol import ApiError
from stepq.api.registry import operation

MAX_COUNTED = 10_000
STATUSES = ("RUNNING", "SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED", "PENDING_REDRIVE")


class CountRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=False)

    stateMachineName: str | None = Field(default=None, max_length=80)
    namePrefix: str = Field(default="", max_length=80)
    tags: list[TagFilter] = Field(default_factory=list, max_length=MAX_TAG_FILTERS)
    limit: int = Field(default=MAX_COUNTED, ge=1, le=MAX_COUNTED)
    startedAfter: datetime | None = None  # inclusive
    startedBefore: datetime | None = None  # exclusive

    _instant = field_validator("startedAfter", "startedBefore", mode="before")(
        lambda value: listing.instant(value)
    )
    _aware = field_validator("startedAfter", "startedBefore")(lambda value: listing.aware(value))


@operation("CountExecutions", stepq=True)
def count_executions(ctx: ApiContext, params: dict[str, Any]) -> dict[str, Any]:
    try:
        request = CountRequest.model_validate(params)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'request'}: {e['msg']}" for e in exc.errors()
        )
        raise ApiError("ValidationException", f"Invalid request: {problems}") from None
    if request.stateMachineName is not None:
        arn_rules.check_name(request.stateMachineName, "a state machine name")
        catalog.machine(ctx, request.stateMachineName)
        machines = [request.stateMachineName]
    else:
        machines = ctx.store.list_machines()
    if request.tags:  # as SearchExecutions' filter: only the machines carrying every tag
        tagged = machines_tagged(ctx, request.tags)
        machines = [m for m in machines if m in tagged]
    prefix = request.namePrefix
    headers, following = listing.scan(
        ctx,
        machines,
        status=None,
        limit=request.limit,
        position=None,
        keep=lambda header: header.name.startswith(prefix),
        **listing.cursor_bounds(request.startedAfter, request.startedBefore),
    )
    counts = Counter(header.status for header in headers)
    return {
        "counts": {status: counts.get(status, 0) for status in STATUSES},
        "total": len(headers),
        "truncated": following is not None,
    }

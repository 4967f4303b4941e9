"""Listing executions page by page, over one machine or many (ListExecutions, SearchExecutions).

Rows come newest first, ordered by (``ports.list_cursor``, machine name),
both descending: the store's order within one machine, and a total order
across machines (two machines may each have an execution with the same name
started at the same instant). A page's position is the last row it
examined; the next page asks every machine's listing for what comes after
it, so pages never repeat or skip a row however the filters thin them out.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from stepq.api import catalog, redrive
from stepq.api.context import ApiContext
from stepq.api.protocol import epoch
from stepq.runtime.codec import sortable_instant
from stepq.runtime.ports import ExecutionHeader, list_cursor

Row = tuple[str, str, ExecutionHeader]  # (list cursor, machine name, summary)


@dataclass(slots=True)
class Position:
    """The last row a page examined: (list cursor, machine name)."""

    key: str
    machine: str

    def dump(self) -> dict[str, Any]:
        return {"k": self.key, "m": self.machine}

    @classmethod
    def load(cls, data: dict[str, Any] | None) -> Position | None:
        if data is None:
            return None
        key, machine = data.get("k"), data.get("m")
        if not isinstance(key, str) or not isinstance(machine, str):
            return None
        return cls(key, machine)


def _after(machine: str, position: Position | None, upper: str | None) -> str | None:
    """Where ``machine``'s listing resumes: strictly below the position's row.

    Machines below the position's machine also keep rows with its very key:
    ``key + "\\x00"`` bounds "at most ``key``" (no name holds a control
    character). ``upper`` is a bound of its own (a start-time range).
    """
    bound: str | None = None
    if position is not None:
        bound = position.key + ("\x00" if machine < position.machine else "")
    if upper is not None and (bound is None or upper < bound):
        bound = upper
    return bound


def _rows(
    ctx: ApiContext, machine: str, status: str | None, after: str | None, batch: int
) -> Iterator[Row]:
    while True:
        page = ctx.store.list_executions(machine, status, limit=batch, after=after)
        for header in page:
            yield list_cursor(header), machine, header
        if len(page) < batch:
            return
        after = list_cursor(page[-1])


def scan(
    ctx: ApiContext,
    machines: list[str],
    *,
    status: str | None,
    limit: int,
    position: Position | None,
    keep: Callable[[ExecutionHeader], bool] = lambda _: True,
    upper: str | None = None,
    lower: str | None = None,
) -> tuple[list[ExecutionHeader], Position | None]:
    """Up to ``limit`` rows that ``keep`` accepts, and where the next page starts (None:
    no more). ``upper``/``lower`` bound the list cursor: rows below ``upper``, at or above
    ``lower`` (a start-time range, as ``sortable_instant`` text)."""
    batch = min(limit + 1, 1000)
    sources = [_rows(ctx, m, status, _after(m, position, upper), batch) for m in machines]
    merged = heapq.merge(*sources, key=lambda row: (row[0], row[1]), reverse=True)
    out: list[ExecutionHeader] = []
    last: Position | None = None
    for key, machine, header in merged:
        if lower is not None and key < lower:
            break  # newest first: everything after this started earlier still
        if keep(header):
            if len(out) == limit:
                return out, last  # one more row exists: there is a next page
            out.append(header)
        last = Position(key, machine)
    return out, None


# --- a start-time range (SearchExecutions, CountExecutions) ---------------------------


def instant(value: Any) -> Any:
    """Epoch seconds as a datetime; anything else left for pydantic (ISO-8601 text)."""
    if isinstance(value, bool):
        raise ValueError("a time is epoch seconds or ISO-8601 text")
    if isinstance(value, int | float):
        try:
            return datetime.fromtimestamp(value, UTC)
        except (OverflowError, OSError, ValueError):
            raise ValueError(f"{value} is not a time in range") from None
    return value


def aware(value: datetime | None) -> datetime | None:
    if value is not None and value.tzinfo is None:
        value = value.replace(tzinfo=UTC)  # ISO text without an offset is UTC
    return value


def cursor_bounds(after: datetime | None, before: datetime | None) -> dict[str, str | None]:
    """A start-time range as ``listing.scan``'s ``upper``/``lower`` bounds."""
    return {
        "upper": None if before is None else sortable_instant(before.isoformat()),
        "lower": None if after is None else sortable_instant(after.isoformat()),
    }


# --- the rows as Step Functions shows them ------------------------------------------


def started_doc(ctx: ApiContext, execution_arn: str) -> catalog.StartedDoc | None:
    """The version or alias a start went through (None: the machine's $LATEST)."""
    doc = ctx.cache.started(ctx.store, execution_arn)  # fixed once the execution exists
    return None if doc is None else catalog.StartedDoc.model_validate(doc.body)


def summary(
    ctx: ApiContext, header: ExecutionHeader, started: catalog.StartedDoc | None
) -> dict[str, Any]:
    """What a list item and DescribeExecution both show: names, status, dates, version/alias."""
    item: dict[str, Any] = {
        "executionArn": header.execution_id,
        "stateMachineArn": ctx.arns.machine(header.machine),
        "name": header.name,
        "status": header.status,
        "startDate": epoch(header.start_time),
    }
    if header.stop_time:
        item["stopDate"] = epoch(header.stop_time)
    if started is not None:
        if started.stateMachineVersionArn:
            item["stateMachineVersionArn"] = started.stateMachineVersionArn
        if started.stateMachineAliasArn:
            item["stateMachineAliasArn"] = started.stateMachineAliasArn
    return item


def list_item(
    ctx: ApiContext, header: ExecutionHeader, started: catalog.StartedDoc | None
) -> dict[str, Any]:
    """An ``ExecutionListItem``."""
    item = summary(ctx, header, started)
    fields = redrive.describe_fields(ctx, header)
    item["redriveCount"] = int(fields.get("redriveCount", 0))
    if fields.get("redriveDate") is not None:
        item["redriveDate"] = fields["redriveDate"]
    return item

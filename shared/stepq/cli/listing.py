"""``stepq list``: which executions match, asked the cheapest way the API allows.

With a machine and at most a status filter, ListExecutions answers. Anything
more (no machine, a name prefix, a start-time range) goes to stepq's own
``Stepq.SearchExecutions``; an API without it (a Step Functions endpoint, an
older stepq) is asked ListExecutions machine by machine and filtered here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from stepq.cli.api_client import ApiCallError

_UNKNOWN = ("UnknownOperationException", "UnknownOperation", "InvalidAction")
_EPOCH = datetime.fromtimestamp(0, tz=UTC)


@dataclass(frozen=True, slots=True)
class Filters:
    machine_arn: str | None = None
    status: str | None = None
    name_prefix: str | None = None
    started_after: datetime | None = None
    started_before: datetime | None = None
    limit: int = 100

    @property
    def simple(self) -> bool:
        """ListExecutions alone can answer."""
        return self.machine_arn is not None and not (
            self.name_prefix or self.started_after or self.started_before
        )


def _aware(value: datetime) -> datetime:
    # A time typed without a zone is read as UTC, as the API reports times.
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def list_matching(api: Any, filters: Filters) -> list[dict[str, Any]]:
    if filters.simple:
        return _list(api, filters.machine_arn, filters)
    try:
        return _search(api, filters)
    except ApiCallError as exc:
        # Not a stepq API (or one without the operation): Step Functions' own way.
        if exc.error_code not in _UNKNOWN and not exc.error_code.startswith("HTTP "):
            raise
    machines = (
        [filters.machine_arn]
        if filters.machine_arn
        else [m["stateMachineArn"] for m in api.pages("list_state_machines", "stateMachines")]
    )
    found = [item for arn in machines for item in _list(api, arn, filters, everything=True)]
    found = [item for item in found if _matches(item, filters)]
    found.sort(key=lambda item: item.get("startDate") or _EPOCH, reverse=True)
    return found[: filters.limit]


def _list(
    api: Any, machine_arn: str | None, filters: Filters, *, everything: bool = False
) -> list[dict[str, Any]]:
    params: dict[str, Any] = {"stateMachineArn": machine_arn}
    if filters.status:
        params["statusFilter"] = filters.status
    # One page size for every page: a token fits only the request that made it.
    params["maxResults"] = 1000 if everything else min(1000, filters.limit)
    found: list[dict[str, Any]] = []
    while everything or len(found) < filters.limit:
        reply = api.call("list_executions", **params)
        found += reply.get("executions", [])
        if not reply.get("nextToken"):
            break
        params["nextToken"] = reply["nextToken"]
    return found if everything else found[: filters.limit]


def _search(api: Any, filters: Filters) -> list[dict[str, Any]]:
    params: dict[str, Any] = {}
    if filters.machine_arn:
        params["stateMachineArn"] = filters.machine_arn
    if filters.status:
        params["statusFilter"] = filters.status
    if filters.name_prefix:
        params["namePrefix"] = filters.name_prefix
    if filters.started_after:
        params["startedAfter"] = _aware(filters.started_after).timestamp()
    if filters.started_before:
        params["startedBefore"] = _aware(filters.started_before).timestamp()
    params["maxResults"] = min(1000, filters.limit)
    found: list[dict[str, Any]] = []
    while len(found) < filters.limit:
        reply = api.stepq("SearchExecutions", params)
        found += [_dated(item) for item in reply.get("executions", [])]
        if not reply.get("nextToken"):
            break
        params["nextToken"] = reply["nextToken"]
    return found[: filters.limit]


def _dated(item: dict[str, Any]) -> dict[str, Any]:
    """Epoch seconds (the wire's form) as datetimes, as botocore gives them."""
    for key in ("startDate", "stopDate", "redriveDate"):
        if isinstance(item.get(key), int | float):
            item[key] = datetime.fromtimestamp(item[key], tz=UTC)
    return item


def _matches(item: dict[str, Any], filters: Filters) -> bool:
    if filters.name_prefix and not str(item.get("name", "")).startswith(filters.name_prefix):
        return False
    started = item.get("startDate")
    if isinstance(started, datetime):
        if filters.started_after and started < _aware(filters.started_after):
            return False
        if filters.started_before and started >= _aware(filters.started_before):
            return False
    return True

"""GetExecutionHistory: stepq's history events in Step Functions' shapes.

The core records an event as ``{id, type, timestamp, previousEventId,
details}`` with plain values (``runtime/ports.Store.history``). Step
Functions puts the details of each type under its own member
(``taskScheduledEventDetails``, ``stateEnteredEventDetails`` for every
``<Type>StateEntered``, ...), carries data as JSON *text* with a
``truncated`` flag beside it, and names a service integration's resource by
type and action. Which members exist is read from botocore's model, so every
event type the core emits maps onto a member the boto3 client parses, and a
detail the model has no place for is left out rather than sent unread.

One type is stepq's own: ``RequestAuditRecorded`` (a line of a request's
audit trail, docs/PEOPLE.md). Its details go under
``requestAuditRecordedEventDetails`` for readers of the raw JSON, and, since
botocore drops a member its model does not know (boto3 and the AWS CLI would
show the type with no details), also as JSON text in the ``output`` of
``taskSubmittedEventDetails`` (resourceType ``stepq``, resource ``audit``),
a member botocore parses whatever the type.
"""

from __future__ import annotations

import json
from functools import cache
from typing import Any

from stepq.api import listing, paging
from stepq.api.context import ApiContext
from stepq.api.executions import load_execution
from stepq.api.model import service_model
from stepq.api.protocol import epoch
from stepq.api.registry import operation
from stepq.core.interpreter import AUDIT_EVENT

_INTEGRATION = "arn:aws:states:::"
# Data members: JSON text, with a "<member>Details" {"truncated": ...} beside them.
_DATA = ("input", "output")
AUDIT_MEMBER = "requestAuditRecordedEventDetails"  # not in botocore's model: raw JSON only
AUDIT_CARRIER = "taskSubmittedEventDetails"  # where boto3 finds the audit line


@cache
def detail_members() -> dict[str, dict[str, str]]:
    """Each details member of ``HistoryEvent`` -> {its members: their botocore types}."""
    shape = service_model().shape_for("HistoryEvent")
    return {
        name: {m: s.type_name for m, s in member.members.items()}
        for name, member in shape.members.items()
        if name.endswith("EventDetails")
    }


@cache
def details_member(event_type: str) -> str | None:
    """Where ``event_type``'s details go (None: the type carries none in Step Functions)."""
    known = detail_members()
    own = event_type[:1].lower() + event_type[1:] + "EventDetails"
    if own in known:
        return own
    if event_type.endswith("StateEntered"):
        return "stateEnteredEventDetails"
    if event_type.endswith("StateExited"):
        return "stateExitedEventDetails"
    return None


def _json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def split_resource(resource: str) -> tuple[str, str]:
    """(resourceType, resource) as Step Functions shows a Task's resource:
    ``arn:aws:states:::lambda:invoke.waitForTaskToken`` -> (``lambda``,
    ``invoke.waitForTaskToken``); ``...:::aws-sdk:sqs:sendMessage`` ->
    (``aws-sdk:sqs``, ``sendMessage``); any other ARN -> (its service, itself)."""
    if resource.startswith(_INTEGRATION):
        kind, _, action = resource[len(_INTEGRATION) :].rpartition(":")
        return kind or action, action
    parts = resource.split(":")
    return (parts[2] if len(parts) > 2 and parts[2] else "unknown"), resource


def convert(
    ctx: ApiContext,
    event: dict[str, Any],
    *,
    include_data: bool = True,
    started: dict[str, str] | None = None,
) -> dict[str, Any]:
    """One stepq history event as a Step Functions ``HistoryEvent``."""
    event_type = str(event.get("type"))
    out: dict[str, Any] = {
        "timestamp": epoch(event["timestamp"]),
        "type": event_type,
        "id": int(event["id"]),
    }
    if event.get("previousEventId") is not None:
        out["previousEventId"] = int(event["previousEventId"])
    details = event.get("details") or {}
    if event_type == AUDIT_EVENT:
        return {**out, **audit_members(details, include_data=include_data)}
    member = details_member(event_type)
    if member is None:
        return out
    shape = detail_members()[member]
    body: dict[str, Any] = {}
    for name, type_name in shape.items():
        if name in _DATA:
            if include_data and name in details:
                body[name] = _json(details[name])
                body[f"{name}Details"] = {"truncated": False}
        elif name == "parameters":  # a required member: shown with or without data
            body[name] = _json(_parameters(details))
        elif name == "resourceType" and "resource" in details:
            body[name] = split_resource(str(details["resource"]))[0]
        elif name == "resource" and "resource" in details:
            whole = str(details["resource"])
            body[name] = split_resource(whole)[1] if "resourceType" in shape else whole
        elif name == "region":
            body[name] = ctx.arns.region
        elif name in ("stateMachineVersionArn", "stateMachineAliasArn"):
            if started and started.get(name):
                body[name] = started[name]
        elif name == "assignedVariables" and isinstance(details.get(name), dict):
            if include_data:
                body[name] = {k: _json(v) for k, v in details[name].items()}
                body["assignedVariablesDetails"] = {"truncated": False}
        elif name.endswith("Details") or name not in details or details[name] is None:
            continue
        elif type_name == "string":
            value = details[name]
            body[name] = value if isinstance(value, str) else _json(value)
        elif type_name in ("integer", "long") and isinstance(details[name], int | float):
            body[name] = int(details[name])
    out[member] = body
    return out


def audit_members(details: dict[str, Any], *, include_data: bool = True) -> dict[str, Any]:
    """An audit line's details, in both members (the module's docstring says why).
    Without execution data, ``detail`` (which may quote people's comments) is left out."""
    line = {k: details[k] for k in ("who", "what", "taskId", "detail") if k in details}
    if not include_data:
        line.pop("detail", None)
    carrier = {
        "resourceType": "stepq",
        "resource": "audit",
        "output": _json(line),
        "outputDetails": {"truncated": False},
    }
    return {AUDIT_MEMBER: line, AUDIT_CARRIER: carrier}


def _parameters(details: dict[str, Any]) -> Any:
    """A task's resolved Parameters: its input, or for ``lambda:invoke`` the
    Parameters besides the Payload (recorded apart) with the Payload put back."""
    rest = details.get("parameters")
    if isinstance(rest, dict):
        return {**rest, "Payload": details.get("input")}
    return details.get("input", {})


@operation("GetExecutionHistory")
def get_execution_history(ctx: ApiContext, params: dict[str, Any]) -> dict[str, Any]:
    arn = params.get("executionArn")
    header = load_execution(ctx, arn)
    reverse = bool(params.get("reverseOrder", False))
    include_data = bool(params.get("includeExecutionData", True))
    limit = paging.page_size(params.get("maxResults"))
    request = paging.fingerprint("GetExecutionHistory", header.execution_id, reverse)
    position = paging.read_token(params.get("nextToken"), request)
    start = 0
    if position is not None:
        start = position.get("i")  # type: ignore[assignment]
        if isinstance(start, bool) or not isinstance(start, int) or start < 0:
            raise paging.invalid_token(params.get("nextToken"))
    events = ctx.store.history(header.execution_id)
    if reverse:
        events.reverse()
    page = events[start : start + limit]
    started = None
    if any(e.get("type") == "ExecutionStarted" for e in page):
        doc = listing.started_doc(ctx, header.execution_id)
        started = None if doc is None else doc.model_dump(exclude_none=True)
    result: dict[str, Any] = {
        "events": [convert(ctx, e, include_data=include_data, started=started) for e in page]
    }
    if start + limit < len(events):
        result["nextToken"] = paging.make_token(request, {"i": start + limit})
    return result

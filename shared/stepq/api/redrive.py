"""RedriveExecution, and the redrive fields DescribeExecution and ListExecutions show.

A redrive is made synchronously (``Client.redrive``): the execution is
RUNNING again, with its new ``ExecutionRedriven`` event committed, when the
call returns. ``clientToken`` makes it idempotent: the planned redrive (its
count, commit and date) is kept in a ``redrive`` document under the
execution's ARN and the token before it is made, so the same token asked
again, even after a crash between the two writes, makes or finds that same
redrive and answers with the same ``redriveDate``. boto3 fills in a fresh
token on every call, as it does against AWS.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ValidationError

from stepq.api import arns as arn_rules
from stepq.api.context import ApiContext
from stepq.api.protocol import ApiError
from stepq.api.registry import operation
from stepq.errors import AlreadyExistsError, NotFoundError, NotRedrivableError
from stepq.runtime import codec
from stepq.runtime.client import Redrive, RedriveFacts
from stepq.runtime.ports import Commit, ExecutionHeader

REDRIVE_DOC = "redrive"  # catalog.py's table: key "<execution ARN>|<clientToken>"


class RedriveDoc(BaseModel):
    count: int
    seq: int
    at: str  # ISO-8601
    request: str


@operation("RedriveExecution")
def redrive_execution(ctx: ApiContext, params: dict[str, Any]) -> dict[str, Any]:
    arn = params["executionArn"]
    parsed = arn_rules.parse(arn, "execution", "express")
    ctx.arns.own(parsed, arn)
    if len(parsed.parts) != 2:
        raise ApiError("InvalidArn", f"Invalid Arn: '{arn}'")
    token = params.get("clientToken")
    try:
        ctx.store.get_execution(arn)
        if parsed.kind == "express":
            raise NotRedrivableError("Executions of EXPRESS state machines cannot be redriven")
        plan = _planned(ctx, arn, token) if token else ctx.client.plan_redrive(arn)
        made = ctx.client.redrive(plan)
    except NotFoundError:
        raise ApiError("ExecutionDoesNotExist", f"Execution Does Not Exist: '{arn}'") from None
    except NotRedrivableError as exc:
        raise ApiError("ExecutionNotRedrivable", str(exc)) from None
    if not made:  # another redrive was made first: the execution is running it
        raise ApiError("ExecutionNotRedrivable", "Execution is RUNNING and cannot be redriven")
    ctx.wake()
    return {"redriveDate": plan.at}


def _planned(ctx: ApiContext, arn: str, token: str) -> Redrive:
    """The redrive this token asked for before, else a new one, recorded under the token."""
    key = f"{arn}|{token}"
    for _ in range(2):
        doc = ctx.store.get_doc(REDRIVE_DOC, key)
        if doc is not None:
            try:
                kept = RedriveDoc.model_validate(doc.body)
            except ValidationError:
                break  # unreadable: plan anew under a fresh request
            at = codec.parse_instant(kept.at)
            assert at is not None
            return Redrive(arn, kept.count, kept.seq, at, kept.request)
        plan = ctx.client.plan_redrive(arn, token)
        body = RedriveDoc(
            count=plan.count, seq=plan.seq, at=codec.instant(plan.at) or "", request=token
        )
        try:
            ctx.store.put_doc(REDRIVE_DOC, key, body.model_dump(), None)
        except AlreadyExistsError:
            continue  # the same token, racing: use what the other call recorded
        return plan
    return ctx.client.plan_redrive(arn)


def describe_fields(ctx: ApiContext, header: ExecutionHeader) -> dict[str, Any]:
    """``fields_of`` the execution's newest commit (one read)."""
    try:
        latest = ctx.store.latest(header.execution_id)
    except NotFoundError:
        reason = f"Execution is {header.status} and cannot be redriven"
        return {"redriveCount": 0, "redriveStatus": "NOT_REDRIVABLE", "redriveStatusReason": reason}
    return fields_of(latest)


def fields_of(latest: Commit) -> dict[str, Any]:
    """``redriveCount``, ``redriveStatus`` (and ``redriveStatusReason``, ``redriveDate``).

    From the execution's newest commit, whose snapshot carries the redrive
    count and, for an unsuccessful end, the state a redrive starts from.
    """
    facts = RedriveFacts.of(latest)
    fields: dict[str, Any] = {"redriveCount": facts.count}
    if facts.time is not None:
        fields["redriveDate"] = facts.time
    if facts.reason is None:
        fields["redriveStatus"] = "REDRIVABLE"
    else:
        fields["redriveStatus"] = "NOT_REDRIVABLE"
        fields["redriveStatusReason"] = facts.reason
    return fields

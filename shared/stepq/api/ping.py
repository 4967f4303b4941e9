"""``Stepq.Ping``: is the API up, and which account and region does it serve."""

from __future__ import annotations

from typing import Any

from stepq.api.context import ApiContext
from stepq.api.registry import operation


@operation("Ping", stepq=True)
def ping(ctx: ApiContext, params: dict[str, Any]) -> dict[str, Any]:
    answer: dict[str, Any] = {"region": ctx.arns.region, "account": ctx.arns.account}
    if ctx.dev_identities:  # the console offers its "acting as" picker only then
        answer["devIdentities"] = True
    return answer

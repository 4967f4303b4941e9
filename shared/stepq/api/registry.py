"""Operations by name: ``@operation("StartExecution")`` registers one.

An operation is ``fn(ctx: ApiContext, params: dict) -> dict``: ``params`` is
the request body, already checked against botocore's input shape; the dict
returned is the response body (datetimes allowed; ``protocol`` encodes them).
It raises ``ApiError`` for anything the caller did wrong.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from stepq.api.context import ApiContext

Operation = Callable[["ApiContext", dict[str, Any]], dict[str, Any]]

OPERATIONS: dict[str, Operation] = {}  # "StartExecution" -> its function
STEPQ_OPERATIONS: dict[str, Operation] = {}  # stepq's own: "SearchExecutions" -> ...
# stepq operations that act as the caller: called fn(ctx, params, identity)
# (``api.identity.Identity`` or None when the request carries no identity).
WITH_IDENTITY: set[str] = set()


def operation(name: str, *, stepq: bool = False, identity: bool = False) -> Callable[[Any], Any]:
    """Register an operation; ``identity=True`` (stepq operations only) passes the caller."""
    table = STEPQ_OPERATIONS if stepq else OPERATIONS
    if identity and not stepq:
        raise RuntimeError(f"operation {name}: only stepq operations take the caller")

    def register(fn: Any) -> Any:
        if name in table:
            raise RuntimeError(f"operation {name} registered twice")
        table[name] = fn
        if identity:
            WITH_IDENTITY.add(name)
        return fn

    return register

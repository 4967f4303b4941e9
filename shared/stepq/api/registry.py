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


def operation(name: str, *, stepq: bool = False) -> Callable[[Operation], Operation]:
    table = STEPQ_OPERATIONS if stepq else OPERATIONS

    def register(fn: Operation) -> Operation:
        if name in table:
            raise RuntimeError(f"operation {name} registered twice")
        table[name] = fn
        return fn

    return register

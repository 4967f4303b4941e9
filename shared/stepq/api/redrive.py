"""RedriveExecution, and the redrive fields DescribeExecution and ListExecutions show."""

from __future__ import annotations

from typing import Any

from stepq.api.context import ApiContext
from stepq.runtime.ports import ExecutionHeader


def describe_fields(ctx: ApiContext, header: ExecutionHeader) -> dict[str, Any]:
    """``redriveCount``, ``redriveStatus`` (and ``redriveStatusReason``, ``redriveDate``)."""
    if header.status == "RUNNING":
        return {
            "redriveCount": 0,
            "redriveStatus": "NOT_REDRIVABLE",
            "redriveStatusReason": "Execution is RUNNING and cannot be redriven",
        }
    if header.status == "SUCCEEDED":
        return {
            "redriveCount": 0,
            "redriveStatus": "NOT_REDRIVABLE",
            "redriveStatusReason": "Execution is SUCCEEDED and cannot be redriven",
        }
    return {"redriveCount": 0, "redriveStatus": "REDRIVABLE"}

"""The JSON 1.0 wire protocol: what a request is, what a reply and an error look like.

A request is ``POST /`` with ``X-Amz-Target: AWSStepFunctions.<Operation>``
and ``Content-Type: application/x-amz-json-1.0``; the body is a JSON object.
An error is HTTP 400 (500 for ours, never on purpose) with
``{"__type": "<Name>", "message": "..."}``: botocore raises the exception class
of that name (``client.exceptions.ExecutionDoesNotExist``). Timestamps are
epoch seconds, as botocore's JSON parser expects.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from stepq.errors import StepqError

CONTENT_TYPE = "application/x-amz-json-1.0"
TARGET_PREFIX = "AWSStepFunctions."
# stepq's own operations (not in botocore's model), e.g. ``Stepq.SearchExecutions``.
STEPQ_PREFIX = "Stepq."
MAX_BODY_BYTES = 1024 * 1024  # Step Functions' request limit is about 1 MB too


@dataclass(slots=True)
class ApiRequest:
    method: str
    path: str
    headers: dict[str, str]  # lower-cased names
    body: bytes = b""
    # Who is calling (issue 12's identities; the server fills it in), if known.
    caller: str | None = None

    def header(self, name: str) -> str:
        return self.headers.get(name.lower(), "")


@dataclass(slots=True)
class ApiResponse:
    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=lambda: {"Content-Type": CONTENT_TYPE})


class ApiError(StepqError):
    """An error the caller gets in Step Functions' shape: ``code`` is the exception name."""

    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status


def error_response(error: ApiError, request_id: str = "") -> ApiResponse:
    body = json.dumps({"__type": error.code, "message": error.message}).encode()
    headers = {"Content-Type": CONTENT_TYPE, "x-amzn-ErrorType": error.code}
    if request_id:
        headers["x-amzn-RequestId"] = request_id
    return ApiResponse(error.status, body, headers)


def ok_response(data: dict[str, Any], request_id: str = "") -> ApiResponse:
    headers = {"Content-Type": CONTENT_TYPE}
    if request_id:
        headers["x-amzn-RequestId"] = request_id
    return ApiResponse(200, dumps(data).encode(), headers)


def dumps(data: Any) -> str:
    return json.dumps(data, default=_encode, separators=(",", ":"), allow_nan=False)


def _encode(value: Any) -> Any:
    if isinstance(value, datetime):
        return epoch(value)
    raise TypeError(f"not JSON: {type(value).__name__}")


def epoch(value: datetime | str) -> float:
    """A timestamp as botocore's JSON parser reads it: epoch seconds (millisecond precision)."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return math.floor(value.timestamp() * 1000) / 1000


def parse_body(body: bytes) -> dict[str, Any]:
    """The request's JSON object, or a SerializationException-like ValidationException."""
    if len(body) > MAX_BODY_BYTES:
        raise ApiError(
            "ValidationException",
            f"request body is {len(body)} bytes, over the {MAX_BODY_BYTES} byte limit",
            413,
        )
    if not body.strip():
        return {}
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ApiError("SerializationException", f"request body is not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ApiError("SerializationException", "request body must be a JSON object")
    return data

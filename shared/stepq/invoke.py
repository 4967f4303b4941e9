"""Step functions: plain Python callables ``fn(event, context)`` registered by name.

``invoke`` calls one the way Lambda would and reports the outcome the way
Step Functions sees it: a JSON result, or an error named after the exception
class with Lambda's JSON cause (errorMessage, errorType, requestId,
stackTrace). The registry is passed explicitly; there is no global one.
"""

from __future__ import annotations

import json
import traceback
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

StepFunction = Callable[[Any, Any], Any]

REGION = "us-east-1"
ACCOUNT = "111111111111"


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one invocation produced. ``delay_seconds`` is simulated run time."""

    output: Any = None
    error: str | None = None
    cause: str | None = None
    delay_seconds: float = 0.0

    @property
    def failed(self) -> bool:
        return self.error is not None


@dataclass(slots=True)
class InvocationContext:
    """The ``context`` argument a step receives (a subset of Lambda's)."""

    function_name: str
    aws_request_id: str
    idempotency_key: str = ""
    attempt: int = 0
    task_token: str | None = None
    # stepq's callback client (send_task_success/failure), where the host provides one.
    client: Any = None
    extra: dict[str, Any] = field(default_factory=dict)
    # Where the host offers it: call during a long step to say it is alive
    # (SendTaskHeartbeat for this task; it moves the HeartbeatSeconds deadline).
    heartbeat: Callable[[], None] | None = None


class SimulatedDelay(Exception):
    """Raised by a simulated step to say 'I ran for N seconds, then returned value'."""

    def __init__(self, seconds: float, value: Any) -> None:
        super().__init__(seconds)
        self.seconds = seconds
        self.value = value


def lambda_error_cause(error_type: str, message: str, request_id: str, stack: list[str]) -> str:
    # Python's Lambda runtime serialises with json.dumps defaults (", " and ": ").
    return json.dumps(
        {
            "errorMessage": message,
            "errorType": error_type,
            "requestId": request_id,
            "stackTrace": stack,
        }
    )


def not_found(name: str, request_id: str) -> Outcome:
    arn = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}:$LATEST"
    return Outcome(
        error="Lambda.ResourceNotFoundException",
        cause=(
            f"Function not found: {arn} (Service: AWSLambda; Status Code: 404; Error Code: "
            f"ResourceNotFoundException; Request ID: {request_id}; Proxy: null)"
        ),
    )


def decode_payload(raw: Any) -> Any:
    """Lambda returns bytes; Step Functions parses them as JSON when it can."""
    if isinstance(raw, bytes | bytearray):
        text = bytes(raw).decode("utf-8", errors="replace")
        try:
            return json.loads(text)
        except ValueError:
            return text
    return raw


def invoke(
    functions: Mapping[str, StepFunction],
    name: str | None,
    event: Any,
    *,
    request_id: str | None = None,
    context: InvocationContext | None = None,
) -> Outcome:
    request_id = request_id or str(uuid.uuid4())
    fn = functions.get(name or "")
    if fn is None:
        return not_found(name or "", request_id)
    ctx = context or InvocationContext(function_name=name or "", aws_request_id=request_id)
    delay = 0.0
    try:
        try:
            raw = fn(event, ctx)
        except SimulatedDelay as signal:
            delay, raw = signal.seconds, signal.value
        output = decode_payload(raw)
        json.dumps(output)  # a result must be JSON-serialisable, as Lambda's are
    except Exception as exc:  # a step's own failure is data, not a crash
        # A directly invoked Lambda function reports its own error name and cause.
        error_type = getattr(exc, "lambda_error", None) or type(exc).__name__
        stack = getattr(exc, "lambda_stack", None) or traceback.format_list(
            traceback.extract_tb(exc.__traceback__)[1:]
        )
        cause = getattr(exc, "lambda_cause", None) or lambda_error_cause(
            error_type, str(exc), request_id, stack
        )
        return Outcome(error=error_type, cause=cause, delay_seconds=delay)
    return Outcome(output=output, delay_seconds=delay)

"""The inbox: a queue that takes JSON messages from outside to start and resume executions.

A producer that cannot call the API (an EventBridge rule, another team's
service, a script with only ``sqs:SendMessage``) sends one JSON object per
message to the ``inbox`` queue; docs/API.md ("The inbox") is the reference::

    {"action": "StartExecution", "stateMachineArn": ARN, "name"?: str, "input"?: JSON}
    {"action": "StartExecution", "stateMachineName": "orders[:version|alias]", ...}
    {"action": "SendTaskSuccess", "taskToken": str, "output": JSON}
    {"action": "SendTaskFailure", "taskToken": str, "error"?: str, "cause"?: str}
    {"action": "SendTaskHeartbeat", "taskToken": str}

``input`` and ``output`` are a JSON value, or JSON text in a string (as the
API takes them). An EventBridge event is unwrapped: its ``detail`` is the
message, and its ``id`` the default execution name. Otherwise a start
without a name is named after the SQS message id, so a redelivered message
starts nothing twice.

Inbox messages are not signed (they come from outside): the queue's IAM
policy says who may send, and a callback's task token carries its own
signature, checked here before anything is sent on. A message that can
never be applied (not JSON, a schema error, an unknown machine, a bad token,
too large) is dead-lettered with its reason and deleted; an outage of the
store or a queue leaves it for redelivery. Starting needs the API's catalog
(machines, versions, aliases), which this layer may not import: the caller
passes a ``Starter`` (``stepq.api.inbox`` builds the real one).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictStr,
    TypeAdapter,
    ValidationError,
    model_validator,
)

from stepq.core.tokens import MAX_TOKEN_CHARS
from stepq.errors import MalformedMessageError, TaskNotOpenError
from stepq.runtime.batch import BatchResult
from stepq.runtime.client import Client
from stepq.runtime.open_tasks import open_task
from stepq.runtime.ports import Received, Store
from stepq.runtime.signing import Keys

log = logging.getLogger(__name__)

INBOX_QUEUE = "inbox"
MAX_PAYLOAD_BYTES = 256 * 1024  # Step Functions' limit for an input or a task output
MAX_ERROR_CHARS = 256  # SendTaskFailure's limits
MAX_CAUSE_CHARS = 32768
ACTIONS = ("StartExecution", "SendTaskSuccess", "SendTaskFailure", "SendTaskHeartbeat")

Token = Annotated[StrictStr, Field(min_length=1, max_length=MAX_TOKEN_CHARS)]


class _Message(BaseModel):
    # A misspelt field is an error, not silently a default (a start without its input).
    model_config = ConfigDict(extra="forbid", frozen=True)


class StartExecution(_Message):
    action: Literal["StartExecution"]
    stateMachineArn: Annotated[StrictStr, Field(min_length=1, max_length=2048)] | None = None
    stateMachineName: Annotated[StrictStr, Field(min_length=1, max_length=2048)] | None = None
    name: StrictStr | None = None  # checked as Step Functions checks names, where it is used
    input: Any = None

    @model_validator(mode="after")
    def _one_machine(self) -> StartExecution:
        if (self.stateMachineArn is None) == (self.stateMachineName is None):
            raise ValueError("give exactly one of stateMachineArn and stateMachineName")
        return self


class SendTaskSuccess(_Message):
    action: Literal["SendTaskSuccess"]
    taskToken: Token
    output: Any = Field(...)  # required, though JSON null is a value


class SendTaskFailure(_Message):
    action: Literal["SendTaskFailure"]
    taskToken: Token
    error: Annotated[StrictStr, Field(max_length=MAX_ERROR_CHARS)] | None = None
    cause: Annotated[StrictStr, Field(max_length=MAX_CAUSE_CHARS)] | None = None


class SendTaskHeartbeat(_Message):
    action: Literal["SendTaskHeartbeat"]
    taskToken: Token


InboxMessage = Annotated[
    StartExecution | SendTaskSuccess | SendTaskFailure | SendTaskHeartbeat,
    Field(discriminator="action"),
]
_ADAPTER: TypeAdapter[Any] = TypeAdapter(InboxMessage)

# (request, execution name, parsed input) -> the execution's ARN. Raises
# MalformedMessageError for a start that can never succeed (unknown machine,
# bad name, the name taken by another input); anything else is retried.
Starter = Callable[[StartExecution, str, Any], str]


def parse_message(received: Received) -> tuple[Any, str]:
    """The message and the default execution name; MalformedMessageError with the reason."""
    body = received.body
    if body is None:
        raise MalformedMessageError("not JSON: the message body must be a JSON object")
    try:  # JSON escapes can spell text no store or queue takes: a lone surrogate
        size = len(json.dumps(body, ensure_ascii=False).encode("utf-8"))
    except (UnicodeEncodeError, RecursionError):
        raise MalformedMessageError("not valid Unicode, or nested too deeply") from None
    if size > MAX_PAYLOAD_BYTES + 4096:  # room for the fields around an input
        raise MalformedMessageError(f"too large: over {MAX_PAYLOAD_BYTES} bytes")
    default_name = received.message_id
    if isinstance(body.get("detail"), dict) and "detail-type" in body:
        # An EventBridge event: its id is stable across EventBridge's own retries.
        default_name = str(body.get("id") or default_name)
        body = body["detail"]
    if body.get("action") not in ACTIONS:
        raise MalformedMessageError(f"field 'action' is missing or not one of {', '.join(ACTIONS)}")
    try:
        return _ADAPTER.validate_python(body), default_name
    except ValidationError as err:
        raise MalformedMessageError(f"schema: {_reason(err)}") from None


def _reason(err: ValidationError) -> str:
    problems = []
    for error in err.errors(include_url=False)[:3]:
        where = ".".join(str(part) for part in error["loc"][1:])  # [0] is the action's tag
        problems.append(f"{where}: {error['msg']}" if where else str(error["msg"]))
    return "; ".join(problems)


def json_value(value: Any, what: str) -> Any:
    """``value`` as the execution sees it: JSON text in a string is parsed, as the API does."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            raise MalformedMessageError(
                f"{what} is a string that is not JSON text (send a JSON value, or its text)"
            ) from None
    size = len(json.dumps(value, separators=(",", ":")).encode())
    if size > MAX_PAYLOAD_BYTES:
        raise MalformedMessageError(f"too large: {what} is {size} bytes, over {MAX_PAYLOAD_BYTES}")
    return value


class Inbox:
    """The inbox queue's batch handler (the pumps, ``stepq worker --role inbox``, Lambda)."""

    def __init__(self, store: Store, client: Client, start: Starter) -> None:
        self.store = store
        self.client = client
        self.start = start
        self._keys = Keys(store)

    def handle_batch(self, received: list[Received], *, raise_errors: bool = False) -> BatchResult:
        result = BatchResult()
        for message in received:
            try:
                request, default_name = parse_message(message)
                self.apply(request, default_name)
            except MalformedMessageError as exc:
                log.warning("inbox message %s dead-lettered: %s", message.message_id, exc)
                result.dead.append((message, str(exc)))
            except Exception:  # the store or a queue failed: the message comes back
                if raise_errors:
                    raise
                log.warning(
                    "inbox message %s left for redelivery", message.message_id, exc_info=True
                )
                result.failed.append(message)
        return result

    def apply(self, request: Any, default_name: str) -> str:
        """Apply one message; the execution ARN it started or resumed."""
        if isinstance(request, StartExecution):
            execution_input = json_value({} if request.input is None else request.input, "input")
            return self.start(request, request.name or default_name, execution_input)
        execution = self.check_token(request.taskToken)
        if isinstance(request, SendTaskSuccess):
            self.client.send_task_success(request.taskToken, json_value(request.output, "output"))
        elif isinstance(request, SendTaskFailure):
            self.client.send_task_failure(request.taskToken, request.error, request.cause)
        else:
            self.client.send_task_heartbeat(request.taskToken)
        return execution

    def check_token(self, token: str) -> str:
        """The ARN of the execution whose task waits for ``token``; MalformedMessageError else.

        Checked here because the sender never sees an error: a forged token, or
        one of a task that has closed, is dead-lettered with its reason (Step
        Functions' error name first) rather than dropped by the core as stale.
        """
        try:
            arn, _task = open_task(self.store, self._keys, token)
        except TaskNotOpenError as exc:
            raise MalformedMessageError(f"{exc.code}: {exc}") from None
        return arn

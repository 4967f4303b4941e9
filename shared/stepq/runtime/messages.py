"""Queue message bodies, with deterministic ids so consumers drop duplicates.

events queue:  {"v": 1, "id", "execution_id", "event": <codec event>}
               a start also carries "machine", "version", "name"
task queues:   {"v": 1, "id", "execution_id", "command": <codec RunTask>}
               optionally "after": {"seq", "snapshot"}: the commit that sent it,
               so the worker can record the result without reading it back
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from stepq.core import events as ev
from stepq.errors import MalformedMessageError
from stepq.runtime import codec
from stepq.runtime.ports import Message

T = TypeVar("T")

VERSION = 1
EVENTS_QUEUE = "events"


@dataclass(frozen=True, slots=True)
class EventMessage:
    id: str
    execution_id: str
    event: ev.Event
    machine: str | None = None
    version: int | None = None
    name: str | None = None


@dataclass(frozen=True, slots=True)
class TaskMessage:
    id: str
    execution_id: str
    command: ev.RunTask
    # The sending commit (seq, snapshot) when it was the execution's only
    # activity: probably still the newest, so recording the result may skip the
    # read (a wrong guess only fails the conditional write, then reads).
    after: tuple[int, dict[str, Any]] | None = None


def task_queue(function_name: str | None) -> str:
    """One queue per step function; names are sanitised to what SQS allows."""
    return "tasks-" + re.sub(r"[^A-Za-z0-9_-]", "-", function_name or "unknown")[:60]


def event_message(
    execution_id: str, event: ev.Event, message_id: str, *, delay: int = 0, **start: Any
) -> Message:
    body: dict[str, Any] = {
        "v": VERSION,
        "id": message_id,
        "execution_id": execution_id,
        "event": codec.encode_event(event),
    }
    body.update({k: v for k, v in start.items() if v is not None})
    return Message(id=message_id, body=body, delay_seconds=delay)


def task_message(
    execution_id: str, command: ev.RunTask, after: tuple[int, dict[str, Any]] | None = None
) -> Message:
    message_id = f"task|{execution_id}|{command.task_id}"
    body: dict[str, Any] = {
        "v": VERSION,
        "id": message_id,
        "execution_id": execution_id,
        "command": codec.encode_command(command),
    }
    if after is not None:
        body["after"] = {"seq": after[0], "snapshot": after[1]}
    return Message(id=message_id, body=body)


def _require(body: Any, key: str, kind: type | tuple[type, ...]) -> Any:
    if not isinstance(body, dict):
        raise MalformedMessageError("the message body is not a JSON object")
    value = body.get(key)
    if not isinstance(value, kind):
        raise MalformedMessageError(
            f"field {key!r} is missing or not a {getattr(kind, '__name__', kind)}"
        )
    return value


def _envelope(body: Any, key: str, decode: Callable[[dict[str, Any]], T]) -> tuple[str, str, T]:
    """The id, the execution id and the decoded ``key`` field every message carries."""
    message_id = _require(body, "id", str)
    execution_id = _require(body, "execution_id", str)
    try:
        value = decode(_require(body, key, dict))
    except (TypeError, ValueError) as exc:
        raise MalformedMessageError(f"field {key!r} is not a valid {key}: {exc}") from None
    return message_id, execution_id, value


def parse_event(body: Any) -> EventMessage:
    message_id, execution_id, event = _envelope(body, "event", codec.decode_event)
    version = body.get("version")
    return EventMessage(
        message_id,
        execution_id,
        event,
        machine=body.get("machine"),
        version=version if isinstance(version, int) else None,
        name=body.get("name"),
    )


def parse_task(body: Any) -> TaskMessage:
    message_id, execution_id, command = _envelope(body, "command", codec.decode_command)
    if not isinstance(command, ev.RunTask):
        raise MalformedMessageError("field 'command' is not a RunTask")
    after = body.get("after")
    carried = None  # only a hint: a malformed one is ignored, never fatal
    if (
        isinstance(after, dict)
        and isinstance(after.get("seq"), int)
        and isinstance(after.get("snapshot"), dict)
    ):
        carried = (after["seq"], after["snapshot"])
    return TaskMessage(message_id, execution_id, command, carried)

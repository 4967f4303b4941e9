"""Queue message bodies, with deterministic ids so consumers drop duplicates.

events queue:  {"v": 1, "id", "execution_id", "event": <codec event>}
               a start also carries "machine", "version", "name"
task queues:   {"v": 1, "id", "execution_id", "command": <codec RunTask>}
               (an activity's tasks, the same body, wait on ``activity_queue(name)``)
               optionally "after": {"seq", "snapshot"}: the commit that sent it,
               so the worker can record the result without reading it back;
               "resent": true when recovery sent it again (the worker checks
               the task is still outstanding before running it)

``parse_event`` and ``parse_task`` check a body against the pydantic models
below (``EventBody``, ``TaskBody``; the event and command inside are
``codec``'s wire models) before anything is built from it, so a body with a
field of the wrong type is refused at once: ``MalformedMessageError`` with a
reason naming the field, which the batch handlers dead-letter.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from stepq.core import events as ev
from stepq.errors import MalformedMessageError
from stepq.runtime import codec
from stepq.runtime.ports import Message

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
    # Sent back from the dead-letter queue (poison.DeadLetterSweeper): a redelivery.
    redriven: bool = False


@dataclass(frozen=True, slots=True)
class TaskMessage:
    id: str
    execution_id: str
    command: ev.RunTask
    # The sending commit (seq, snapshot) when it was the execution's only
    # activity: probably still the newest, so recording the result may skip the
    # read (a wrong guess only fails the conditional write, then reads).
    after: tuple[int, dict[str, Any]] | None = None
    # Sent again by recovery (a redelivered message's commit, a reconcile): the
    # task may have run and been recorded already, so the worker checks first.
    resent: bool = False
    redriven: bool = False  # sent back from the dead-letter queue: a redelivery


def task_queue(function_name: str | None) -> str:
    """One queue per step function; names are sanitised to what SQS allows."""
    return "tasks-" + re.sub(r"[^A-Za-z0-9_-]", "-", function_name or "unknown")[:60]


ACTIVITY_QUEUE_PREFIX = "activity-"


def activity_queue(activity: str) -> str:
    """The queue an activity's tasks wait on for GetActivityTask (not a worker's).

    An activity name SQS cannot take as is (other characters, too long) gets
    a digest, so two names never share a queue.
    """
    clean = re.sub(r"[^A-Za-z0-9_-]", "-", activity)
    if clean == activity and len(activity) <= 50:
        return ACTIVITY_QUEUE_PREFIX + activity
    digest = hashlib.sha256(activity.encode()).hexdigest()[:10]
    return f"{ACTIVITY_QUEUE_PREFIX}{clean[:39]}-{digest}"


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
    execution_id: str,
    command: ev.RunTask,
    after: tuple[int, dict[str, Any]] | None = None,
    *,
    resent: bool = False,
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
    if resent:
        body["resent"] = True
    return Message(id=message_id, body=body)


# --- the wire form of a body ------------------------------------------------------


class _Body(BaseModel):
    # Unknown fields are ignored (a newer writer may add some); known ones are checked.
    model_config = ConfigDict(extra="ignore", frozen=True)

    id: codec.Text
    execution_id: codec.Text
    v: codec.OptInt = None
    redriven: Any = None  # how many times the DLQ sweeper sent it back (an int)

    @property
    def was_redriven(self) -> bool:
        return isinstance(self.redriven, int) and self.redriven > 0


class EventBody(_Body):
    """A body on the events queue."""

    event: codec.EventWire
    machine: codec.OptText = None
    version: codec.OptInt = None
    name: codec.OptText = None


class TaskBody(_Body):
    """A body on a task queue (``after`` is only a hint: see ``_carried``)."""

    command: codec.CommandWire
    after: Any = None
    resent: Any = None  # only ``true`` counts (see TaskMessage.resent)


def _checked(model: type[_Body], body: Any) -> Any:
    if not isinstance(body, dict):
        raise MalformedMessageError("the message body is not a JSON object")
    try:
        return model.model_validate(body)
    except ValidationError as err:
        raise MalformedMessageError(_reason(model, err)) from None


def _reason(model: type[_Body], err: ValidationError) -> str:
    """The first thing wrong with a body, naming its field."""
    error = err.errors(include_url=False)[0]
    name = str(error["loc"][0])
    field = model.model_fields[name]
    kind = next((m.name for m in field.metadata if isinstance(m, codec.Kind)), "value")
    wrong_type = error["type"] in ("missing", "model_attributes_type", "wire_type")
    if len(error["loc"]) == 1 and wrong_type:
        article = "an" if kind[0] in "aeiou" else "a"
        missing = "missing or " if field.is_required() else ""
        return f"field {name!r} is {missing}not {article} {kind}"
    if name in ("event", "command"):
        return f"field {name!r} is not a valid {name}: {codec.wire_fault(error, name)}"
    return f"field {codec.wire_fault(error, name)}"


def parse_event(body: Any) -> EventMessage:
    wire: EventBody = _checked(EventBody, body)
    return EventMessage(
        wire.id,
        wire.execution_id,
        codec.from_wire(wire.event),
        machine=wire.machine,
        version=wire.version,
        name=wire.name,
        redriven=wire.was_redriven,
    )


def parse_task(body: Any) -> TaskMessage:
    wire: TaskBody = _checked(TaskBody, body)
    command = codec.from_wire(wire.command)
    if not isinstance(command, ev.RunTask):
        raise MalformedMessageError("field 'command' is not a RunTask")
    return TaskMessage(
        wire.id,
        wire.execution_id,
        command,
        _carried(wire.after),
        resent=wire.resent is True,
        redriven=wire.was_redriven,
    )


def _carried(after: Any) -> tuple[int, dict[str, Any]] | None:
    """The commit a task message carries, if it has the shape the runtime writes.

    Only a hint: one of another shape is ignored, never fatal (the worker
    reads the execution instead).
    """
    if not isinstance(after, dict):
        return None
    seq, snapshot = after.get("seq"), after.get("snapshot")
    if not (isinstance(seq, int) and not isinstance(seq, bool) and isinstance(snapshot, dict)):
        return None
    timers = snapshot.get("task_timers", {})
    if not (
        isinstance(snapshot.get("state"), dict)
        and isinstance(snapshot.get("machine"), str)
        and isinstance(snapshot.get("version"), int)
        and isinstance(timers, dict)
    ):
        return None
    return seq, snapshot

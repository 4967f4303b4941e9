"""JSON-safe forms of the core's state, events and commands.

The snapshot written with each commit, and every queue message, go through
here; ``decode(encode(x)) == x`` for each type (a property test pins it).

Events and commands arrive from queues, so ``decode_event`` and
``decode_command`` check them against pydantic models of their wire form
before building anything: one model per class, generated from the core's
dataclass (a field the core adds is checked at once), told apart by
``type``. A value of the wrong type, text that is not valid Unicode (a lone
surrogate), an instant without a UTC offset: ``MalformedMessageError``
naming the field, never a ``TypeError`` later. Snapshots are the store's
own writes and are decoded without these checks.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, Any, Literal, Union, get_args, get_type_hints

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PlainValidator,
    TypeAdapter,
    ValidationError,
    create_model,
)
from pydantic_core import ErrorDetails, PydanticCustomError

from stepq.core import events as ev
from stepq.core.execution import ExecutionMeta, ExecutionState, Frame
from stepq.errors import MalformedMessageError


def _by_name(union: Any) -> dict[str, type]:
    """The classes of one of the core's unions (``ev.Event``, ``ev.Command``), by name."""
    return {cls.__name__: cls for cls in get_args(union)}


_EVENTS = _by_name(ev.Event)
_COMMANDS = _by_name(ev.Command)
_TIME_FIELDS = frozenset(
    {"at", "fire_at", "start_time", "entered_at", "stop_time", "timestamp", "redrive_time"}
)


def sortable_instant(value: str) -> str:
    """One fixed UTC form, so string order is time order whatever the offset notation."""
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return value
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def instant(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def parse_instant(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)


def _plain(obj: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        out[f.name] = instant(value) if isinstance(value, datetime) else value
    return out


def _build(cls: type, data: dict[str, Any]) -> Any:
    names = {f.name for f in dataclasses.fields(cls)}
    kwargs = {
        k: (parse_instant(v) if k in _TIME_FIELDS and isinstance(v, str) else v)
        for k, v in data.items()
        if k in names
    }
    return cls(**kwargs)


# --- the wire form of inbound events and commands ---------------------------------

# Instants a message may carry: any the clock can tell, with room for the
# timeouts the core adds to them (a year 9999 instant would overflow there).
MIN_INSTANT = datetime(1900, 1, 1, tzinfo=UTC)
MAX_INSTANT = datetime(9000, 1, 1, tzinfo=UTC)


@dataclasses.dataclass(frozen=True, slots=True)
class Kind:
    """What a wire field holds, as a reason names it ("a str", "a dict")."""

    name: str


def _wrong(problem: str, at: str = "", *, mistyped: bool = False) -> PydanticCustomError:
    """A value refused: of another type (``wire_type``) or of the right one (``wire_value``)."""
    kind = "wire_type" if mistyped else "wire_value"
    return PydanticCustomError(kind, "{problem}", {"problem": problem, "at": at})


def is_unicode(text: str) -> bool:
    """False for text holding a lone surrogate (JSON lets one in; UTF-8 can't carry it)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise _wrong("is not a str", mistyped=True)
    if not is_unicode(value):
        raise _wrong("is not valid Unicode (it holds a lone surrogate)")
    return value


def _int(value: Any) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    raise _wrong("is not an int", mistyped=True)


def _number(value: Any) -> float:
    # JSON has one number type: an int read back where a float was written is fine.
    if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
        return float(value)
    raise _wrong("is not a number", mistyped=True)


def _bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    raise _wrong("is not a bool", mistyped=True)


def _instant(value: Any) -> datetime:
    problem = "is not an ISO 8601 instant with a UTC offset"
    if not isinstance(value, str):
        raise _wrong(problem)
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise _wrong(problem) from None
    if parsed.tzinfo is None:
        raise _wrong(problem)
    if not MIN_INSTANT <= parsed < MAX_INSTANT:
        raise _wrong(f"is not between {MIN_INSTANT.year} and {MAX_INSTANT.year}")
    return parsed


def _json(value: Any) -> Any:
    # The fast, common case in C: plain JSON whose text UTF-8 can carry, and
    # without NaN or Infinity (queue_wire.encode_body refuses them: a result
    # holding one could be committed but never sent on).
    try:
        json.dumps(value, ensure_ascii=False, allow_nan=False).encode("utf-8")
    except RecursionError:
        raise _wrong("is nested too deeply") from None
    except (TypeError, ValueError):  # UnicodeEncodeError too
        at, problem = _json_fault(value)
        raise _wrong(problem, at) from None
    return value


def _json_fault(value: Any) -> tuple[str, str]:
    """Where in ``value`` (a path like ``[2].name``) it stops being JSON, and why."""
    todo: list[tuple[str, Any]] = [("", value)]
    seen: set[int] = set()
    while todo:
        at, item = todo.pop()
        if isinstance(item, str):
            if not is_unicode(item):
                return at, "is not valid Unicode (it holds a lone surrogate)"
        elif isinstance(item, dict | list):
            if id(item) in seen:
                return at, "refers to itself"
            seen.add(id(item))
            pairs = item.items() if isinstance(item, dict) else enumerate(item)
            for key, inner in pairs:
                if isinstance(item, list):
                    todo.append((f"{at}[{key}]", inner))
                elif isinstance(key, str) and is_unicode(key):
                    todo.append((f"{at}.{key}", inner))
                else:
                    return at, "has a key that is not valid Unicode text"
        elif isinstance(item, float) and not math.isfinite(item):
            return at, f"is {item}, not a JSON number"
        elif item is not None and not isinstance(item, bool | int | float):
            return at, f"holds a {type(item).__name__}, which is not JSON"
    return "", "is not JSON"


def _nullable(check: Callable[[Any], Any]) -> Callable[[Any], Any]:
    def checked(value: Any) -> Any:
        return None if value is None else check(value)

    return checked


# The wire types: each checks its value (no coercion: "5" stays not an int).
Text = Annotated[str, PlainValidator(_text), Kind("str")]
OptText = Annotated[str | None, PlainValidator(_nullable(_text)), Kind("str")]
Int = Annotated[int, PlainValidator(_int), Kind("int")]
OptInt = Annotated[int | None, PlainValidator(_nullable(_int)), Kind("int")]
OptNumber = Annotated[float | None, PlainValidator(_nullable(_number)), Kind("number")]
Bool = Annotated[bool, PlainValidator(_bool), Kind("bool")]
Instant = Annotated[datetime, PlainValidator(_instant), Kind("instant")]
OptInstant = Annotated[datetime | None, PlainValidator(_nullable(_instant)), Kind("instant")]
JsonValue = Annotated[Any, PlainValidator(_json), Kind("JSON value")]

# The core's field types -> their checked wire forms.
_WIRE_TYPES: dict[Any, Any] = {
    str: Text,
    str | None: OptText,
    int: Int,
    int | None: OptInt,
    float | None: OptNumber,
    bool: Bool,
    datetime: Instant,
    datetime | None: OptInstant,
    Any: JsonValue,
}
_WIRE_CONFIG = ConfigDict(extra="ignore", frozen=True)


def wire_model(cls: type) -> type[BaseModel]:
    """A pydantic model of ``cls``'s JSON form: its fields checked, tagged ``type``."""
    hints = get_type_hints(cls)
    fields: dict[str, Any] = {"type": (Literal[cls.__name__], ...)}
    for f in dataclasses.fields(cls):
        required = f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
        fields[f.name] = (_WIRE_TYPES[hints[f.name]], ... if required else f.default)
    return create_model(f"{cls.__name__}Wire", __config__=_WIRE_CONFIG, **fields)


def _tagged(classes: dict[str, type]) -> Any:
    models = tuple(wire_model(cls) for cls in classes.values())
    return Annotated[Union[models], Field(discriminator="type"), Kind("dict")]  # noqa: UP007


EventWire = _tagged(_EVENTS)
CommandWire = _tagged(_COMMANDS)
_EVENT_WIRE: TypeAdapter[Any] = TypeAdapter(EventWire)
_COMMAND_WIRE: TypeAdapter[Any] = TypeAdapter(CommandWire)
_TAGS = frozenset(_EVENTS) | frozenset(_COMMANDS)
_CORE = {**_EVENTS, **_COMMANDS}


def from_wire(wire: BaseModel) -> Any:
    """The core's event or command a checked wire model stands for."""
    values = dict(wire)
    return _CORE[values.pop("type")](**values)


def wire_fault(error: ErrorDetails, kind: str) -> str:
    """One pydantic error inside an event or command (``kind``), as a short reason:
    ``'task_id' is not a str``, ``'type' is missing``, ``unknown event type 'X'``."""
    ctx = error.get("ctx") or {}
    if error["type"] == "union_tag_invalid":
        return f"unknown {kind} type {_clip(repr(ctx.get('tag')))}"
    loc = [str(p) for p in error["loc"] if p not in _TAGS]
    if error["type"] == "union_tag_not_found":
        loc.append("type")
    where = ".".join(loc) + str(ctx.get("at", ""))
    if error["type"] in ("missing", "union_tag_not_found"):
        problem = "is missing"
    elif error["type"] in ("wire_type", "wire_value"):
        problem = str(ctx["problem"])
    elif error["type"] == "model_attributes_type":
        problem = "is not a JSON object"
    else:
        problem = error["msg"]
    return f"{_clip(repr(where))} {problem}" if where else f"it {problem}"


def _clip(text: str, limit: int = 120) -> str:
    """Caller-supplied text quoted in a reason: short, and always valid Unicode."""
    text = text if len(text) <= limit else text[: limit - 3] + "..."
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def _decode(adapter: TypeAdapter[Any], data: Any, kind: str) -> Any:
    try:
        return from_wire(adapter.validate_python(data))
    except ValidationError as err:
        reason = wire_fault(err.errors(include_url=False)[0], kind)
        raise MalformedMessageError(f"not a valid {kind}: {reason}") from None


def encode_event(event: ev.Event) -> dict[str, Any]:
    return {"type": type(event).__name__, **_plain(event)}


def decode_event(data: Any) -> ev.Event:
    """The event ``data`` encodes; ``MalformedMessageError`` naming the bad field if none."""
    event: ev.Event = _decode(_EVENT_WIRE, data, "event")
    return event


def encode_command(command: ev.Command) -> dict[str, Any]:
    return {"type": type(command).__name__, **_plain(command)}


def decode_command(data: Any) -> ev.Command:
    """The command ``data`` encodes; ``MalformedMessageError`` naming the bad field if none."""
    command: ev.Command = _decode(_COMMAND_WIRE, data, "command")
    return command


def encode_history(event: ev.HistoryEvent) -> dict[str, Any]:
    return event.to_dict()


def encode_state(state: ExecutionState) -> dict[str, Any]:
    data = _plain(state)
    data["meta"] = _plain(state.meta)
    # The token secret never leaves the process: the applier derives it again on
    # load (runtime/signing.py), so snapshots in task messages and DLQs hold none.
    data["meta"].pop("token_secret", None)
    data["frames"] = _encode_frames(state.frames)
    # A redrive's fields only when set: every other snapshot stays as it was.
    if state.halted:
        data["halted"] = _encode_frames(state.halted)
    else:
        del data["halted"]
    for name in ("redrive_count", "redrive_time"):
        if not data[name]:
            del data[name]
    return data


def _encode_frames(frames: dict[str, Frame]) -> dict[str, Any]:
    out = {fid: _plain(frame) for fid, frame in frames.items()}
    for frame in out.values():
        frame["retries"] = {str(k): v for k, v in frame["retries"].items()}
    return out


def decode_state(data: dict[str, Any]) -> ExecutionState:
    fields = {k: v for k, v in data.items() if k not in ("frames", "halted")}
    fields["meta"] = _build(ExecutionMeta, data["meta"])
    state = _build(ExecutionState, fields)
    state.frames = _decode_frames(data.get("frames", {}))
    state.halted = _decode_frames(data.get("halted") or {})
    return state


def _decode_frames(data: dict[str, Any]) -> dict[str, Frame]:
    frames = {}
    for fid, raw in data.items():
        frame = _build(Frame, raw)
        frame.retries = {int(k): v for k, v in raw.get("retries", {}).items()}
        frames[fid] = frame
    return frames

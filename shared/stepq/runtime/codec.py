"""JSON-safe forms of the core's state, events and commands.

The snapshot written with each commit, and every queue message, go through
here; ``decode(encode(x)) == x`` for each type (a property test pins it).
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from typing import Any, get_args

from stepq.core import events as ev
from stepq.core.execution import ExecutionMeta, ExecutionState, Frame


def _by_name(union: Any) -> dict[str, type]:
    """The classes of one of the core's unions (``ev.Event``, ``ev.Command``), by name."""
    return {cls.__name__: cls for cls in get_args(union)}


_EVENTS = _by_name(ev.Event)
_COMMANDS = _by_name(ev.Command)
_TIME_FIELDS = frozenset({"at", "fire_at", "start_time", "entered_at", "stop_time", "timestamp"})


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


def encode_event(event: ev.Event) -> dict[str, Any]:
    return {"type": type(event).__name__, **_plain(event)}


def decode_event(data: dict[str, Any]) -> ev.Event:
    kind = data.get("type")
    cls = _EVENTS.get(kind) if isinstance(kind, str) else None
    if cls is None:
        raise ValueError(f"unknown event type {kind!r}")
    return _build(cls, data)


def encode_command(command: ev.Command) -> dict[str, Any]:
    return {"type": type(command).__name__, **_plain(command)}


def decode_command(data: dict[str, Any]) -> ev.Command:
    cls = _COMMANDS.get(data.get("type", ""))
    if cls is None:
        raise ValueError(f"unknown command type {data.get('type')!r}")
    return _build(cls, data)


def encode_history(event: ev.HistoryEvent) -> dict[str, Any]:
    return event.to_dict()


def encode_state(state: ExecutionState) -> dict[str, Any]:
    data = _plain(state)
    data["meta"] = _plain(state.meta)
    data["frames"] = {fid: _plain(frame) for fid, frame in state.frames.items()}
    for frame in data["frames"].values():
        frame["retries"] = {str(k): v for k, v in frame["retries"].items()}
    return data


def decode_state(data: dict[str, Any]) -> ExecutionState:
    fields = {k: v for k, v in data.items() if k != "frames"}
    fields["meta"] = _build(ExecutionMeta, data["meta"])
    state = _build(ExecutionState, fields)
    frames = {}
    for fid, raw in data.get("frames", {}).items():
        frame = _build(Frame, raw)
        frame.retries = {int(k): v for k, v in raw.get("retries", {}).items()}
        frames[fid] = frame
    state.frames = frames
    return state

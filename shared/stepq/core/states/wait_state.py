"""Wait: Seconds, SecondsPath, Timestamp, TimestampPath (and JSONata forms)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from stepq.core import dataflow
from stepq.core.failures import runtime_error
from stepq.core.states.common import pass_through

if TYPE_CHECKING:
    from stepq.core.execution import Frame
    from stepq.core.states.context import RunContext

# ISO-8601 extended offset date-time, as Java's ISO_OFFSET_DATE_TIME accepts it.
_TIMESTAMP = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?(Z|[+-]\d{2}:\d{2})$"
)


def parse_timestamp(text: Any) -> datetime | None:
    if not isinstance(text, str):
        return None
    match = _TIMESTAMP.match(text)
    if not match:
        return None
    year, month, day, hour, minute, second, fraction, zone = match.groups()
    try:
        tz = UTC
        if zone != "Z":
            sign = 1 if zone[0] == "+" else -1
            tz = __import__("datetime").timezone(
                sign * timedelta(hours=int(zone[1:3]), minutes=int(zone[4:6]))
            )
        micro = int((fraction or "0").ljust(6, "0")[:6])
        return datetime(
            int(year),
            int(month),
            int(day),
            int(hour),
            int(minute),
            int(second or 0),
            micro,
            tzinfo=tz,
        )
    except ValueError:
        return None


class WaitState:
    def enter(self, run: RunContext, frame: Frame, state: dict[str, Any]) -> None:
        run.entered(frame, state)
        if run.is_jsonata(state):
            due = self._due_jsonata(run, frame, state)
            output = pass_through(run, frame, state, frame.input)
        else:
            data = run.input_path(frame, state)
            due = self._due_jsonpath(run, frame, state, data)
            output = pass_through(run, frame, state, data)
        seconds = (due - run.now).total_seconds()
        if seconds <= 0:
            run.exit_state(frame, state, output)
            return
        frame.scratch["output"] = output
        run.start_timer(frame, "wait", seconds)

    def timer_fired(self, run: RunContext, frame: Frame, state: dict[str, Any]) -> None:
        run.exit_state(frame, state, frame.scratch.get("output"))

    def _due_jsonpath(
        self, run: RunContext, frame: Frame, state: dict[str, Any], data: Any
    ) -> datetime:
        if "Seconds" in state:
            return run.now + timedelta(seconds=state["Seconds"])
        if "Timestamp" in state:
            stamp = parse_timestamp(state["Timestamp"])
            if stamp is None:
                raise runtime_error(
                    f"The Timestamp field is not a valid timestamp: {state['Timestamp']}"
                )
            return stamp
        if "SecondsPath" in state:
            path = state["SecondsPath"]
            value = run.read(frame, data, path)
            if isinstance(value, bool) or not isinstance(value, int | float) or value != int(value):
                raise runtime_error(
                    f"The SecondsPath parameter cannot be parsed as a long value: {path} == {_show(value)}"
                )
            if value < 0:
                raise runtime_error(
                    f"The SecondsPath parameter references a negative value: {path} == {_show(value)}"
                )
            return run.now + timedelta(seconds=int(value))
        path = state["TimestampPath"]
        value = run.read(frame, data, path)
        stamp = parse_timestamp(value)
        if stamp is None:
            raise runtime_error(
                "The TimestampPath parameter does not reference a valid ISO-8601 extended offset "
                f"date-time format string: {path} == {_show(value)}"
            )
        return stamp

    def _due_jsonata(self, run: RunContext, frame: Frame, state: dict[str, Any]) -> datetime:
        env = run.jsonata_env(frame, run.context(frame), frame.input)
        if "Seconds" in state:
            raw = state["Seconds"]
            value = dataflow.evaluate(raw, env, "Seconds") if isinstance(raw, str) else raw
            if (
                isinstance(value, bool)
                or not isinstance(value, int | float)
                or value != int(value)
                or value < 0
            ):
                raise dataflow.unexpected_type(_expr(raw), "Seconds", "integer", value)
            return run.now + timedelta(seconds=int(value))
        raw = state["Timestamp"]
        value = (
            dataflow.evaluate(raw, env, "Timestamp")
            if isinstance(raw, str) and raw.startswith("{%")
            else raw
        )
        stamp = parse_timestamp(value)
        if stamp is None:
            raise dataflow.unexpected_type(_expr(raw), "Timestamp", "timestamp", value)
        return stamp


def _expr(raw: Any) -> str:
    return (
        raw[2:-2].strip()
        if isinstance(raw, str) and raw.startswith("{%")
        else dataflow.to_json(raw)
    )


def _show(value: Any) -> str:
    return value if isinstance(value, str) else dataflow.to_json(value)

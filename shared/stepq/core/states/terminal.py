"""Succeed and Fail: the states that end a frame."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from stepq.core import dataflow, intrinsics, jsonpath
from stepq.core.failures import runtime_error
from stepq.core.states.common import pass_through

if TYPE_CHECKING:
    from stepq.core.execution import Frame
    from stepq.core.states.context import RunContext


class SucceedState:
    def enter(self, run: RunContext, frame: Frame, state: dict[str, Any]) -> None:
        run.entered(frame, state)
        data = frame.input if run.is_jsonata(state) else run.input_path(frame, state)
        run.exit_state(frame, state, pass_through(run, frame, state, data))


class FailState:
    def enter(self, run: RunContext, frame: Frame, state: dict[str, Any]) -> None:
        run.entered(frame, state)
        error = self._field(run, frame, state, "Error")
        cause = self._field(run, frame, state, "Cause")
        run.fail_frame(frame, error, cause)

    def _field(self, run: RunContext, frame: Frame, state: dict[str, Any], name: str) -> str | None:
        if run.is_jsonata(state):
            if name not in state:
                return None
            env = run.jsonata_env(frame, run.context(frame), frame.input)
            value = dataflow.evaluate(state[name], env, name)
            return value if isinstance(value, str) or value is None else dataflow.to_json(value)
        if name in state:
            return state[name]
        path = state.get(f"{name}Path")
        if path is None:
            return None
        ctx, variables = run.context(frame), run.variables(frame)
        if path.startswith("States."):
            value = intrinsics.evaluate(path, frame.input, ctx, variables)
        else:
            try:
                value = dataflow.read_reference(path, frame.input, ctx, variables)
            except jsonpath.PathNotFoundError:
                raise runtime_error(
                    f"The JSONPath '{path}' specified for the field '{name}Path' could not be found "
                    f"in the input '{dataflow.to_json(frame.input)}'"
                ) from None
        return value if isinstance(value, str) or value is None else dataflow.to_json(value)

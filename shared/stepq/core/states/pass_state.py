from __future__ import annotations

from typing import TYPE_CHECKING, Any

from stepq.core.states.common import effective_input, finish_with_result

if TYPE_CHECKING:
    from stepq.core.execution import Frame
    from stepq.core.states.context import RunContext


class PassState:
    def enter(self, run: RunContext, frame: Frame, state: dict[str, Any]) -> None:
        run.entered(frame, state)
        if run.is_jsonata(state):
            finish_with_result(run, frame, state, frame.input)
            return
        if "Result" in state:
            result = state["Result"]
        else:
            result = effective_input(run, frame, state, run.context(frame), "Parameters")
        finish_with_result(run, frame, state, result, selector=False)

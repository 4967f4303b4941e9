"""Parallel: every branch gets the same input; results come in branch order."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from stepq.core.machine import branch_scope
from stepq.core.states.children import ParentState
from stepq.core.states.common import effective_input

if TYPE_CHECKING:
    from stepq.core.execution import Frame
    from stepq.core.states.context import RunContext


class ParallelState(ParentState):
    def launch(self, run: RunContext, frame: Frame, state: dict[str, Any]) -> None:
        branch_input = effective_input(run, frame, state, run.context(frame), "Parameters")
        branches = state.get("Branches", [])
        run.emit("ParallelStateStarted")
        frame.children = {"results": [None] * len(branches), "pending": len(branches)}
        if not branches:
            self._succeed(run, frame, state)
            return
        for index in range(len(branches)):
            run.new_frame(branch_scope(frame.scope, frame.state, index), branch_input, frame, index)

    def child_succeeded(
        self, run: RunContext, frame: Frame, state: dict[str, Any], slot: int, output: Any
    ) -> None:
        children = self._collect(frame, slot, output)
        children["pending"] -= 1
        if children["pending"] == 0:
            self._succeed(run, frame, state)

    def child_failed(
        self,
        run: RunContext,
        frame: Frame,
        state: dict[str, Any],
        slot: int,
        error: str | None,
        cause: str | None,
    ) -> None:
        self._abandon(run, frame, state, error, cause)
        run.state_failed(frame, state, error, cause)

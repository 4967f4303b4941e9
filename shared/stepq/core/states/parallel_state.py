"""Parallel: every branch gets the same input; results come in branch order."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from stepq.core.machine import branch_scope
from stepq.core.states.children import ParentState, restore
from stepq.core.states.common import effective_input

if TYPE_CHECKING:
    from stepq.core.execution import Frame
    from stepq.core.states.context import RunContext


class ParallelState(ParentState):
    def launch(self, run: RunContext, frame: Frame, state: dict[str, Any]) -> None:
        branch_input = effective_input(run, frame, state, run.context(frame), "Parameters")
        branches = state.get("Branches", [])
        run.emit("ParallelStateStarted")
        kept, outputs = restore(run, frame, len(branches))  # a redrive: the branches that succeeded
        results: list[Any] = [None] * len(branches)
        for slot, output in zip(kept, outputs, strict=True):
            results[slot] = output
        frame.children = {"results": results, "pending": len(branches) - len(kept)}
        if not frame.children["pending"]:
            self._succeed(run, frame, state)
            return
        for index in sorted(set(range(len(branches))) - set(kept)):
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
        self._abandon(run, frame, state, error, cause, [slot])
        run.state_failed(frame, state, error, cause)

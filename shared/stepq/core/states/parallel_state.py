"""Parallel: every branch gets the same input; results come in branch order."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from stepq.core.machine import branch_scope
from stepq.core.states.common import effective_input, finish_with_result

if TYPE_CHECKING:
    from stepq.core.execution import Frame
    from stepq.core.interpreter import Run


class ParallelState:
    def enter(self, run: Run, frame: Frame, state: dict[str, Any]) -> None:
        run.entered(frame, state)
        self.launch(run, frame, state)

    def retry(self, run: Run, frame: Frame, state: dict[str, Any]) -> None:
        self.launch(run, frame, state)

    def launch(self, run: Run, frame: Frame, state: dict[str, Any]) -> None:
        branch_input = effective_input(run, frame, state, run.context(frame), "Parameters")
        branches = state.get("Branches", [])
        run.emit("ParallelStateStarted")
        frame.children = {"results": [None] * len(branches), "pending": len(branches)}
        if not branches:
            self._done(run, frame, state)
            return
        for index in range(len(branches)):
            run.new_frame(branch_scope(frame.scope, frame.state, index), branch_input, frame, index)

    def child_succeeded(
        self, run: Run, frame: Frame, state: dict[str, Any], slot: int, output: Any
    ) -> None:
        children = frame.children
        assert children is not None
        children["results"][slot] = output
        children["pending"] -= 1
        if children["pending"] == 0:
            self._done(run, frame, state)

    def child_failed(
        self,
        run: Run,
        frame: Frame,
        state: dict[str, Any],
        slot: int,
        error: str | None,
        cause: str | None,
    ) -> None:
        run.abort_children(frame)
        frame.children = None
        run.emit("ParallelStateFailed", error=error, cause=cause)
        run.state_failed(frame, state, error, cause)

    def _done(self, run: Run, frame: Frame, state: dict[str, Any]) -> None:
        assert frame.children is not None
        results = frame.children["results"]
        frame.children = None
        run.emit("ParallelStateSucceeded")
        finish_with_result(run, frame, state, results)

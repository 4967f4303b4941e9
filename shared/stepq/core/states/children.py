"""Child frames: what Parallel and Map share.

Each child (a Parallel branch, a Map iteration) walks its own frame, which
knows its slot; the parent keeps the bookkeeping in ``frame.children``, whose
``results`` list receives each child's output at its slot. Once every child
has succeeded that list is the state's result; a child failing for good takes
the state down with its remaining siblings. A host may hand in a
``HeldResults`` instead of the list (it keeps earlier outputs outside the
snapshot); it is asked for every output only once all are in, or when the
state fails for good.

A state that fails for good keeps the outputs of the children that had
succeeded in its frame's scratch (``SALVAGE``: slots and outputs). A Catch
or the next state drops it with the rest of the scratch; an execution that
fails keeps it in its halted frame, and a redrive relaunches only the other
slots (``restore``), as Step Functions redrives only the iterations and
branches that did not succeed.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from stepq.core.execution import HeldResults
from stepq.core.states.common import Launching, finish_with_result

if TYPE_CHECKING:
    from stepq.core.execution import Frame
    from stepq.core.states.context import RunContext


SALVAGE = "salvage"  # frame scratch: {"kept": [slot, ...], "outputs": [output, ...]}


class ParentState(Launching):
    """A state whose work is done by child frames, one a slot."""

    def _collect(self, frame: Frame, slot: int, output: Any) -> dict[str, Any]:
        """Keep a child's output at its slot; returns the bookkeeping."""
        children = frame.children
        assert children is not None
        children["results"][slot] = output
        return children

    def _succeed(self, run: RunContext, frame: Frame, state: dict[str, Any]) -> None:
        """Every child is done: the results, in slot order, are the state's result."""
        children = frame.children
        assert children is not None
        results = children["results"]
        if isinstance(results, HeldResults):
            results = results.complete()  # may stop the decision: the host decides it again
        frame.children = None
        self._closing(run, children, "Succeeded")
        run.emit(f"{state['Type']}StateSucceeded")
        finish_with_result(run, frame, state, results)

    def _abandon(
        self,
        run: RunContext,
        frame: Frame,
        state: dict[str, Any],
        error: str | None,
        cause: str | None,
        failed: Iterable[int],
    ) -> None:
        """A child failed for good: drop its siblings (cancelling their work).

        What the children that succeeded returned is kept for a redrive
        (``failed``: the slots that failed; running and unstarted ones are
        not kept either).
        """
        children = frame.children
        assert children is not None
        results = children["results"]
        if isinstance(results, HeldResults):
            results = results.complete()  # may stop the decision: the host decides it again
        launched = children.get("next", len(results))  # a Map starts its items in order
        left = set(failed) | {f.slot for f in run.s.frames.values() if f.parent == frame.id}
        kept = [slot for slot in range(launched) if slot not in left]
        if kept:
            frame.scratch[SALVAGE] = {"kept": kept, "outputs": [results[s] for s in kept]}
        run.abort_children(frame)
        frame.children = None
        self._closing(run, children, "Failed")
        run.emit(f"{state['Type']}StateFailed", error=error, cause=cause)

    def _closing(self, run: RunContext, children: dict[str, Any] | None, outcome: str) -> None:
        """Events a state type records before its own ``StateSucceeded``/``StateFailed``."""


def restore(run: RunContext, frame: Frame, width: int) -> tuple[list[int], list[Any]]:
    """On a redrive's relaunch: the slots kept when the state failed, and their outputs.

    Empty unless this decision redrives ``frame`` and it kept something for
    ``width`` children (the same input gives the same width; anything else
    reruns the state whole).
    """
    salvage = run.redriven.pop(frame.id, None)
    if not salvage:
        return [], []
    kept, outputs = salvage["kept"], salvage["outputs"]
    if len(kept) != len(outputs) or any(not 0 <= slot < width for slot in kept):
        return [], []
    return kept, outputs

"""Redrive: run again what a FAILED, ABORTED or TIMED_OUT execution left unfinished.

When an execution ends without succeeding, ``Run.finish`` keeps its frames as
they were (``ExecutionState.halted``). A ``RedriveRequested`` puts them back
and re-enters every *leaf* frame (one that no other frame waits on) at the
state it was in, with the input it had: a failed Task runs again (a new task,
a fresh retry count), a Wait waits again. A Map or Parallel state that
failed reruns only its iterations and branches that failed, were cut short
or never started, as Step Functions does: when it failed it kept the outputs
of those that succeeded (``SALVAGE`` in its frame's scratch; see
``states/children.py``), and its relaunch puts them back in their slots. A
rerun iteration or branch starts from its beginning. After a stop or a
timeout the tree is intact: the running branches and iterations are
re-entered where they were, the finished ones stay finished.
The execution keeps its history, gets an ``ExecutionRedriven`` event, and its
TimeoutSeconds starts again from the redrive.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from stepq.core.events import RedriveRequested
from stepq.core.execution import ABORTED, FAILED, RUNNING, TIMED_OUT, ExecutionState
from stepq.core.states.children import SALVAGE

if TYPE_CHECKING:
    from stepq.core.interpreter import Run

REDRIVABLE = frozenset({FAILED, ABORTED, TIMED_OUT})
# Step Functions refuses a redrive once the history holds this many events.
MAX_HISTORY_EVENTS = 24_999


def not_redrivable(state: ExecutionState) -> str | None:
    """Why ``state`` cannot be redriven (Step Functions' wording), or None if it can."""
    if state.status not in REDRIVABLE:
        return f"Execution is {state.status} and cannot be redriven"
    if not state.halted:  # ended before stepq kept what an end leaves unfinished
        return "Execution was started before the launch of RedriveExecution"
    if state.last_event_id >= MAX_HISTORY_EVENTS:
        return "Execution history event limit exceeded"
    return None


def redrive(run: Run, event: RedriveRequested) -> None:
    """Reopen the execution if ``event`` is its next redrive and it can be redriven."""
    s = run.s
    if event.count != s.redrive_count + 1 or not_redrivable(s) is not None:
        return  # decided already, overtaken by another redrive, or not allowed
    s.redrive_count = event.count
    s.redrive_time = event.at
    s.status, s.output, s.error, s.cause, s.stop_time = RUNNING, None, None, None, None
    s.frames, s.halted = s.halted, {}
    run.emit("ExecutionRedriven", redriveCount=s.redrive_count)
    run.execution_timeout()
    waited_on = {frame.parent for frame in s.frames.values()}
    for frame in s.frames.values():
        if frame.id not in waited_on:
            salvage = frame.scratch.get(SALVAGE)
            if salvage:
                run.redriven[frame.id] = salvage
            frame.scratch = {}
            frame.children = None
            run.ready.append(frame.id)

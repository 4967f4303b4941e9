"""One module per state type; ``HANDLERS`` maps ``Type`` to its handler.

Handlers see the run deciding them as a ``context.RunContext``; ``common``
and ``children`` hold what several state types share.
"""

from __future__ import annotations

from typing import Any

from stepq.core.states.choice_state import ChoiceState
from stepq.core.states.map_state import MapState
from stepq.core.states.parallel_state import ParallelState
from stepq.core.states.pass_state import PassState
from stepq.core.states.task_state import TaskState
from stepq.core.states.terminal import FailState, SucceedState
from stepq.core.states.wait_state import WaitState

HANDLERS: dict[str, Any] = {
    "Pass": PassState(),
    "Task": TaskState(),
    "Choice": ChoiceState(),
    "Wait": WaitState(),
    "Succeed": SucceedState(),
    "Fail": FailState(),
    "Parallel": ParallelState(),
    "Map": MapState(),
}

__all__ = ["HANDLERS"]

"""What a state handler may use of the run deciding it, and what a handler is.

The interpreter's ``Run`` satisfies ``RunContext``; the handlers in this
package are written against the protocol only, so they never import the
interpreter (which imports them).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol, runtime_checkable

from stepq.core.events import Command
from stepq.core.execution import ExecutionState, Frame


@runtime_checkable
class RunContext(Protocol):
    """One call of the decision function, as the state handlers see it."""

    s: ExecutionState  # the execution being decided (tasks, tokens, meta, last event id)
    now: datetime  # the instant of the event being decided
    commands: list[Command]  # what the host must do once the history is committed
    # Frame id -> what a failed Map/Parallel kept for a redrive (this decision only).
    redriven: dict[str, dict[str, Any]]

    # --- history and evaluation ----------------------------------------------

    def emit(self, kind: str, **details: Any) -> int: ...

    def is_jsonata(self, state: dict[str, Any]) -> bool: ...

    def context(
        self, frame: Frame, *, item: dict[str, Any] | None = None, token: str | None = None
    ) -> dict[str, Any]: ...

    def seed(self, frame: Frame) -> str: ...

    def variables(self, frame: Frame) -> dict[str, Any]: ...

    def jsonata_env(
        self, frame: Frame, ctx: dict[str, Any], state_input: Any, **extra: Any
    ) -> dict[str, Any]: ...

    def read(self, frame: Frame, data: Any, path: str) -> Any: ...

    def input_path(self, frame: Frame, state: dict[str, Any]) -> Any: ...

    def output_path(self, frame: Frame, state: dict[str, Any], data: Any) -> Any: ...

    def assign(self, frame: Frame, values: dict[str, Any]) -> None: ...

    # --- frames, outcomes and timers -----------------------------------------

    def new_frame(
        self, scope: str, state_input: Any, parent: Frame | None, slot: int = 0
    ) -> Frame: ...

    def entered(self, frame: Frame, state: dict[str, Any]) -> None: ...

    def exit_state(self, frame: Frame, state: dict[str, Any], output: Any) -> None: ...

    def goto(self, frame: Frame, next_state: str, output: Any) -> None: ...

    def fail_frame(self, frame: Frame, error: str | None, cause: str | None) -> None: ...

    def abort_children(self, parent: Frame) -> list[Frame]: ...

    def state_failed(
        self, frame: Frame, state: dict[str, Any], error: str | None, cause: str | None
    ) -> None: ...

    def start_timer(self, frame: Frame, purpose: str, seconds: float) -> str: ...


class StateHandler(Protocol):
    """One state type. Only ``enter`` is required; the rest by capability.

    The interpreter looks the others up by name: ``retry`` and ``timer_fired``
    (a timer of the frame fired), ``child_succeeded`` / ``child_failed`` (a
    Parallel branch or Map iteration ended), ``task_succeeded``,
    ``task_failed``, ``task_timed_out``, ``task_heartbeat``,
    ``callback_succeeded`` and ``callback_failed`` (news of the frame's task).
    """

    def enter(self, run: RunContext, frame: Frame, state: dict[str, Any]) -> None: ...

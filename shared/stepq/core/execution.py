"""The execution state that the decision function folds history into.

It is plain data (dicts, lists, strings, numbers, datetimes) so a runtime can
store it as a snapshot beside the history: loading it costs the same at
transition 5 and at transition 5,000.

A *frame* is one thread of control walking one ``States`` scope: the top
level, a Parallel branch, or a Map iteration.

A host that keeps a wide Map's child outputs outside the snapshot hands the
core a ``HeldResults`` in their place; the core asks it for the full list
only when the last child is done (``ResultsNeeded`` until the host has
filled it in), so the core itself never reads anything.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

RUNNING = "RUNNING"
SUCCEEDED = "SUCCEEDED"
FAILED = "FAILED"
TIMED_OUT = "TIMED_OUT"
ABORTED = "ABORTED"


@dataclass(slots=True)
class Frame:
    id: str
    scope: str
    state: str
    input: Any
    parent: str | None = None
    slot: int = 0
    entered_id: int = 0
    entered_at: datetime | None = None
    # What the current state computed before it blocked (effective input, ...).
    scratch: dict[str, Any] = field(default_factory=dict)
    retries: dict[int, int] = field(default_factory=dict)
    retry_count: int = 0
    variables: dict[str, Any] = field(default_factory=dict)
    item: dict[str, Any] | None = None
    # Where the frame sits, whatever order events were decided in: its parent's
    # ``origin``, the parent's visit that made it and its slot ("/3.0/1.7"), and
    # how many states it has entered. A step's idempotency key is made of these,
    # so a step decided again in another order (after a lost commit) keeps it.
    origin: str = ""
    visits: int = 0
    # For Map/Parallel parents: child bookkeeping.
    children: dict[str, Any] | None = None


@dataclass(slots=True)
class HeldResults:
    """A parent state's child outputs, by slot, most of them kept by the host.

    Stands in for the ``results`` list of ``Frame.children``: the outputs
    decided since the host loaded the state go to ``new``; the ones recorded
    before are the host's (``where`` is its own note of where, opaque to the
    core), and it fills ``earlier`` with them (every slot, in order) when the
    core needs them all.
    """

    frame: str
    size: int
    where: dict[str, Any]
    new: dict[int, Any] = field(default_factory=dict)
    earlier: list[Any] | None = None

    def __setitem__(self, slot: int, output: Any) -> None:
        self.new[slot] = output

    def __len__(self) -> int:
        return self.size

    def complete(self) -> list[Any]:
        """Every output in slot order; ``ResultsNeeded`` until ``earlier`` is filled in."""
        if self.earlier is None:
            raise ResultsNeeded(self)
        results = list(self.earlier)
        for slot, output in self.new.items():
            results[slot] = output
        return results


class ResultsNeeded(Exception):
    """Raised out of ``decide`` when a ``HeldResults`` must be filled in first.

    Not an error: the host reads the outputs it holds, fills
    ``held.earlier`` in and decides the same events again (a decision has no
    side effects, so starting it over is safe).
    """

    def __init__(self, held: HeldResults) -> None:
        super().__init__(f"the outputs of frame {held.frame}'s children are needed")
        self.held = held


@dataclass(slots=True)
class ExecutionMeta:
    execution_arn: str
    name: str
    state_machine_arn: str
    state_machine_name: str
    role_arn: str
    start_time: datetime
    input: Any = None
    # Keys this execution's task tokens (stepq.core.tokens). The durable runtime
    # derives one from its signing key on every load (never stored in a snapshot); None falls back to a key derived from the ARN and
    # start time, fit only for in-process runs. Kept out of repr (and logs).
    token_secret: str | None = field(default=None, repr=False)


@dataclass(slots=True)
class ExecutionState:
    meta: ExecutionMeta
    status: str = RUNNING
    output: Any = None
    error: str | None = None
    cause: str | None = None
    last_event_id: int = 0
    next_frame: int = 1
    frames: dict[str, Frame] = field(default_factory=dict)
    # task id -> frame id, timer id -> frame id, callback token -> task id
    tasks: dict[str, str] = field(default_factory=dict)
    timers: dict[str, str] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)
    stop_time: datetime | None = None
    # What an unsuccessful end left unfinished (the frames as they were when it
    # ended), kept so RedriveExecution can run it again (core/redrive.py).
    halted: dict[str, Frame] = field(default_factory=dict)
    redrive_count: int = 0
    redrive_time: datetime | None = None

    def copy(self) -> ExecutionState:
        return copy.deepcopy(self)

    @property
    def done(self) -> bool:
        return self.status != RUNNING


def new_execution(
    *,
    name: str,
    state_machine_name: str,
    start_time: datetime,
    region: str = "us-east-1",
    account: str = "111111111111",
    token_secret: str | None = None,
) -> ExecutionState:
    sm_arn = f"arn:aws:states:{region}:{account}:stateMachine:{state_machine_name}"
    meta = ExecutionMeta(
        execution_arn=f"arn:aws:states:{region}:{account}:execution:{state_machine_name}:{name}",
        name=name,
        state_machine_arn=sm_arn,
        state_machine_name=state_machine_name,
        role_arn=f"arn:aws:iam::{account}:role/stepq-{state_machine_name}",
        start_time=start_time,
        token_secret=token_secret,
    )
    return ExecutionState(meta=meta)


def public_context(context: dict[str, Any]) -> dict[str, Any]:
    """The context object as ``$$`` shows it: without the engine's private keys
    (``__seed__``, from which intrinsics and JSONata draw UUIDs and randoms)."""
    if not any(k.startswith("__") for k in context):
        return context
    return {k: v for k, v in context.items() if not k.startswith("__")}

"""How the applier runs: account and region, task routing, timer delays, the inline budget."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from stepq.runtime.messages import task_queue

MAX_SQS_DELAY = 900  # longer waits live in the store's timers index


@dataclass(slots=True)
class RuntimeConfig:
    region: str = "us-east-1"
    account: str = "111111111111"
    # Embedded runs that skip time keep every timer in the store, where the
    # scheduler can jump the clock to it.
    sqs_delays: bool = True
    max_sqs_delay: int = MAX_SQS_DELAY
    route: Callable[[str | None], str] = field(default=task_queue)
    # Group commit: at most this many steps, for at most this long, run
    # inline before the commit that records them.
    inline_steps: int = 64
    inline_seconds: float = 1.0

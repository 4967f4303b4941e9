"""``stepq bench lateness``: how late a Wait state fires on the embedded backend.

Real time (no skip_time): one execution per duration, all started together,
each a single Wait of that many seconds. The Wait travels as a delayed SQS
message (``DelaySeconds``); due = the WaitStateEntered timestamp + Seconds.
The history cannot show lateness: the orchestrator stamps WaitStateExited
with the timer's due time (replays must agree). So a wrapper around the
store's append reads the wall clock when the commit holding WaitStateExited
is written: lateness = that instant - due. Goal: within 1 s.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from stepq.clock import SystemClock


@dataclass(frozen=True, slots=True)
class Lateness:
    seconds: int
    entered: str
    exited: str
    late: float  # seconds after due (negative: early)


def wait_machine(seconds: int) -> dict[str, object]:
    return {
        "StartAt": "Pause",
        "States": {"Pause": {"Type": "Wait", "Seconds": seconds, "End": True}},
    }


def measure(history: list[dict[str, object]], seconds: int, fired: datetime) -> Lateness:
    """Lateness of the Wait in one execution's history, fired (committed) at ``fired``."""

    def stamp(kind: str) -> str:
        for event in history:
            if event.get("type") == kind:
                return str(event["timestamp"])
        raise ValueError(f"no {kind} in the history")

    entered = stamp("WaitStateEntered")
    due = datetime.fromisoformat(entered) + timedelta(seconds=seconds)
    return Lateness(seconds, entered, fired.isoformat(), (fired - due).total_seconds())


def _watch(store: Any, fired: dict[str, datetime]) -> None:
    """Record when each execution's WaitStateExited commit is written (wall clock)."""
    clock = SystemClock()
    append = store.append

    def watched(execution_id: str, commit: Any) -> None:
        append(execution_id, commit)
        if any(e.get("type") == "WaitStateExited" for e in commit.events):
            fired.setdefault(execution_id, clock.now())

    store.append = watched  # the runtime's store, as its loops call it


def run_lateness(
    waits: tuple[int, ...] = (2, 3, 4), log: Callable[[str], None] = print
) -> list[Lateness]:
    from stepq.hosting.embedded import EmbeddedRuntime

    results = []
    fired: dict[str, datetime] = {}
    with EmbeddedRuntime({}) as runtime:
        _watch(runtime.store, fired)
        started = []
        for index, seconds in enumerate(waits):
            name = f"wait_{index}"
            runtime.deploy(name, wait_machine(seconds))
            started.append((runtime.start(name, {}, name=f"late-{index}"), seconds))
        log(f"waiting for {len(waits)} Wait states ({', '.join(f'{s} s' for s in waits)}) ...")
        for arn, seconds in started:
            header = runtime.wait(arn, timeout=seconds + 60)
            if header.status != "SUCCEEDED":
                raise RuntimeError(f"{arn} ended {header.status}")
            results.append(measure(runtime.history(arn), seconds, fired[arn]))
    return results


def report_lines(results: list[Lateness]) -> list[str]:
    lines = [f"{'Wait':>6} {'entered':<32} {'fired (wall clock)':<32} {'late s':>7}"]
    for r in results:
        lines.append(f"{r.seconds:>5}s {r.entered:<32} {r.exited:<32} {r.late:>7.3f}")
    worst = max((r.late for r in results), default=float("nan"))
    lines.append(f"goal: within 1 s of due; worst {worst:.3f} s")
    lines.append(f"timer_lateness_max_seconds={worst:.3f}")
    return lines

"""What a written commit tells the metrics: executions started and ended, transitions,
retries decided, and the write itself.

Counted only after the conditional write succeeded, so each fact is counted
once: a redelivered message that decides nothing writes no commit and counts
nothing, and a writer that lost a race counts its conflict, not the events it
had decided (the winner counts those).
"""

from __future__ import annotations

from stepq.core import events as ev
from stepq.core.execution import ExecutionState
from stepq.runtime import metrics as m

RETRY_TIMER = ":retry:"  # the core's retry timers: "<frame>:retry:<event>:<attempt>"


def retries_of(decision: ev.Decision, state: ExecutionState) -> list[tuple[str, str]]:
    """(state name, error) of each retry ``decision`` scheduled (usually none)."""
    found: list[tuple[str, str]] = []
    for command in decision.commands:
        if type(command) is ev.StartTimer and RETRY_TIMER in command.timer_id:
            frame = state.frames.get(command.timer_id.split(":", 1)[0])
            found.append((frame.state if frame else "unknown", _error(decision.events)))
    return found


def _error(events: list[ev.HistoryEvent]) -> str:
    """The error the decision failed with: its newest event naming one."""
    for event in reversed(events):
        error = event.details.get("error")
        if error:
            return str(error)
    return "unknown"


def count_commit(
    metrics: m.Metrics,
    history: list[ev.HistoryEvent],
    retried: list[tuple[str, str]],
    write_ms: float,
) -> None:
    """One commit written: its facts, counted once."""
    metrics.count(m.CONDITIONAL_WRITES)
    metrics.timing(m.HISTORY_APPEND_LATENCY, write_ms)
    transitions = 0
    for event in history:
        kind = event.type
        if kind.endswith("StateEntered"):
            transitions += 1
        elif kind == "ExecutionStarted":
            metrics.count(m.EXECUTIONS_STARTED)
        elif kind in m.OUTCOMES:
            metrics.count(m.OUTCOMES[kind])
    if transitions:
        metrics.count(m.TRANSITIONS, transitions)
    for step, error in retried:
        metrics.count(m.TASK_RETRIES, step=step, error=error)


def count_conflict(metrics: m.Metrics) -> None:
    """A conditional write the store refused (another writer was first)."""
    metrics.count(m.CONDITIONAL_WRITES)
    metrics.count(m.CONDITIONAL_WRITE_CONFLICTS)

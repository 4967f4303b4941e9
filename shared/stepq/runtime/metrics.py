"""The metrics port: what the runtime counts and times, with no metrics library behind it.

The runtime states facts where it learns them (a commit written, a timer
fired late, a message dead-lettered) through ``Metrics``; the host decides
where they go. In Lambda that is CloudWatch EMF through Powertools
(``stepq.hosting.lambda_metrics``); everywhere else the default,
``NO_METRICS``, drops them. ``RecordingMetrics`` keeps them in memory (tests).

Dimensions given as keywords are *extra*: a host emits the metric both
without them (per service) and with them. ``step`` names, for
``TaskLatency``, the step function that ran (or the service a Task calls:
``sqs:sendMessage``) and, for ``TaskRetries``, the state whose ``Retry``
fired (a retry policy belongs to a state), with ``error`` the error it
retried; ``queue`` is a logical queue name (``events``, ``inbox``, ...).

The names and units are the deployment's contract (alarms and the dashboard
in ``infra/`` read them): change one only together with its readers.
"""

from __future__ import annotations

from collections import Counter
from typing import Protocol

__all__ = [
    "COUNTS",
    "NAMES",
    "NO_METRICS",
    "TIMINGS",
    "Metrics",
    "NoMetrics",
    "RecordingMetrics",
]

# Counts (unit Count)
EXECUTIONS_STARTED = "ExecutionsStarted"
EXECUTIONS_SUCCEEDED = "ExecutionsSucceeded"
EXECUTIONS_FAILED = "ExecutionsFailed"
EXECUTIONS_TIMED_OUT = "ExecutionsTimedOut"
EXECUTIONS_ABORTED = "ExecutionsAborted"
TRANSITIONS = "Transitions"
TASK_RETRIES = "TaskRetries"  # step=<state>, error=<error name>
CONDITIONAL_WRITES = "ConditionalWrites"
CONDITIONAL_WRITE_CONFLICTS = "ConditionalWriteConflicts"
DLQ_ARRIVALS = "DlqArrivals"  # queue=<logical queue name>
LEASE_EXPIRATIONS = "LeaseExpirations"
REPAIRS = "Repairs"

# Timings (unit Milliseconds)
TASK_LATENCY = "TaskLatency"  # step=<step function>
TIMER_LATENESS = "TimerLateness"
SCHEDULER_LAG = "SchedulerLag"
HISTORY_APPEND_LATENCY = "HistoryAppendLatency"

COUNTS = frozenset(
    {
        EXECUTIONS_STARTED,
        EXECUTIONS_SUCCEEDED,
        EXECUTIONS_FAILED,
        EXECUTIONS_TIMED_OUT,
        EXECUTIONS_ABORTED,
        TRANSITIONS,
        TASK_RETRIES,
        CONDITIONAL_WRITES,
        CONDITIONAL_WRITE_CONFLICTS,
        DLQ_ARRIVALS,
        LEASE_EXPIRATIONS,
        REPAIRS,
    }
)
TIMINGS = frozenset({TASK_LATENCY, TIMER_LATENESS, SCHEDULER_LAG, HISTORY_APPEND_LATENCY})
NAMES = COUNTS | TIMINGS  # every metric the runtime emits (an alarm may only name these)

# A history event that ends an execution -> the count it adds to.
OUTCOMES = {
    "ExecutionSucceeded": EXECUTIONS_SUCCEEDED,
    "ExecutionFailed": EXECUTIONS_FAILED,
    "ExecutionTimedOut": EXECUTIONS_TIMED_OUT,
    "ExecutionAborted": EXECUTIONS_ABORTED,
}


class Metrics(Protocol):
    """Where the runtime's facts go. Calls are on the hot path: keep them cheap."""

    def count(self, name: str, value: float = 1, **dims: str) -> None: ...
    def timing(self, name: str, ms: float, **dims: str) -> None: ...


class NoMetrics:
    """Drops everything (the embedded runtime, ``stepq worker``, tests that do not look)."""

    __slots__ = ()

    def count(self, name: str, value: float = 1, **dims: str) -> None:
        pass

    def timing(self, name: str, ms: float, **dims: str) -> None:
        pass


NO_METRICS = NoMetrics()

Key = tuple[str, tuple[tuple[str, str], ...]]


class RecordingMetrics:
    """Keeps every fact in memory: ``counts[(name, dims)]`` summed, ``timings`` in order."""

    def __init__(self) -> None:
        self.counts: Counter[Key] = Counter()
        self.timings: list[tuple[str, float, dict[str, str]]] = []

    def count(self, name: str, value: float = 1, **dims: str) -> None:
        self.counts[(name, tuple(sorted(dims.items())))] += value

    def timing(self, name: str, ms: float, **dims: str) -> None:
        self.timings.append((name, ms, dims))

    def total(self, name: str) -> float:
        """``name`` summed over every dimension value."""
        return sum(n for (metric, _), n in self.counts.items() if metric == name)

    def timed(self, name: str) -> list[float]:
        return [ms for metric, ms, _ in self.timings if metric == name]

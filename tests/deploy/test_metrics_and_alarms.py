"""Metrics the offline run emits (EMF on each function's stdout) and the alarms that watch them.

An alarm on a metric nobody emits never fires: every alarm in the Stepq
namespace must name a metric, with the same dimensions, that the run's EMF
output carries. ``KNOWN_FAILURES`` lists what does not hold yet, with why;
it can only shrink (an entry that holds now fails the test until removed).
"""

from __future__ import annotations

from typing import Any

from deploy.conftest import OfflineRun
from deploy.emf import Emitted, emitted

NAMESPACE = "Stepq"
# The contract's alarms on Stepq metrics: logical id -> (metric, service dimension).
STEPQ_ALARMS = {
    "AlarmSchedulerLag": ("SchedulerLag", "stepq-scheduler"),
    "AlarmTimerLateness": ("TimerLateness", "stepq-scheduler"),
}
# What this run must make someone emit: executions start and succeed, transitions
# commit, tasks run, a Wait's timer fires late (a day is skipped), the scheduler
# ticks, an inbox message is dead-lettered, and the reconcile re-sends quiet work.
RUN_METRICS = {
    "ExecutionsStarted",
    "ExecutionsSucceeded",
    "Transitions",
    "TaskLatency",
    "TimerLateness",
    "SchedulerLag",
    "HistoryAppendLatency",
    "ConditionalWrites",
    "DlqArrivals",
    "Repairs",
}

# What does not hold yet, with the reason; only ever shrinks.
KNOWN_FAILURES: dict[str, str] = {}


def _emitted(run: OfflineRun) -> dict[str, tuple[str, set[Emitted]]]:
    """Function -> (its service, what it emitted); workers share one service name."""
    return {k: (f.service, set(emitted(f.stdout))) for k, f in run.functions.items()}


def _alarm_failures(run: OfflineRun, everything: set[Emitted]) -> dict[str, str]:
    failures = {
        f"alarm {logical_id}": "not defined in template.yaml or infra/"
        for logical_id in STEPQ_ALARMS
        if logical_id not in run.alarms
    }
    for logical_id, alarm in run.alarms.items():
        for wanted in _watched(alarm):
            if wanted.namespace != NAMESPACE:
                continue
            if wanted not in everything:
                failures[f"alarm {logical_id}"] = f"{wanted} is never emitted"
            expected = STEPQ_ALARMS.get(logical_id)
            if expected and (wanted.name, dict(wanted.dimensions).get("service")) != expected:
                failures[f"alarm {logical_id}"] = f"watches {wanted}, the contract says {expected}"
    return failures


def _watched(alarm: dict[str, Any]) -> list[Emitted]:
    """The metrics an alarm reads: its own, or each MetricStat of its metric math."""
    metrics = [alarm] if alarm.get("MetricName") else []
    metrics += [q["MetricStat"]["Metric"] for q in alarm.get("Metrics", []) if "MetricStat" in q]
    return [
        Emitted(
            m.get("Namespace", ""),
            m["MetricName"],
            frozenset((d["Name"], d["Value"]) for d in m.get("Dimensions", [])),
        )
        for m in metrics
    ]


def _failures(run: OfflineRun) -> dict[str, str]:
    by_function = _emitted(run)
    everything: set[Emitted] = set().union(*(records for _, records in by_function.values()))
    failures: dict[str, str] = {}
    for logical_id, (service, records) in by_function.items():
        # The contract: namespace Stepq, default dimension service=<the function's service>.
        stray = {r for r in records if r.namespace != NAMESPACE}
        stray |= {r for r in records if ("service", service) not in r.dimensions}
        if stray:
            names = ", ".join(sorted(f"{r.namespace}/{r.name}" for r in stray))
            failures[f"emf {logical_id}"] = f"outside {NAMESPACE}/service={service}: {names}"
    emitted_names = {e.name for e in everything if e.namespace == NAMESPACE}
    failures.update({f"metric {m}": "not emitted" for m in RUN_METRICS - emitted_names})
    failures.update(_alarm_failures(run, everything))
    return failures


def test_alarms_watch_metrics_the_run_emits(offline_run: OfflineRun) -> None:
    failures = _failures(offline_run)
    new = {k: v for k, v in failures.items() if k not in KNOWN_FAILURES}
    fixed = sorted(set(KNOWN_FAILURES) - set(failures))
    message = ""
    if new:
        message += "failing:\n  " + "\n  ".join(f"{k}: {v}" for k, v in sorted(new.items()))
    if fixed:
        message += "\nholding now -- remove from KNOWN_FAILURES:\n  " + "\n  ".join(fixed)
    assert not message, message


def test_every_known_failure_says_why() -> None:
    for key, reason in KNOWN_FAILURES.items():
        assert key.split(" ", 1)[0] in ("alarm", "metric", "emf") and len(reason) > 20, key

"""Metrics the offline run emits (EMF on each function's stdout) and the alarms that watch them.

Each metric the runtime names must come out of the functions that decide
what it counts, in their OWN output (``EXPECTED``): a dashboard or alarm on
``service=stepq-orchestrator`` only sees what the orchestrator printed.
The run (claim_run.py, then outcomes_run.py) makes each happen: executions
start, succeed, fail, time out and are stopped, a Retry fires, a duplicated
delivery races a commit, a message's lease runs out, a timer fires late, an
inbox message is dead-lettered, and the reconcile re-sends quiet work.

An alarm on a metric nobody emits never fires: every alarm in the Stepq
namespace must name a metric, with the same dimensions, that the run's EMF
output carries. ``KNOWN_FAILURES`` lists what does not hold yet, with why;
it can only shrink (an entry that holds now fails the test until removed).
"""

from __future__ import annotations

from typing import Any

from stepq.runtime import metrics as m

from deploy.conftest import OfflineRun
from deploy.emf import Emitted, emitted

NAMESPACE = "Stepq"
# The contract's alarms on Stepq metrics: logical id -> (metric, service dimension).
STEPQ_ALARMS = {
    "AlarmSchedulerLag": ("SchedulerLag", "stepq-scheduler"),
    "AlarmTimerLateness": ("TimerLateness", "stepq-scheduler"),
}

API, INBOX, SCHEDULER = "ApiFunction", "InboxFunction", "SchedulerFunction"
ORCHESTRATOR, WORKER = "OrchestratorFunction", "WorkerFunction"
PAY_OUT_WORKER = "Slot0WorkerFunction"  # the worker of DedicatedStepFunctions' first name
COMMITTERS = (API, INBOX, ORCHESTRATOR, WORKER, PAY_OUT_WORKER)  # each writes history
# Metric -> function -> the dimensions, besides service, it must also be emitted with.
# Where each is decided in the run:
EXPECTED: dict[str, dict[str, tuple[str, ...]]] = {
    # StartExecution commits the start where it is received.
    m.EXECUTIONS_STARTED: {API: (), INBOX: ()},
    # pay_out's worker ends the claims; raced ends when the orchestrator fires its Wait.
    m.EXECUTIONS_SUCCEEDED: {PAY_OUT_WORKER: (), ORCHESTRATOR: ()},
    # retried's last attempt fails unhandled: the worker commits the failure.
    m.EXECUTIONS_FAILED: {WORKER: ()},
    # The timeout timer and StopExecution's StopRequested are events on the events queue.
    m.EXECUTIONS_TIMED_OUT: {ORCHESTRATOR: ()},
    m.EXECUTIONS_ABORTED: {ORCHESTRATOR: ()},
    m.TRANSITIONS: dict.fromkeys(COMMITTERS, ()),
    m.CONDITIONAL_WRITES: dict.fromkeys(COMMITTERS, ()),
    m.HISTORY_APPEND_LATENCY: dict.fromkeys(COMMITTERS, ()),
    # The duplicated delivery: the orchestrator instance that lost the commit race.
    m.CONDITIONAL_WRITE_CONFLICTS: {ORCHESTRATOR: ()},
    # ... and the instance that received it again (ApproximateReceiveCount 2).
    m.LEASE_EXPIRATIONS: {ORCHESTRATOR: ()},
    # Per step: WorkerFunction's held timings are written once the clock has moved on.
    m.TASK_LATENCY: {WORKER: ("step",), PAY_OUT_WORKER: ()},
    m.TASK_RETRIES: {WORKER: ("step", "error")},
    m.TIMER_LATENESS: {SCHEDULER: ()},
    m.SCHEDULER_LAG: {SCHEDULER: ()},
    m.REPAIRS: {SCHEDULER: ()},
    m.DLQ_ARRIVALS: {INBOX: ("queue",)},
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
            metric.get("Namespace", ""),
            metric["MetricName"],
            frozenset((d["Name"], d["Value"]) for d in metric.get("Dimensions", [])),
        )
        for metric in metrics
    ]


def _missing(by_function: dict[str, tuple[str, set[Emitted]]]) -> dict[str, str]:
    """``metric <name> in <function>`` -> what its own output lacks (``EXPECTED``)."""
    failures = {}
    for name, functions in sorted(EXPECTED.items()):
        for logical_id, extra in sorted(functions.items()):
            if logical_id not in by_function:
                failures[f"metric {name} in {logical_id}"] = "no such function in the stack"
                continue
            service, records = by_function[logical_id]
            sets = {
                frozenset(d for d, _ in r.dimensions)
                for r in records
                if r.namespace == NAMESPACE and r.name == name
            }
            wanted = [frozenset({"service"}), frozenset({"service", *extra})]
            lacking = [", ".join(sorted(w)) for w in wanted if w not in sets]
            if lacking:
                found = "; ".join(sorted(", ".join(sorted(d)) for d in sets)) or "nothing"
                missing = " nor ".join(f"[{d}]" for d in dict.fromkeys(lacking))
                failures[f"metric {name} in {logical_id}"] = (
                    f"{service} never emitted it with dimensions {missing} (found: {found})"
                )
    return failures


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
    failures.update(_missing(by_function))
    failures.update(_alarm_failures(run, everything))
    return failures


def test_each_function_emits_its_metrics_and_alarms_watch_emitted_ones(
    offline_run: OfflineRun,
) -> None:
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


def test_the_table_covers_every_metric_the_runtime_names() -> None:
    # The list (executions started ... repairs) is the runtime's names.
    assert set(EXPECTED) == m.NAMES, set(EXPECTED) ^ m.NAMES
    for name, functions in EXPECTED.items():
        assert functions, f"{name}: no function must emit it"

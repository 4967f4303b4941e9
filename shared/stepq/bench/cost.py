"""``stepq bench cost`` and ``stepq bench flat``: AWS requests and dollars per state transition.

The examples run on the embedded backend (moto in-process, time skipped)
while a ``Meter`` counts every request the runtime's clients make. What is
billed per transition, and what is not, is listed in ``docs/BENCHMARKS.md``:

- counted: the orchestrator's, worker's and scheduler's DynamoDB and SQS
  requests that did work, the client's start request, and one Lambda
  invocation per non-empty receive (a Lambda SQS event source invokes the
  function once per batch; its pollers' ReceiveMessage/DeleteMessageBatch
  calls are billed to the account like our pumps' calls);
- not counted: empty polls (a Lambda poller's empty long polls, and the
  scheduler's once-a-minute tick, cost the same whatever the traffic: a
  fixed monthly sum per deployment), the embedded backend's idle checks
  (GetQueueAttributes), the signing key's read and creation (once per
  process and per table: ``Store.signing_key``), and the benchmark's own
  status reads.

Lambda duration: 128 MB at a stated 50 ms per invocation (the measured
in-process figure is printed beside it; moto answers faster than AWS, so
the measured time understates a deployed handler).

Metrics: the runtime counts through ``EmfLogBytes``, which sizes the EMF
blobs each metered invocation (orchestrator, worker) would print in Lambda,
with the Lambda adapter's own serialisation (``hosting.lambda_metrics``);
their bytes (plus CloudWatch Logs' 26 per event) are billed as log
ingestion. Not counted: the scheduler's blob, one a minute whatever the
traffic (a fixed sum per deployment, like its ticks), and the API
function's for a start (a start's front door, paid per start, is not
counted here at all).
"""

from __future__ import annotations

import math
import threading
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from stepq.bench import prices as P
from stepq.bench.meter import Call, Invocation, Meter

SKIPPED_TIME = {"insurance_claim"}  # a one-day Wait and a three-day TimeoutSeconds
EXAMPLES: list[tuple[str, str, dict[str, Any]]] = [
    ("order_saga (happy)", "order_saga", {"order_id": "o-1", "amount": 42, "items": ["book"]}),
    (
        "order_saga (compensation)",
        "order_saga",
        {"order_id": "o-2", "amount": 42, "items": ["book"], "fail_at": "ship"},
    ),
    ("insurance_claim (approve)", "insurance_claim", {"policy": "P-100", "amount": 900}),
    ("data_pipeline", "data_pipeline", {"orders": 12}),
]


@dataclass
class Tally:
    """What one or more executions cost, summed."""

    transitions: int = 0
    requests: Counter[tuple[str, str]] = field(default_factory=Counter)  # (service, op) -> n
    excluded: Counter[str] = field(default_factory=Counter)  # why -> n
    sqs_requests: int = 0
    wru: float = 0.0
    rru: float = 0.0
    s3_put: int = 0
    s3_get: int = 0
    invocations: int = 0
    invocation_seconds: float = 0.0
    log_bytes: int = 0  # EMF printed by the metered invocations (CloudWatch Logs ingestion)

    def add(self, calls: Iterable[Call], invocations: Iterable[Invocation]) -> None:
        for call in calls:
            if not call.billable:
                self.excluded[f"{call.service} {call.operation} ({call.why_not})"] += 1
                continue
            self.requests[(call.service, call.operation)] += 1
            self.sqs_requests += call.sqs_requests
            self.wru += call.wru
            self.rru += call.rru
            if call.service == "s3":
                if call.operation in ("PutObject", "CopyObject", "ListObjectsV2"):
                    self.s3_put += 1
                else:
                    self.s3_get += 1
        for invocation in invocations:
            self.invocations += 1
            self.invocation_seconds += invocation.seconds

    def merge(self, other: Tally) -> None:
        self.transitions += other.transitions
        self.requests.update(other.requests)
        self.excluded.update(other.excluded)
        self.sqs_requests += other.sqs_requests
        self.wru += other.wru
        self.rru += other.rru
        self.s3_put += other.s3_put
        self.s3_get += other.s3_get
        self.invocations += other.invocations
        self.invocation_seconds += other.invocation_seconds
        self.log_bytes += other.log_bytes

    def by_service(self) -> dict[str, int]:
        totals: dict[str, int] = defaultdict(int)
        for (service, _), n in self.requests.items():
            totals[service] += n
        totals["lambda"] = self.invocations
        return dict(totals)

    def dollars(self, lambda_seconds: float | None = P.LAMBDA_STATED_SECONDS) -> dict[str, float]:
        """Cost by service; ``lambda_seconds=None`` uses the measured durations."""
        if lambda_seconds is None:
            seconds = self.invocation_seconds
        else:
            seconds = self.invocations * lambda_seconds
        # Lambda bills duration per started millisecond.
        billed = math.ceil(seconds * 1000) / 1000
        return {
            "dynamodb": self.wru * P.price("dynamodb_wru") + self.rru * P.price("dynamodb_rru"),
            "sqs": self.sqs_requests * P.price("sqs_request"),
            "lambda": self.invocations * P.price("lambda_request")
            + billed * P.LAMBDA_MEMORY_GB * P.price("lambda_gb_second"),
            "s3": self.s3_put * P.price("s3_put") + self.s3_get * P.price("s3_get"),
            "logs": self.log_bytes / P.GB * P.price("logs_ingested_gb"),
        }

    def per_million(self, lambda_seconds: float | None = P.LAMBDA_STATED_SECONDS) -> float:
        if not self.transitions:
            return math.nan
        return sum(self.dollars(lambda_seconds).values()) / self.transitions * 1e6


ROLE_SERVICES = {  # the metered roles -> the function (POWERTOOLS_SERVICE_NAME) doing it in AWS
    "orchestrator": "stepq-orchestrator",
    "worker": "stepq-worker",
}


class EmfMeter(Meter):
    """A ``Meter`` that also ends ``emf``'s invocation wherever it ends one."""

    emf: EmfLogBytes | None = None

    def end_invocation(self) -> None:
        super().end_invocation()
        if self.emf is not None:
            self.emf.end_invocation()


class EmfLogBytes:
    """The metrics port the benchmark gives the runtime: the EMF each metered Lambda
    invocation would print, in bytes, by label.

    Each role's thread stands for one warm function instance: its facts are
    gathered by the Lambda adapter (``EmfMetrics``, holding per-step timings as
    deployed) and, when the meter ends the thread's invocation (its next
    receive), serialised as the adapter prints them and sized. A client's
    start is not counted here: it is the API function's, whose invocation is
    not counted either (a start's front door is paid per start).
    """

    def __init__(self, meter: Meter) -> None:
        from stepq.hosting.lambda_metrics import HOLD_SECONDS, EmfMetrics  # the aws extra

        self._make = lambda metrics: EmfMetrics(metrics, hold_seconds=HOLD_SECONDS)
        self._meter = meter
        self._warm: dict[tuple[int, str], Any] = {}  # (thread, label) -> its EmfMetrics
        self._lock = threading.Lock()
        self.bytes: Counter[str] = Counter()
        self.blobs: Counter[str] = Counter()

    def count(self, name: str, value: float = 1, **dims: str) -> None:
        emf = self._current()
        if emf is not None:
            emf.count(name, value, **dims)

    def timing(self, name: str, ms: float, **dims: str) -> None:
        emf = self._current()
        if emf is not None:
            emf.timing(name, ms, **dims)

    def _current(self) -> Any:
        label, role = self._meter.label, self._meter.role()
        if not label or role not in ROLE_SERVICES:
            return None
        key = (threading.get_ident(), label)
        emf = self._warm.get(key)
        if emf is None:
            from aws_lambda_powertools.metrics import EphemeralMetrics

            emf = self._make(EphemeralMetrics(namespace="Stepq", service=ROLE_SERVICES[role]))
            with self._lock:
                self._warm[key] = emf
        return emf

    def end_invocation(self) -> None:
        """What this thread's invocation prints, sized."""
        with self._lock:
            mine = [(k, e) for k, e in self._warm.items() if k[0] == threading.get_ident()]
        for (_, label), emf in mine:
            self._size(label, emf.serialized())

    def end_run(self, label: str) -> None:
        """The run is over: every instance's last invocation, and what it still held."""
        with self._lock:
            ending = [(k, self._warm.pop(k)) for k in list(self._warm) if k[1] == label]
        for _, emf in ending:
            self._size(label, emf.serialized(everything=True))

    def _size(self, label: str, lines: list[str]) -> None:
        with self._lock:
            self.blobs[label] += len(lines)
            # CloudWatch Logs bills an event's bytes plus 26 (and Lambda adds a newline)
            self.bytes[label] += sum(len(line.encode()) + 27 for line in lines)


def count_transitions(history: Iterable[dict[str, Any]]) -> int:
    """State transitions as Step Functions bills them: states entered."""
    return sum(1 for e in history if str(e.get("type", "")).endswith("StateEntered"))


def run_example(
    meter: Meter,
    label: str,
    name: str,
    execution_input: Any,
    timeout: float = 300.0,
    copies: int = 1,
) -> Tally:
    """``copies`` executions at once on a fresh embedded backend, metered under ``label``.

    One copy is the worst case: every queue receive carries one message and
    every Lambda invocation handles one. Several copies at once let batches
    form (up to 10 messages per receive, per invocation and per send), as
    they do in a deployment under steady load.
    """
    from stepq.clock import monotonic
    from stepq.hosting.embedded import TABLE, EmbeddedRuntime
    from stepq.runtime.retention import DEFAULT_RETENTION_DAYS
    from stepq.testing import example

    clients: dict[str, Any] = {}
    emf = meter.emf if isinstance(meter, EmfMeter) else None

    def hook(service: str, client: Any) -> None:
        clients[service] = client
        meter.attach(client)

    definition, functions = example(name)
    # Real time, as deployed (delays up to 15 minutes ride on SQS DelaySeconds),
    # unless the workflow waits for days: then time is skipped and every delay
    # is a timer in the table, which costs a little more.
    skip_time = name in SKIPPED_TIME
    # Retention on, as deployed: every commit carries expires_at (its bytes count).
    with EmbeddedRuntime(
        functions, skip_time=skip_time, on_client=hook, retention_days=DEFAULT_RETENTION_DAYS
    ) as runtime:
        meter.describe(clients["dynamodb"], TABLE)  # the runtime has made the table
        runtime.deploy(name, definition)
        if emf is not None:  # one RuntimeConfig: orchestrator, worker, client starts
            runtime.orchestrator.config.metrics = emf
        meter.label = label
        with meter.as_role("client"):
            arns = [runtime.start(name, execution_input, name=f"bench-{i}") for i in range(copies)]
        headers = [runtime.wait(arn, timeout=timeout) for arn in arns]
        # Let the last message be deleted before the meter stops listening.
        deadline = monotonic() + 2.0
        while monotonic() < deadline and not runtime.quiet():
            runtime.pause(0.01)
        runtime.pause(0.1)
        meter.label = ""
        if emf is not None:
            emf.end_run(label)
        histories = [runtime.history(arn) for arn in arns]
    tally = Tally(transitions=sum(count_transitions(h) for h in histories))
    tally.log_bytes = emf.bytes[label] if emf is not None else 0
    tally.add(
        (c for c in meter.calls if c.label == label),
        (i for i in meter.invocations if i.label == label),
    )
    for header in headers:
        if header.status not in ("SUCCEEDED", "FAILED"):
            raise RuntimeError(f"{label}: ended {header.status}")
    return tally


def run_cost(
    examples: list[tuple[str, str, dict[str, Any]]] | None = None,
    log: Callable[[str], None] = print,
    meter: Meter | None = None,
    copies: int = 1,
) -> tuple[dict[str, Tally], Tally]:
    if meter is None:
        meter = EmfMeter()
        try:
            meter.emf = EmfLogBytes(meter)
        except ImportError:
            log("warning: aws-lambda-powertools is missing: EMF log bytes are not counted")
    results: dict[str, Tally] = {}
    overall = Tally()
    for label, name, execution_input in examples or EXAMPLES:
        log(f"running {label} ...")
        tally = run_example(meter, label, name, execution_input, copies=copies)
        results[label] = tally
        overall.merge(tally)
    for fault in meter.faults:
        log(f"warning: a call was not metered: {fault}")
    return results, overall


def report_lines(results: dict[str, Tally], overall: Tally) -> list[str]:
    lines = [f"AWS list prices, {P.REGION}, as of {P.PRICES_DATE}:"]
    for key, text, source in P.price_table():
        lines.append(f"  {key:<17} {text:<40} {source}")
    lines.append("")
    services = ["dynamodb", "sqs", "lambda", "s3"]
    header = f"{'execution':<27} {'trans':>5} " + " ".join(f"{s + '/t':>10}" for s in services)
    header += f" {'WRU/t':>6} {'RRU/t':>6} {'EMF B/t':>7} {'$/M (50ms)':>11} {'$/M (meas.)':>11}"
    lines.append("requests per state transition, by service (billed calls only):")
    lines.append(header)
    for label, tally in [*results.items(), ("OVERALL", overall)]:
        t = max(tally.transitions, 1)
        per = tally.by_service()
        row = f"{label:<27} {tally.transitions:>5} "
        row += " ".join(f"{per.get(s, 0) / t:>10.2f}" for s in services)
        row += f" {tally.wru / t:>6.2f} {tally.rru / t:>6.2f} {tally.log_bytes / t:>7.1f}"
        row += f" {tally.per_million():>11.4f} {tally.per_million(None):>11.4f}"
        lines.append(row)
    lines.append("")
    lines.append("overall requests per transition by operation:")
    t = max(overall.transitions, 1)
    for (service, op), n in sorted(overall.requests.items()):
        lines.append(f"  {service:<9} {op:<20} {n / t:7.3f}")
    lines.append(
        f"  lambda    {'Invoke':<20} {overall.invocations / t:7.3f}"
        f"   (measured mean {1000 * overall.invocation_seconds / max(overall.invocations, 1):.1f} ms,"
        f" billed at a stated {1000 * P.LAMBDA_STATED_SECONDS:.0f} ms, {P.LAMBDA_MEMORY_GB * 1024:.0f} MB)"
    )
    lines.append("not counted (fixed per deployment, or embedded-only):")
    for why, n in sorted(overall.excluded.items()):
        lines.append(f"  {why}: {n}")
    lines.append(
        "  logs: the API function's EMF for a start (~0.5 KB, per start); the scheduler's "
        "(one a minute); Lambda's own START/END/REPORT lines (the same with metrics or "
        "without; a function logging in JSON at system log level WARN sends none)"
    )
    dollars = overall.dollars()
    lines.append(
        "overall $ per million transitions by service: "
        + ", ".join(f"{s} {dollars[s] / t * 1e6:.4f}" for s in [*services, "logs"])
        + f"  (logs: {overall.log_bytes / t:.1f} bytes of EMF per transition)"
    )
    lines.append(
        f"goal <= $1.00 per million transitions (Step Functions Standard: "
        f"${P.STEP_FUNCTIONS_STANDARD_PER_MILLION:.2f})"
    )
    lines.append(f"cost_per_million_transitions_usd={overall.per_million():.4f}")
    return lines

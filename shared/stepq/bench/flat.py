"""``stepq bench flat``: does transition 5,000 cost what transition 5 costs?

A Choice + Task loop runs ``iterations`` times on the embedded backend,
stepped in this thread (no loop threads: each step is attributable). One
*cycle* is one poll of the orchestrator and the worker: after the start,
the worker runs the task it received, commits the result with the next
Choice and Task (two transitions) and sends that task. The runtime runs
with ``inline_steps=0`` so each turn commits on its own (by default the
worker would run many turns inline per commit, which is cheaper still but
makes turns incomparable). The meter reads how many
StateEntered events each commit holds, so a cycle is labelled with the
transition numbers it committed, and the cycle holding transition ``early``
is compared with the one holding the last transition of the loop.

Bytes are the request bodies sent to DynamoDB and SQS. They may differ by
a few bytes for reasons that do not grow with the history: wider numbers
(the counter, event ids) and the timestamps' text. Billed units are the
figure that matters and are compared exactly.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from stepq.bench.meter import Call, Meter

FUNCTION_ARN = "arn:aws:lambda:us-east-1:111111111111:function:increment"
LOOP = {
    "Comment": "A long-running loop: a counter goes up by one per Task until it reaches n.",
    "StartAt": "Check",
    "States": {
        "Check": {
            "Type": "Choice",
            "Choices": [{"Variable": "$.i", "NumericLessThanPath": "$.n", "Next": "Step"}],
            "Default": "Done",
        },
        "Step": {"Type": "Task", "Resource": FUNCTION_ARN, "Next": "Check"},
        "Done": {"Type": "Succeed"},
    },
}


def increment(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return {**event, "i": event["i"] + 1}


@dataclass
class Cycle:
    first: int  # first transition number this cycle committed
    last: int
    calls: list[Call] = field(default_factory=list)
    seconds: float = 0.0

    def requests(self) -> Counter[tuple[str, str]]:
        return Counter((c.service, c.operation) for c in self.calls if c.billable)

    def bytes_sent(self) -> Counter[str]:
        sent: Counter[str] = Counter()
        for c in self.calls:
            if c.billable:
                sent[c.service] += c.bytes_sent
        return sent

    def units(self) -> tuple[float, float, int]:
        billable = [c for c in self.calls if c.billable]
        return (
            sum(c.wru for c in billable),
            sum(c.rru for c in billable),
            sum(c.sqs_requests for c in billable),
        )


@dataclass
class FlatResult:
    iterations: int
    transitions: int
    early: Cycle
    late: Cycle
    seconds: float
    flat_from: int = 0  # from this transition on, every turn bills what the last one does

    @property
    def same_requests(self) -> bool:
        return self.early.requests() == self.late.requests()

    @property
    def same_units(self) -> bool:
        return self.early.units() == self.late.units()

    @property
    def same_bytes(self) -> bool:
        return self.early.bytes_sent() == self.late.bytes_sent()


def run_flat(iterations: int, early: int = 5, log: Callable[[str], None] = print) -> FlatResult:
    from stepq.clock import monotonic
    from stepq.hosting.embedded import TABLE, EmbeddedRuntime

    if iterations < 3:
        raise ValueError("the loop needs at least 3 iterations")
    meter = Meter()
    clients: dict[str, Any] = {}

    def hook(service: str, client: Any) -> None:
        clients[service] = client
        meter.attach(client)

    # inline_steps=0: one commit per loop turn, so turns are comparable one
    # by one (the worker still commits; it just runs no step inline).
    runtime = EmbeddedRuntime(
        {"increment": increment}, skip_time=True, on_client=hook, inline_steps=0
    )
    try:
        meter.describe(clients["dynamodb"], TABLE)
        runtime.deploy("loop", LOOP)
        orchestrator, worker = runtime.pumps
        started = monotonic()
        meter.label = "loop"
        with meter.as_role("client"):
            runtime.start("loop", {"i": 0, "n": iterations}, name="flat-1")
        cycles: list[Cycle] = []
        done = 0
        while True:
            mark, began = len(meter.calls), monotonic()
            with meter.as_role("orchestrator"):
                moved = orchestrator.poll_once()
            with meter.as_role("worker"):
                moved += worker.poll_once()
            if not moved:
                break
            calls = meter.calls[mark:]
            committed = sum(c.transitions for c in calls)
            cycles.append(Cycle(done + 1, done + committed, calls, monotonic() - began))
            done += committed
            if len(cycles) % 500 == 0:
                log(f"  {len(cycles)} cycles, {done} transitions, {monotonic() - started:.0f} s")
        seconds = monotonic() - started
    finally:
        runtime.close()
    loop_cycles = [c for c in cycles if c.last >= c.first]
    if meter.faults:
        raise RuntimeError(f"calls not metered: {meter.faults[:3]}")
    holding = [c for c in loop_cycles if c.first <= early <= c.last]
    if not holding:
        raise RuntimeError(f"no cycle committed transition {early}")
    # The last full loop turn: a cycle that sent the next task (the final
    # Choice -> Succeed commit sends none and finishes the execution instead).
    turns = [
        c
        for c in loop_cycles
        if any(x.operation == "SendMessageBatch" and x.billable for x in c.calls)
    ]
    last = turns[-1]
    flat_from = last.first
    for turn in reversed(turns):
        if turn.units() != last.units() or turn.requests() != last.requests():
            break
        flat_from = turn.first
    return FlatResult(iterations, done, holding[0], last, seconds, flat_from)


def _describe(cycle: Cycle) -> list[str]:
    wru, rru, sqs = cycle.units()
    lines = [f"transitions {cycle.first}-{cycle.last} ({1000 * cycle.seconds:.1f} ms in moto):"]
    for (service, op), n in sorted(cycle.requests().items()):
        lines.append(f"    {service:<9} {op:<20} {n}")
    sent = cycle.bytes_sent()
    lines.append(
        "    bytes sent: "
        + ", ".join(f"{s} {sent[s]}" for s in sorted(sent))
        + f"; billed: {wru:g} WRU, {rru:g} RRU, {sqs} SQS requests"
    )
    return lines


def report_lines(result: FlatResult) -> list[str]:
    early, late = result.early, result.late
    lines = [
        f"loop of {result.iterations} iterations: {result.transitions} transitions "
        f"in {result.seconds:.1f} s",
        *_describe(early),
        *_describe(late),
    ]
    early_bytes, late_bytes = early.bytes_sent(), late.bytes_sent()
    delta = ", ".join(
        f"{s} {late_bytes[s] - early_bytes[s]:+d}" for s in sorted(early_bytes | late_bytes)
    )
    lines.append(
        f"requests equal: {'yes' if result.same_requests else 'NO'}; "
        f"billed units equal: {'yes' if result.same_units else 'NO'}; "
        f"bytes equal: {'yes' if result.same_bytes else f'no ({delta})'}"
    )
    lines.append(
        f"every loop turn from transition {result.flat_from} to {late.last} bills the same "
        "requests and units (what grows before that is bounded state carried in each commit)"
    )
    lines.append(
        f"flat_from={result.flat_from} flat_transitions={early.first}:{late.last} same_requests={result.same_requests} "
        f"same_units={result.same_units} bytes_delta={sum(late_bytes.values()) - sum(early_bytes.values())}"
    )
    return lines

"""``stepq bench flat``'s matrix: does a transition cost more when the input is large
or the Map is wide?

One Map runs ``width`` iterations of a one-Task item processor, one at a time
(``MaxConcurrency: 1``), over items it makes itself (``[1..width]``), with an
input of ``input_bytes`` of realistic JSON records beside them. The runtime
commits every step on its own (``inline_steps=0``), so each commit between
the first and the last records one iteration's result and starts the next
one: one transition. Those middle commits are what the table bills per
transition; the first commit (the start: the input is written there once,
with the Map's items) and the last (the Map's results gathered, the
execution's output) are reported apart, as ``start_wru`` and
``finish_wru``.

Billed units come from the same ``Meter`` as ``stepq bench cost`` (1 WRU per
started KB of each item written, compressed as the store writes it).
Iterations run one at a time because running iterations are state the
snapshot must hold: their number is bounded by ``MaxConcurrency``, not by
the Map's width, and this benchmark holds it constant.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from stepq.bench.meter import Call, Meter

FUNCTION_ARN = "arn:aws:lambda:us-east-1:111111111111:function:square"
# (label, input bytes) x (Map width): the four configurations `stepq bench flat` prints.
INPUTS = (("1KB", 1024), ("200KB", 200 * 1024))
WIDTHS = (10, 1000)
MACHINE: dict[str, Any] = {
    "Comment": "A Map over [1..width], one item at a time, beside a large input.",
    "QueryLanguage": "JSONata",
    "StartAt": "Fan",
    "States": {
        "Fan": {
            "Type": "Map",
            "Items": "{% [1..$states.input.width] %}",
            "MaxConcurrency": 1,
            "ItemProcessor": {
                "ProcessorConfig": {"Mode": "INLINE"},
                "StartAt": "Square",
                "States": {"Square": {"Type": "Task", "Resource": FUNCTION_ARN, "End": True}},
            },
            "Output": "{% {'items': $count($states.result), 'sum': $sum($states.result.n)} %}",
            "End": True,
        }
    },
}
_WORDS = ("order", "gift", "express", "pending", "returned", "priority", "fragile", "bulk")


def square(event: Any, context: Any) -> dict[str, Any]:
    return {"n": event * event}


def records(size: int, seed: int = 9) -> list[dict[str, Any]]:
    """Customer-like records, about ``size`` bytes of JSON (compressible as real data is)."""
    rng = random.Random(seed)
    out: list[dict[str, Any]] = []
    total = 2
    while total < size:
        record = {
            "id": len(out),
            "sku": f"SKU-{rng.randrange(10**6):06d}",
            "qty": rng.randrange(1, 50),
            "note": " ".join(rng.choice(_WORDS) for _ in range(rng.randrange(2, 8))),
        }
        out.append(record)
        total += len(str(record)) + 1
    return out


@dataclass
class MatrixRow:
    input_label: str
    width: int
    start_wru: float
    finish_wru: float
    middle_wru: float  # the commits between the first and the last
    middle_rru: float
    finish_rru: float  # the Map's outputs read back when it finishes
    middle_transitions: int
    middle_commits: int
    largest_middle_bytes: int  # the largest middle commit's request, for the curious
    output: Any

    @property
    def wru_per_transition(self) -> float:
        return self.middle_wru / max(1, self.middle_transitions)

    @property
    def rru_per_transition(self) -> float:
        return self.middle_rru / max(1, self.middle_transitions)


def run_one(input_label: str, input_bytes: int, width: int) -> MatrixRow:
    """One configuration on a fresh embedded backend, stepped in this thread."""
    from stepq.hosting.embedded import TABLE, EmbeddedRuntime

    meter = Meter()
    clients: dict[str, Any] = {}

    def hook(service: str, client: Any) -> None:
        clients[service] = client
        meter.attach(client)

    runtime = EmbeddedRuntime({"square": square}, skip_time=True, on_client=hook, inline_steps=0)
    try:
        meter.describe(clients["dynamodb"], TABLE)
        runtime.deploy("fan", MACHINE)
        orchestrator, worker = runtime.pumps
        meter.label = "fan"
        execution_input = {"width": width, "records": records(input_bytes)}
        with meter.as_role("client"):
            arn = runtime.start("fan", execution_input, name=f"fan-{input_label}-{width}")
        moved = 1
        while moved:
            with meter.as_role("orchestrator"):
                moved = orchestrator.poll_once()
            with meter.as_role("worker"):
                moved += worker.poll_once()
        meter.label = ""
        header = runtime.store.get_execution(arn)
    finally:
        runtime.close()
    if meter.faults:
        raise RuntimeError(f"calls not metered: {meter.faults[:3]}")
    expected = {"items": width, "sum": sum(i * i for i in range(1, width + 1))}
    if header.status != "SUCCEEDED" or header.output != expected:
        raise RuntimeError(
            f"input={input_label} map={width}: {header.status} {header.error or ''} "
            f"{header.cause or ''} (output {str(header.output)[:200]})"
        )
    return _row(input_label, width, meter.calls, header.output)


def _row(input_label: str, width: int, calls: Iterable[Call], output: Any) -> MatrixRow:
    billable = [c for c in calls if c.billable and c.service == "dynamodb"]
    commits = [c for c in billable if c.operation == "PutItem"]
    if len(commits) < 3:
        raise RuntimeError(f"input={input_label} map={width}: only {len(commits)} commits")
    first, middle, last = commits[0], commits[1:-1], commits[-1]
    # Reads before a middle commit are its own; those after the last middle one
    # (the Map's outputs gathered back) belong to the finish.
    at = {id(c): i for i, c in enumerate(billable)}
    start, end = at[id(first)], at[id(middle[-1])]
    reads = [c for c in billable if c.operation in ("GetItem", "Query")]
    return MatrixRow(
        input_label=input_label,
        width=width,
        start_wru=first.wru,
        finish_wru=last.wru,
        middle_wru=sum(c.wru for c in middle),
        middle_rru=sum(c.rru for c in reads if start < at[id(c)] < end),
        finish_rru=sum(c.rru for c in reads if at[id(c)] > end),
        middle_transitions=sum(c.transitions for c in middle),
        middle_commits=len(middle),
        largest_middle_bytes=max((c.bytes_sent for c in middle), default=0),
        output=output,
    )


def run_matrix(
    inputs: Iterable[tuple[str, int]] = INPUTS,
    widths: Iterable[int] = WIDTHS,
    log: Callable[[str], None] = print,
) -> list[MatrixRow]:
    rows = []
    for label, size in inputs:
        for width in widths:
            log(f"  flat matrix: input {label}, Map of {width} ...")
            rows.append(run_one(label, size, width))
    return rows


def matrix_lines(rows: list[MatrixRow]) -> list[str]:
    lines = [
        f"flat_matrix input={r.input_label} map={r.width} "
        f"wru_per_transition={r.wru_per_transition:.2f} start_wru={r.start_wru:g} "
        f"finish_wru={r.finish_wru:g} rru_per_transition={r.rru_per_transition:.3f} "
        f"finish_rru={r.finish_rru:g} "
        f"transitions={r.middle_transitions} largest_commit_bytes={r.largest_middle_bytes}"
        for r in rows
    ]
    equal = len({round(r.wru_per_transition, 6) for r in rows}) == 1
    lines.append(f"flat_matrix_equal={equal}")
    return lines

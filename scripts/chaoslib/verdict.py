"""Judging a chaos run: every execution against its fault-free reference.

- **correct**: terminal with the reference's status, output, error and cause;
- **stuck**: not terminal when the run ends (RUNNING, or never created: the
  start was lost);
- **double**: a transition recorded more often than in the reference (a
  state entered, a task scheduled, a result recorded twice), or history
  event ids that are not 1..n (a commit written twice or lost).

An execution can be both wrong and double; ``correct``, ``stuck`` and
``double`` are counted independently. The last line of the run is
``summary_line()``; other checks read it.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from chaoslib.workload import Expected, Planned

Key = tuple[str, str]


def summary_line(correct: int, total: int, stuck: int, double: int) -> str:
    return f"correct={correct}/{total} stuck={stuck} double={double}"


def transition_keys(history: list[dict[str, Any]]) -> Counter[Key]:
    """How often each (event type, state name or resource) occurs."""
    keys: Counter[Key] = Counter()
    for event in history:
        details = event.get("details") or {}
        keys[
            (str(event.get("type")), str(details.get("name") or details.get("resource") or ""))
        ] += 1
    return keys


@dataclass
class Finding:
    """One execution's verdict, with the evidence for the report."""

    name: str
    machine: str
    variant: str
    status: str  # the execution's status, or MISSING
    correct: bool = False
    stuck: bool = False
    doubles: dict[str, tuple[int, int]] = field(default_factory=dict)  # key: (seen, reference)
    id_problem: str = ""
    detail: str = ""

    @property
    def double(self) -> bool:
        return bool(self.doubles or self.id_problem)


def judge(
    planned: Planned,
    expected: Expected,
    header: Any | None,
    history: list[dict[str, Any]],
) -> Finding:
    """``header`` is the store's ExecutionHeader, None when the execution does not exist."""
    if header is None:
        return Finding(
            planned.name,
            planned.machine,
            planned.variant,
            "MISSING",
            stuck=True,
            detail="never created: its start was lost",
        )
    finding = Finding(planned.name, planned.machine, planned.variant, header.status)
    if header.status == "RUNNING":
        finding.stuck = True
        finding.detail = "last events: " + _last_events(history)
    else:
        got = (header.status, header.output, header.error, header.cause)
        want = (expected.status, expected.output, expected.error, expected.cause)
        finding.correct = got == want
        if not finding.correct:
            finding.detail = _failed_step(history) + (
                f"got {header.status} error={header.error!r} cause={_short(header.cause)}; "
                f"want {expected.status} error={expected.error!r}"
                + (
                    ""
                    if header.status != expected.status or header.error != expected.error
                    else f"; output differs: {_short(header.output)} vs {_short(expected.output)}"
                )
            )
    seen, reference = transition_keys(history), transition_keys(expected.history)
    for key, count in seen.items():
        if reference[key] and count > reference[key]:
            finding.doubles[f"{key[0]}:{key[1]}"] = (count, reference[key])
    ids = [event.get("id") for event in history]
    if ids != list(range(1, len(ids) + 1)):
        repeated = [i for i, n in Counter(ids).items() if n > 1]
        finding.id_problem = f"event ids not 1..{len(ids)}; repeated: {repeated[:10]}"
    return finding


_STEP_FAILURES = ("LambdaFunctionFailed", "LambdaFunctionTimedOut", "TaskFailed", "TaskTimedOut")


def _failed_step(history: list[dict[str, Any]]) -> str:
    """'after <state> failed: ' for the last step failure in ``history``, or ''."""
    entered = ""
    failure = ""
    for event in history:
        details = event.get("details") or {}
        if str(event.get("type", "")).endswith("StateEntered"):
            entered = str(details.get("name", ""))
        elif event.get("type") in _STEP_FAILURES:
            failure = f"{entered} {event['type']} {details.get('error', '')}".strip()
    return f"after {failure}: " if failure else ""


def _last_events(history: list[dict[str, Any]], count: int = 4) -> str:
    tail = history[-count:]
    return (
        ", ".join(
            f"{e.get('type')}({(e.get('details') or {}).get('name', '')}) @{e.get('timestamp', '')}"
            for e in tail
        )
        or "(no history)"
    )


def _short(value: Any, limit: int = 160) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return text if len(text) <= limit else text[:limit] + "..."


def report_lines(findings: list[Finding]) -> list[str]:
    """Per example: counts; then every execution that is not correct, or double."""
    lines = []
    by_machine: dict[str, list[Finding]] = {}
    for finding in findings:
        by_machine.setdefault(finding.machine, []).append(finding)
    for machine, group in sorted(by_machine.items()):
        lines.append(
            f"  {machine}: {sum(f.correct for f in group)}/{len(group)} correct, "
            f"{sum(f.stuck for f in group)} stuck, {sum(f.double for f in group)} double, "
            f"{sum(not f.correct and not f.stuck for f in group)} wrong"
        )
    for finding in findings:
        if finding.correct and not finding.double:
            continue
        kind = "stuck" if finding.stuck else ("wrong" if not finding.correct else "ok")
        line = f"  {kind}: {finding.name} [{finding.variant}] {finding.status}"
        if finding.detail:
            line += f" - {finding.detail}"
        if finding.double:
            doubled = ", ".join(f"{k} x{s} (ref {r})" for k, (s, r) in finding.doubles.items())
            line += f" | DOUBLE {doubled} {finding.id_problem}".rstrip()
        lines.append(line)
    return lines

"""Runs conformance cases through a backend and compares them with AWS's outcomes."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from stepq.conformance.builtins import registry_for
from stepq.conformance.cases import Case, find_cases
from stepq.conformance.matching import compare_outcome
from stepq.core.definition import load_definition
from stepq.core.machine import Machine
from stepq.errors import DefinitionError


@dataclass(slots=True)
class CaseOutcome:
    status: str  # SUCCEEDED | FAILED | REJECTED | TIMED_OUT | ABORTED | ERROR
    output: Any = None
    error: str | None = None
    cause: str | None = None
    history: list[str] = field(default_factory=list)


Backend = Callable[[Case], CaseOutcome]


def _prepare(case: Case) -> Machine | CaseOutcome:
    try:
        raw = load_definition(case.definition).raw
    except DefinitionError as err:
        return CaseOutcome("REJECTED", error="DefinitionError", cause=str(err))
    name = "sm_" + uuid.uuid5(uuid.NAMESPACE_URL, case.id).hex[:8]
    return Machine(raw, name=name)


def local_runner_backend(case: Case) -> CaseOutcome:
    """The pure core, in-process, under a virtual clock (``--backend memory``)."""
    from stepq.hosting.local_runner import LocalRunner

    machine = _prepare(case)
    if isinstance(machine, CaseOutcome):
        return machine
    backend = LocalRunner(registry_for(case.functions))
    name = str(uuid.uuid5(uuid.NAMESPACE_URL, case.file))
    result = backend.run(machine, case.input, name=name)
    return CaseOutcome(
        result.status, result.output, result.error, result.cause, [e.type for e in result.history]
    )


class EmbeddedBackend:
    """The durable runtime on the embedded backend (``--backend local``): table, queues, the three loops.

    One runtime serves every case (a fresh moto per case would cost more than
    the cases); each case gets its own state machine and its own functions.
    """

    def __init__(self) -> None:
        self._runtime: Any = None

    def __call__(self, case: Case) -> CaseOutcome:
        from stepq.errors import ExecutionTimeoutError
        from stepq.hosting.embedded import EmbeddedRuntime

        machine = _prepare(case)
        if isinstance(machine, CaseOutcome):
            return machine
        if self._runtime is None:
            self._runtime = EmbeddedRuntime({}, skip_time=True)
            self._runtime.start_loops()
        runtime = self._runtime
        runtime.functions.clear()
        runtime.functions.update(registry_for(case.functions))
        runtime.deploy(machine.name, machine.definition)
        name = str(uuid.uuid5(uuid.NAMESPACE_URL, case.file))
        arn = runtime.start(machine.name, case.input, name)
        try:
            header = runtime.wait(arn, timeout=60)
        except ExecutionTimeoutError as exc:
            return CaseOutcome("ERROR", error="ExecutionTimeoutError", cause=str(exc))
        history = [e["type"] for e in runtime.history(arn)]
        return CaseOutcome(header.status, header.output, header.error, header.cause, history)

    def close(self) -> None:
        if self._runtime is not None:
            self._runtime.close()
            self._runtime = None


BACKENDS: dict[str, Callable[[], Backend]] = {
    # CLI values kept as they were: "memory" is the local runner (the pure core),
    # "local" the durable runtime on the embedded backend.
    "memory": lambda: local_runner_backend,
    "local": EmbeddedBackend,
}


@dataclass(slots=True)
class CaseReport:
    case: Case
    outcome: CaseOutcome
    difference: str | None
    # Passes only with the recorder-redaction placeholders (see matching.py).
    needs_redactions: bool = False

    @property
    def passed(self) -> bool:
        return self.difference is None

    def to_json(self) -> dict[str, Any]:
        o = self.outcome
        return {
            "file": self.case.file,
            "id": self.case.id,
            "status": o.status,
            "output": o.output,
            "error": o.error,
            "cause": o.cause,
            "history": o.history,
        }


def run_case(case: Case, backend: Backend) -> CaseReport:
    try:
        outcome = backend(case)
    except Exception as exc:  # a crash in the engine is a failed case, not a crashed run
        outcome = CaseOutcome("ERROR", error=type(exc).__name__, cause=str(exc)[:500])
        return CaseReport(case, outcome, f"engine crashed: {type(exc).__name__}: {str(exc)[:300]}")
    diff = compare_outcome(
        case.expected, outcome.status, outcome.output, outcome.error, outcome.cause
    )
    strict = compare_outcome(
        case.expected, outcome.status, outcome.output, outcome.error, outcome.cause, strict=True
    )
    return CaseReport(case, outcome, diff, needs_redactions=diff is None and strict is not None)


def run_directories(
    directories: Iterable[Path], backend: Backend, results: TextIO | None = None
) -> list[CaseReport]:
    reports: list[CaseReport] = []
    for directory in directories:
        for case in find_cases(directory):
            report = run_case(case, backend)
            reports.append(report)
            if results is not None:
                results.write(json.dumps(report.to_json(), default=str) + "\n")
    return reports

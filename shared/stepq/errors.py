"""The project's error hierarchy: one base class, names ending in ``Error``.

Adapters turn library exceptions (botocore's ``ClientError`` and friends) into
these, so callers never depend on a backend's own error types.
"""

from __future__ import annotations

from dataclasses import dataclass


class StepqError(Exception):
    """Base class of every error stepq raises on purpose."""


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with a definition, located by a JSON Pointer-like path."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


class DefinitionError(StepqError):
    """An ASL definition was refused; ``problems`` lists every reason."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = list(problems)
        lines = "\n".join(f"  {p}" for p in self.problems)
        super().__init__(
            f"invalid state machine definition ({len(self.problems)} problems):\n{lines}"
        )


class ConformanceCaseError(StepqError):
    """A conformance case file could not be read or understood."""

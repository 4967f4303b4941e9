"""A definition prepared for the interpreter: scopes flattened and indexed.

A *scope* is one ``{StartAt, States}`` block: the top level, each Parallel
branch and each Map processor. Scopes get stable string keys so an execution
snapshot can name where each frame is.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

JSONPATH = "JSONPath"
JSONATA = "JSONata"


@dataclass(frozen=True, slots=True)
class Scope:
    key: str
    start_at: str
    states: dict[str, dict[str, Any]]


class Machine:
    """Indexes a (validated) ASL definition for fast lookups."""

    def __init__(self, definition: dict[str, Any], name: str = "StateMachine") -> None:
        self.definition = definition
        self.name = name
        self.query_language: str = definition.get("QueryLanguage", JSONPATH)
        self.timeout_seconds: int | None = definition.get("TimeoutSeconds")
        self.scopes: dict[str, Scope] = {}
        self._index("", definition)

    def _index(self, key: str, block: dict[str, Any]) -> None:
        states: dict[str, dict[str, Any]] = block.get("States", {})
        self.scopes[key] = Scope(key, block.get("StartAt", ""), states)
        for name, state in states.items():
            kind = state.get("Type")
            if kind == "Parallel":
                for i, branch in enumerate(state.get("Branches", [])):
                    self._index(branch_scope(key, name, i), branch)
            elif kind == "Map":
                processor = state.get("ItemProcessor") or state.get("Iterator") or {}
                self._index(processor_scope(key, name), processor)

    def state(self, scope: str, name: str) -> dict[str, Any]:
        return self.scopes[scope].states[name]

    def language(self, state: dict[str, Any]) -> str:
        return state.get("QueryLanguage", self.query_language)


def branch_scope(parent: str, state: str, index: int) -> str:
    return f"{parent}/{state}/{index}"


def processor_scope(parent: str, state: str) -> str:
    return f"{parent}/{state}/~"

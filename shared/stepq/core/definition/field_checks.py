"""Checks of one value: a path, a payload template, a JSONata expression, a range.

``FieldChecks`` collects the problems; the validator (``validate._Checker``)
and the per-state-type checks build on it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import Any

from stepq.core import intrinsics, jsonata_query, jsonpath
from stepq.errors import Problem

from .models import JSONATA

_VARIABLE_REF = re.compile(r"\$[A-Za-z_][A-Za-z0-9_]*")
# Operators a reference path may not use (ASL: dot and bracket notation only).
_NOT_REFERENCE = re.compile(r"\*|\.\.|\?|@|:|,")

Parts = tuple[str | int, ...]


def pointer(parts: Iterable[str | int]) -> str:
    """A JSON Pointer (RFC 6901) for ``parts``."""
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in parts)


def is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _tolerant(check: Callable[[str], str | None], text: str) -> str | None:
    # Sibling modules may still be stubs; a stub must not block validation.
    try:
        return check(text)
    except NotImplementedError:
        return None


def _as_data_path(value: str) -> str:
    """``$$.x`` (context) and ``$var.x`` (variable) as a plain ``$.x`` path."""
    if value.startswith("$$"):
        return value[1:]
    match = _VARIABLE_REF.match(value)
    if match:
        return "$" + value[match.end() :]
    return value


class FieldChecks:
    """Checks of single fields; each problem found is added to ``problems``."""

    problems: list[Problem]

    def add(self, parts: Parts, message: str) -> None:
        self.problems.append(Problem(pointer(parts), message))

    def result_path(self, value: str, parts: Parts) -> None:
        """ResultPath is a reference path: it names one place in the state input."""
        if value.startswith("$$") or _VARIABLE_REF.match(value):
            self.add(
                parts, f'"{value}" must point into the state input ($), not context or a variable'
            )
        elif _NOT_REFERENCE.search(re.sub(r"'[^']*'", "", value)):
            self.add(
                parts, f'"{value}" must be a reference path, without wildcards, filters or slices'
            )
        else:
            self.path(value, parts)

    def path(self, value: str, parts: Parts, *, intrinsic: bool = False) -> None:
        """A JSONPath (``$``, ``$$`` context, ``$var`` variable) or, if allowed, an intrinsic."""
        if intrinsic and value.startswith("States."):
            reason = _tolerant(intrinsics.validate, value)
            if reason:
                self.add(parts, f"invalid intrinsic function: {reason}")
            return
        reason = _tolerant(jsonpath.validate_path, _as_data_path(value))
        if reason:
            self.add(parts, f'invalid JSONPath "{value}": {reason}')

    def template(self, value: Any, parts: Parts) -> None:
        if isinstance(value, dict):
            for key, item in value.items():
                kparts = (*parts, key)
                if isinstance(key, str) and key.endswith(".$"):
                    if not isinstance(item, str):
                        self.add(
                            kparts, "must be a string holding a JSONPath or an intrinsic function"
                        )
                    elif item.startswith("$") or item.startswith("States."):
                        self.path(item, kparts, intrinsic=True)
                    else:
                        self.add(
                            kparts, f'"{item}" is neither a JSONPath nor an intrinsic function'
                        )
                else:
                    self.template(item, kparts)
        elif isinstance(value, list):
            for i, item in enumerate(value):
                self.template(item, (*parts, i))

    def jsonata_value(self, value: Any, parts: Parts) -> None:
        if isinstance(value, dict):
            for key, item in value.items():
                self.jsonata_value(item, (*parts, key))
        elif isinstance(value, list):
            for i, item in enumerate(value):
                self.jsonata_value(item, (*parts, i))
        elif jsonata_query.is_expression(value):
            reason = _tolerant(jsonata_query.check_syntax, value[2:-2])
            if reason:
                self.add(parts, f"invalid JSONata expression: {reason}")

    def int_or_expr(
        self, state: dict[str, Any], field: str, parts: Parts, lang: str, low: int
    ) -> None:
        """Range-check a number field; in JSONata it may also be an expression."""
        value = state.get(field)
        if is_int(value) and value < low:
            self.add((*parts, field), f"must be at least {low}")
        elif lang == JSONATA and isinstance(value, str) and not jsonata_query.is_expression(value):
            self.add((*parts, field), "must be an integer or a JSONata expression string")

    def exclusive(self, state: dict[str, Any], parts: Parts, fields: tuple[str, ...]) -> list[str]:
        present = [f for f in fields if f in state]
        if len(present) > 1:
            self.add(parts, f"{' and '.join(present)} are mutually exclusive")
        return present

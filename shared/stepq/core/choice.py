"""JSONPath-mode Choice rules: comparison operators and And/Or/Not.

CONTRACT:

- ``evaluate_rule(rule: dict, data, context, variables) -> bool``: evaluate
  one Choice rule (the rule dict as written in the definition, minus ``Next``
  which it ignores). Every operator: String/Numeric/Boolean/Timestamp
  Equals/LessThan/LessThanEquals/GreaterThan/GreaterThanEquals and their
  ``Path`` forms, IsNull, IsPresent, IsNumeric, IsString, IsBoolean,
  IsTimestamp, StringMatches; And, Or, Not. ``Variable`` may reference input
  (``$``), context (``$$``) or a variable (``$name``).
- Type mismatches evaluate to False as Step Functions does; a missing
  ``Variable`` path raises ``StatesFailure`` (States.Runtime, AWS's text)
  except under IsPresent.
- ``OPERATORS``: the set of comparison operator names (used by validation).

Semantics (from AWS-recorded cases and the Step Functions docs):

- Types are strict: ``NumericEquals`` never matches a bool or a numeric
  string, ``BooleanEquals`` never matches ``"true"`` or ``0``, ``String*``
  never matches a non-string. Ints and floats compare by value (1 == 1.0).
- String ordering is Java's ``String.compareTo`` (UTF-16 code units), which
  differs from Python's code-point order only for characters above U+FFFF.
- Timestamps are RFC 3339 with an uppercase ``T`` and either ``Z`` or a
  ``+hh:mm`` offset (no offset, a space separator or a bare date is not a
  timestamp); they compare as instants, fractional seconds exactly.
- ``StringMatches`` is hand-written (fnmatch has ``?``/``[]`` wildcards and
  no escapes): ``*`` matches any run of characters, ``\\*`` a literal star,
  ``\\\\`` a literal backslash.
- A ``...Path`` operand that does not resolve fails like a missing Variable.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable
from datetime import date
from functools import lru_cache
from typing import Any

from stepq.core import jsonpath
from stepq.core.failures import runtime_error

_CMP: dict[str, Callable[[Any, Any], bool]] = {
    "Equals": operator.eq,
    "LessThan": operator.lt,
    "LessThanEquals": operator.le,
    "GreaterThan": operator.gt,
    "GreaterThanEquals": operator.ge,
}
_KINDS = ("String", "Numeric", "Boolean", "Timestamp")
_TYPE_TESTS = ("IsNull", "IsNumeric", "IsString", "IsBoolean", "IsTimestamp")

# operator name -> (kind, comparison, operand is a path)
_COMPARISONS: dict[str, tuple[str, Callable[[Any, Any], bool], bool]] = {}
for _kind in _KINDS:
    for _name, _fn in _CMP.items():
        if _kind == "Boolean" and _name != "Equals":
            continue
        _COMPARISONS[f"{_kind}{_name}"] = (_kind, _fn, False)
        _COMPARISONS[f"{_kind}{_name}Path"] = (_kind, _fn, True)

OPERATORS: frozenset[str] = frozenset([*_COMPARISONS, *_TYPE_TESTS, "IsPresent", "StringMatches"])

_MISSING = object()


def evaluate_rule(
    rule: dict[str, Any], data: Any, context: dict[str, Any], variables: dict[str, Any]
) -> bool:
    if "And" in rule:
        return all(evaluate_rule(r, data, context, variables) for r in rule["And"])
    if "Or" in rule:
        return any(evaluate_rule(r, data, context, variables) for r in rule["Or"])
    if "Not" in rule:
        return not evaluate_rule(rule["Not"], data, context, variables)

    path = rule.get("Variable")
    for name, operand in rule.items():
        if name == "IsPresent":
            found = _MISSING if path is None else _lookup(path, data, context, variables)
            return (found is not _MISSING) == operand
        if name in _COMPARISONS:
            kind, cmp, is_path = _COMPARISONS[name]
            value = _required(path, data, context, variables)
            if is_path:
                operand = _required(operand, data, context, variables)
            return _compare(kind, cmp, value, operand)
        if name in _TYPE_TESTS:
            value = _required(path, data, context, variables)
            return _TYPE_CHECK[name](value) == operand
        if name == "StringMatches":
            value = _required(path, data, context, variables)
            return isinstance(value, str) and isinstance(operand, str) and _matches(operand, value)
    # Validation rejects rules without an operator; keep a clear failure anyway.
    raise runtime_error("The choice rule has no comparison operator.")


# --- path resolution -------------------------------------------------------


def _lookup(path: Any, data: Any, context: dict[str, Any], variables: dict[str, Any]) -> Any:
    """The value at ``path`` ($ input, $$ context, $name variable) or _MISSING."""
    if not isinstance(path, str) or not path.startswith("$"):
        return _MISSING
    try:
        if path.startswith("$$"):
            return jsonpath.read(context, "$" + path[2:])
        if len(path) == 1 or path[1] in ".[":
            return jsonpath.read(data, path)
        name, rest = _split_variable(path)
        if name not in variables:
            return _MISSING
        return jsonpath.read(variables[name], "$" + rest) if rest else variables[name]
    except jsonpath.PathNotFoundError:
        return _MISSING


def _split_variable(path: str) -> tuple[str, str]:
    end = len(path)
    for i in range(1, len(path)):
        if path[i] in ".[":
            end = i
            break
    return path[1:end], path[end:]


def _required(path: Any, data: Any, context: dict[str, Any], variables: dict[str, Any]) -> Any:
    value = _lookup(path, data, context, variables)
    if value is _MISSING:
        raise runtime_error(
            f"Invalid path '{path}': The choice state's condition path references an invalid value."
        )
    return value


# --- comparisons -------------------------------------------------------------


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _compare(kind: str, cmp: Callable[[Any, Any], bool], value: Any, operand: Any) -> bool:
    if kind == "Numeric":
        return _is_number(value) and _is_number(operand) and cmp(value, operand)
    if kind == "String":
        if not (isinstance(value, str) and isinstance(operand, str)):
            return False
        if cmp is operator.eq or (value.isascii() and operand.isascii()):
            return cmp(value, operand)
        # Java compares UTF-16 code units; big-endian bytes sort the same way.
        return cmp(value.encode("utf-16-be"), operand.encode("utf-16-be"))
    if kind == "Boolean":
        return isinstance(value, bool) and isinstance(operand, bool) and value == operand
    # Timestamp
    left = _timestamp(value) if isinstance(value, str) else None
    right = _timestamp(operand) if isinstance(operand, str) else None
    return left is not None and right is not None and cmp(left, right)


# --- timestamps ---------------------------------------------------------------

_TIMESTAMP = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(Z|[+-]\d{2}:\d{2})",
    re.ASCII,
)


@lru_cache(maxsize=4096)
def _timestamp(text: str) -> tuple[int, str] | None:
    """``(epoch seconds, fraction digits)`` for an AWS timestamp, else None.

    The fraction keeps its digits without trailing zeros so that string order
    equals numeric order ("5" > "45", "4" < "45") at any precision.
    """
    m = _TIMESTAMP.fullmatch(text)
    if m is None:
        return None
    year, month, day, hour, minute, second = (int(g) for g in m.groups()[:6])
    if hour > 23 or minute > 59 or second > 59:
        return None
    try:
        days = date(year, month, day).toordinal()
    except ValueError:
        return None
    zone = m.group(8)
    offset = 0
    if zone != "Z":
        oh, om = int(zone[1:3]), int(zone[4:6])
        if oh > 23 or om > 59:
            return None
        offset = (oh * 3600 + om * 60) * (1 if zone[0] == "+" else -1)
    seconds = days * 86400 + hour * 3600 + minute * 60 + second - offset
    return seconds, (m.group(7) or "").rstrip("0")


# --- type tests ----------------------------------------------------------------

_TYPE_CHECK: dict[str, Callable[[Any], bool]] = {
    "IsNull": lambda v: v is None,
    "IsNumeric": _is_number,
    "IsString": lambda v: isinstance(v, str),
    "IsBoolean": lambda v: isinstance(v, bool),
    "IsTimestamp": lambda v: isinstance(v, str) and _timestamp(v) is not None,
}


# --- StringMatches ----------------------------------------------------------------


@lru_cache(maxsize=1024)
def _pattern(pattern: str) -> re.Pattern[str]:
    parts: list[str] = []
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\" and i + 1 < len(pattern):
            # An escape makes the next character literal (\* and \\ per AWS).
            parts.append(re.escape(pattern[i + 1]))
            i += 2
            continue
        parts.append(".*" if ch == "*" else re.escape(ch))
        i += 1
    return re.compile("".join(parts), re.DOTALL)


def _matches(pattern: str, value: str) -> bool:
    return _pattern(pattern).fullmatch(value) is not None

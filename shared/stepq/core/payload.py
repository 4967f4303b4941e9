"""JSONPath-mode payload templates: Parameters, ResultSelector, ItemSelector.

CONTRACT:

- ``render(template, data, context, variables) -> Any``: a deep copy of
  ``template`` where every key ending in ``.$`` is replaced by the key without
  the suffix, and its string value resolved with ``resolve``. Nested objects
  and arrays are rendered recursively.
- ``resolve(ref: str, data, context, variables) -> Any``: ``$...`` reads
  ``data``; ``$$...`` reads ``context``; ``$name...`` reads a variable;
  ``States.X(...)`` evaluates an intrinsic function (``stepq.core.intrinsics``).
- Failures raise ``StatesFailure`` (``stepq.core.failures``) with the error
  and cause text AWS produces, e.g. States.Runtime with
  "The JSONPath '$.x' specified for the field 'value.$' could not be found in
  the input '<input json>'" (state_scoped=True).
- ``validate_template(template) -> list[tuple[str, str]]``: static problems as
  (relative JSON pointer, message) pairs, for definition validation.
"""

from __future__ import annotations

import json
import re
from typing import Any

from stepq.core import jsonpath
from stepq.core.execution import public_context
from stepq.core.failures import runtime_error

# ASL variable names: a letter or underscore, then word characters.
_VARIABLE_RE = re.compile(r"\$([^\W\d]\w*)(.*)", re.DOTALL)
_INTRINSIC_PREFIX = "States."


def _to_json(value: Any) -> str:
    """Compact JSON, as AWS (Jackson) prints an input inside a cause."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def render(template: Any, data: Any, context: dict[str, Any], variables: dict[str, Any]) -> Any:
    if isinstance(template, dict):
        out: dict[str, Any] = {}
        for key, value in template.items():
            if key.endswith(".$"):
                out[key[:-2]] = _resolve_field(value, key, data, context, variables)
            else:
                out[key] = render(value, data, context, variables)
        return out
    if isinstance(template, list):
        return [render(item, data, context, variables) for item in template]
    return template  # scalars are immutable: sharing them is a copy


def resolve(ref: str, data: Any, context: dict[str, Any], variables: dict[str, Any]) -> Any:
    return _resolve_field(ref, None, data, context, variables)


def _split(ref: str) -> tuple[str, str | None]:
    """(kind, variable name): kind is data, context, variable, intrinsic or
    invalid; the name is set for variables only."""
    if ref.startswith("$$"):
        return "context", None
    if ref == "$" or ref.startswith(("$.", "$[")):
        return "data", None
    if ref.startswith("$"):
        m = _VARIABLE_RE.fullmatch(ref)
        if m and (not m.group(2) or m.group(2)[0] in ".["):
            return "variable", m.group(1)
        return "invalid", None
    if ref.startswith(_INTRINSIC_PREFIX):
        return "intrinsic", None
    return "invalid", None


def _resolve_field(
    ref: Any,
    field: str | None,
    data: Any,
    context: dict[str, Any],
    variables: dict[str, Any],
) -> Any:
    if not isinstance(ref, str):
        raise runtime_error(
            f"The value for the field '{field}' must be a STRING that contains a JSONPath "
            "or an intrinsic function call"
        )
    kind, name = _split(ref)
    if kind == "intrinsic":
        from stepq.core import intrinsics  # written in parallel; imported late

        return intrinsics.evaluate(ref, data, context, variables)
    if kind == "invalid":
        raise runtime_error(
            f"The value for the field '{field}' must be a valid JSONPath or a valid "
            f"intrinsic function call: {ref}"
        )
    if kind == "data":
        doc, path = data, ref
    elif kind == "context":
        doc, path = public_context(context), "$" + ref[2:]
    else:
        assert name is not None
        if name not in variables:
            raise _not_found(ref, field, data, None)
        doc, path = variables[name], "$" + ref[1 + len(name) :]
    try:
        return jsonpath.read(doc, path)
    except jsonpath.PathNotFoundError as err:
        raise _not_found(ref, field, doc, err) from None


def _not_found(ref: str, field: str | None, doc: Any, err: Exception | None) -> Exception:
    if field is None:
        # No field to name (a bare path resolved on its own): Jayway's text,
        # as InputPath/OutputPath report it.
        detail = str(err) if err is not None else f"No variable named '{ref[1:]}'"
        return runtime_error(f"Invalid path '{ref}' : {detail}")
    return runtime_error(
        f"The JSONPath '{ref}' specified for the field '{field}' could not be found "
        f"in the input '{_to_json(doc)}'"
    )


# --- static validation --------------------------------------------------------


def _pointer(parts: list[str]) -> str:
    return "".join("/" + p.replace("~", "~0").replace("/", "~1") for p in parts)


def validate_template(template: Any) -> list[tuple[str, str]]:
    problems: list[tuple[str, str]] = []
    _validate(template, [], problems)
    return problems


def _validate(node: Any, at: list[str], problems: list[tuple[str, str]]) -> None:
    if isinstance(node, list):
        for i, item in enumerate(node):
            _validate(item, [*at, str(i)], problems)
        return
    if not isinstance(node, dict):
        return
    for key, value in node.items():
        here = [*at, key]
        if not key.endswith(".$"):
            _validate(value, here, problems)
            continue
        if key[:-2] in node:
            problems.append((_pointer(here), f"The field '{key[:-2]}' is defined twice"))
        reason = _check_ref(value)
        if reason is not None:
            problems.append(
                (
                    _pointer(here),
                    f"The value for the field '{key}' must be a valid JSONPath or a valid "
                    f"intrinsic function call ({reason})",
                )
            )


def _check_ref(ref: Any) -> str | None:
    if not isinstance(ref, str):
        return "not a string"
    kind, name = _split(ref)
    if kind == "data":
        return jsonpath.validate_path(ref)
    if kind == "context":
        return jsonpath.validate_path("$" + ref[2:])
    if kind == "variable":
        assert name is not None
        return jsonpath.validate_path("$" + ref[1 + len(name) :])
    if kind == "intrinsic":
        from stepq.core import intrinsics

        try:
            return intrinsics.validate(ref)
        except NotImplementedError:  # until the intrinsics module lands
            return None
    return f"'{ref}' is neither a path nor an intrinsic function call"

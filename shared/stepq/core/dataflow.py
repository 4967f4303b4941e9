"""Input and output processing of a state, in both query languages.

JSONPath: InputPath -> Parameters -> (work) -> ResultSelector -> ResultPath
-> OutputPath. JSONata: Arguments -> (work) -> Output, with ``$states``.
Assign runs in both, seeing variable values from before the state.
"""

from __future__ import annotations

import json
from typing import Any

from stepq.core import jsonata_query, jsonpath, payload
from stepq.core.execution import public_context
from stepq.core.failures import (
    DATA_LIMIT_EXCEEDED,
    QUERY_EVALUATION_ERROR,
    RESULT_PATH_MATCH_FAILURE,
    StatesFailure,
    runtime_error,
)

MAX_PAYLOAD_BYTES = 256 * 1024


def to_json(value: Any) -> str:
    """Compact JSON as Step Functions prints values inside messages."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def payload_size(value: Any) -> int:
    return len(to_json(value).encode("utf-8"))


# Python types in test order (bool before number: a bool is an int).
_JSON_TYPES: tuple[tuple[type | tuple[type, ...], str], ...] = (
    (bool, "boolean"),
    ((int, float), "number"),
    (str, "string"),
    (list, "array"),
)


def json_type(value: Any) -> str:
    """The JSON type of ``value`` as Step Functions names it in messages ("array", ...)."""
    if value is None:
        return "null"
    return next((name for kind, name in _JSON_TYPES if isinstance(value, kind)), "object")


# --- JSONPath -------------------------------------------------------------


def read_reference(
    path: str, data: Any, context: dict[str, Any] | None, variables: dict[str, Any] | None
) -> Any:
    """Read ``$...`` from ``data``, ``$$...`` from the context, ``$name...`` from a variable."""
    if path.startswith("$$"):
        return jsonpath.read(public_context(context or {}), path[1:])
    if len(path) > 1 and path[1] not in ".[":
        name, rest = _split_variable(path[1:])
        if variables is None or name not in variables:
            raise jsonpath.PathNotFoundError(f"Variable '{name}' is not defined")
        return jsonpath.read(variables[name], "$" + rest)
    return jsonpath.read(data, path)


def _split_variable(text: str) -> tuple[str, str]:
    for i, ch in enumerate(text):
        if ch in ".[":
            return text[:i], text[i:]
    return text, ""


def read_path(
    data: Any,
    path: str,
    context: dict[str, Any] | None = None,
    variables: dict[str, Any] | None = None,
) -> Any:
    try:
        return read_reference(path, data, context, variables)
    except jsonpath.PathNotFoundError as err:
        raise runtime_error(f"Invalid path '{path}' : {err}") from None


def input_path(
    state: dict[str, Any],
    data: Any,
    context: dict[str, Any] | None = None,
    variables: dict[str, Any] | None = None,
) -> Any:
    if "InputPath" not in state:
        return data
    path = state["InputPath"]
    return {} if path is None else read_path(data, path, context, variables)


def output_path(
    state: dict[str, Any],
    data: Any,
    context: dict[str, Any] | None = None,
    variables: dict[str, Any] | None = None,
) -> Any:
    if "OutputPath" not in state:
        return data
    path = state["OutputPath"]
    return {} if path is None else read_path(data, path, context, variables)


def check_size(value: Any, state_name: str) -> None:
    """Step Functions' 256 KiB limit on what a state passes on."""
    # ASCII-escaped JSON is never shorter than the UTF-8 bytes: a cheap first test.
    if len(json.dumps(value)) <= MAX_PAYLOAD_BYTES or payload_size(value) <= MAX_PAYLOAD_BYTES:
        return
    raise StatesFailure(
        DATA_LIMIT_EXCEEDED,
        f"The state/task '{state_name}' returned a result with a size exceeding "
        "the maximum number of bytes service limit.",
    )


def result_path(state: dict[str, Any], raw_input: Any, result: Any) -> Any:
    if "ResultPath" not in state:
        return result
    path = state["ResultPath"]
    return place_result(raw_input, path, result)


def place_result(raw_input: Any, path: str | None, result: Any) -> Any:
    if path is None:
        return raw_input
    if path == "$":
        return result
    try:
        return jsonpath.write(raw_input, path, result)
    except jsonpath.PathNotFoundError as err:
        raise StatesFailure(
            RESULT_PATH_MATCH_FAILURE,
            f"Unable to apply ResultPath '{path}' to input '{to_json(raw_input)}': {err}",
            state_scoped=True,
        ) from None


def render(template: Any, data: Any, context: dict[str, Any], variables: dict[str, Any]) -> Any:
    return payload.render(template, data, context, variables)


# --- JSONata --------------------------------------------------------------


def bindings(
    variables: dict[str, Any],
    context: dict[str, Any],
    state_input: Any,
    **extra: Any,
) -> dict[str, Any]:
    states: dict[str, Any] = {"input": state_input, "context": context}
    states.update(extra)
    out = dict(variables)
    out["states"] = states
    seed = context.get("__seed__")
    if seed is not None:
        out["__seed__"] = seed
    return out


def evaluate(value: Any, env: dict[str, Any], field: str) -> Any:
    """A JSONata field: an expression string, or a template holding some."""
    if isinstance(value, str) and jsonata_query.is_expression(value):
        return jsonata_query.evaluate(value[2:-2].strip(), env, field)
    return jsonata_query.evaluate_value(value, env, field)


def unexpected_type(expression: str, field: str, expected: str, value: Any) -> StatesFailure:
    """The failure for a JSONata ``field`` whose ``expression`` gave a ``value`` of the wrong type."""
    return StatesFailure(
        QUERY_EVALUATION_ERROR,
        f"The JSONata expression '{expression}' specified for the field '{field}' returned an "
        f"unexpected result type. Expected '{expected}', but was '{json_type(value)}' for value: "
        f"{to_json(value)}",
        state_scoped=True,
    )


def assign_jsonata(assign: dict[str, Any], env: dict[str, Any]) -> dict[str, Any]:
    return {name: evaluate(value, env, "Assign") for name, value in assign.items()}


def assign_jsonpath(
    assign: dict[str, Any], data: Any, context: dict[str, Any], variables: dict[str, Any]
) -> dict[str, Any]:
    rendered = payload.render(assign, data, context, variables)
    if not isinstance(rendered, dict):
        raise runtime_error("Assign must be an object")
    return rendered

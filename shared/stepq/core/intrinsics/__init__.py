"""Step Functions intrinsic functions (``States.Format(...)`` and the rest).

CONTRACT:

- ``evaluate(expr: str, data, context, variables) -> Any``: parse (cached) and
  evaluate one intrinsic call. Arguments may be literals (strings in single
  quotes with ``\\`` escapes, numbers, booleans, null), JSONPath references
  (``$.x``, ``$$.x``, ``$var.x``) and nested intrinsic calls.
- ``validate(expr: str) -> str | None``: None when ``expr`` parses and names a
  known function with a plausible argument count, else a reason.
- Runtime failures raise ``StatesFailure`` with ``States.IntrinsicFailure``
  (or what AWS raises) and AWS's cause text.
- ``States.UUID`` and ``States.MathRandom`` must be deterministic for replay:
  they draw from ``context['__seed__']`` if present (a string the interpreter
  derives from the execution id and event id) instead of global randomness.

Parsing is hand-written (a tokenizer-free recursive-descent parser over the
string): no maintained library parses the ASL intrinsic call syntax.

Values follow AWS, which runs on Java/Jackson: ``States.Format`` renders
objects like ``java.util.Map.toString`` (``{a=1, b=[]}``) and doubles like
``Double.toString`` (``1.0E20``); ``States.JsonToString`` writes compact JSON
the way Jackson does. A path argument that does not resolve raises
``IntrinsicPathError`` (a ``States.Runtime`` failure carrying ``.path``) so
the caller can name the field in the cause, as AWS does.

Inside: ``syntax`` (the parser), ``functions`` (each ``States.*`` function),
``java`` (Java and Jackson renderings); evaluation and validation are here.
"""

from __future__ import annotations

from typing import Any

from stepq.core import jsonpath
from stepq.core.execution import public_context
from stepq.core.failures import INTRINSIC_FAILURE, RUNTIME, StatesFailure
from stepq.core.intrinsics.functions import FUNCTIONS, arity_problem
from stepq.core.intrinsics.java import java_double, to_json_string
from stepq.core.intrinsics.syntax import Call, IntrinsicParseError, Literal, Node, PathArg, parse

__all__ = [
    "Call",
    "IntrinsicParseError",
    "IntrinsicPathError",
    "Literal",
    "Node",
    "PathArg",
    "evaluate",
    "java_double",
    "to_json_string",
    "validate",
]


class IntrinsicPathError(StatesFailure):
    """A JSONPath argument did not resolve; ``path`` is the path as written."""

    def __init__(self, path: str, detail: str) -> None:
        super().__init__(RUNTIME, f"Invalid path '{path}' : {detail}", state_scoped=True)
        self.path = path


# -------------------------------------------------------------------- evaluation


def _read_path(path: str, data: Any, context: dict[str, Any], variables: dict[str, Any]) -> Any:
    try:
        if path.startswith("$$"):
            public = public_context(context)  # without the engine's private keys
            return public if path == "$$" else jsonpath.read(public, "$" + path[2:])
        if len(path) > 1 and (path[1].isalpha() or path[1] == "_"):
            end = 1
            while end < len(path) and (path[end].isalnum() or path[end] == "_"):
                end += 1
            name = path[1:end]
            if name not in variables:
                raise IntrinsicPathError(path, f"The variable '${name}' is not defined")
            rest = path[end:]
            return jsonpath.read(variables[name], "$" + rest) if rest else variables[name]
        return jsonpath.read(data, path)
    except jsonpath.PathNotFoundError as err:
        raise IntrinsicPathError(path, str(err)) from None


def _eval(node: Node, data: Any, context: dict[str, Any], variables: dict[str, Any]) -> Any:
    if isinstance(node, Literal):
        return node.value
    if isinstance(node, PathArg):
        return _read_path(node.path, data, context, variables)
    problem = arity_problem(node)
    if problem is not None:
        raise StatesFailure(INTRINSIC_FAILURE, problem, state_scoped=True)
    args = [_eval(arg, data, context, variables) for arg in node.args]
    return FUNCTIONS[node.name][0](node, args, context)


def evaluate(expr: str, data: Any, context: dict[str, Any], variables: dict[str, Any]) -> Any:
    parsed = parse(expr)
    if isinstance(parsed, str):
        raise StatesFailure(INTRINSIC_FAILURE, parsed, state_scoped=True)
    return _eval(parsed, data, context, variables)


def _validate_node(node: Node) -> str | None:
    if isinstance(node, Literal):
        return None
    if isinstance(node, PathArg):
        if node.path.startswith("$$") or not (
            len(node.path) > 1 and (node.path[1].isalpha() or node.path[1] == "_")
        ):
            check = "$" + node.path[2:] if node.path.startswith("$$") else node.path
            reason = jsonpath.validate_path(check)
            return f"invalid path '{node.path}': {reason}" if reason else None
        return None
    problem = arity_problem(node)
    if problem is not None:
        return problem
    for arg in node.args:
        problem = _validate_node(arg)
        if problem is not None:
            return problem
    return None


def validate(expr: str) -> str | None:
    parsed = parse(expr)
    if isinstance(parsed, str):
        return parsed
    return _validate_node(parsed)

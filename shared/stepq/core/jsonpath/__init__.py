"""JSONPath as Step Functions evaluates it (Jayway JsonPath semantics).

CONTRACT (other modules depend on it):

- ``validate_path(path: str) -> str | None``: None when ``path`` is a valid
  JSONPath for ASL (starts with ``$``), else a short reason. Used by definition
  validation.
- ``read(data, path: str) -> Any``: the value at ``path``. Definite paths
  (``$.a.b[0]``) return the value; indefinite paths (wildcards, slices,
  filters, ``..``) return a list of matches. A missing property raises
  ``PathNotFoundError`` with Jayway's text, e.g. ``Missing property in path
  $['no']`` or ``No results for path: $['x']``.
- ``write(data, path: str, value) -> Any``: ResultPath semantics: a new
  document with ``value`` placed at ``path`` (``$`` replaces the whole
  document; intermediate objects are created). Raises ``PathNotFoundError``
  when that cannot be done.

Fast paths matter: simple dotted paths are the hot path of the interpreter.

Extras: ``is_definite(path)`` (does ``read`` return one value?) and
``is_reference_path(path)`` (may it be a ResultPath?), for validation.

Why hand-written rather than jsonpath-ng: Step Functions' observable
behaviour comes from Jayway, and it differs from jsonpath-ng where it shows:
definite paths return a value but indefinite ones a list, missing leaves vs.
missing intermediate properties give different error texts, bracket names
keep backslashes verbatim, and the filter language (``in``, ``=~``,
``size``, ``empty``, ...) is Jayway's. Compiled paths are cached, and a
definite path evaluates as a plain loop over keys and indexes.

Where no recorded case shows AWS's text, messages follow Jayway's source
with its default json-smart provider (Java class names included).

Inside: ``tokens`` (a compiled path), ``parser`` (text -> tokens, cached),
``filters`` (the ``[?(...)]`` language), ``evaluate`` (read and write).
"""

from __future__ import annotations

from typing import Any

from stepq.core.jsonpath.evaluate import apply_function, put, read_definite, read_simple, walk
from stepq.core.jsonpath.parser import compile_path
from stepq.core.jsonpath.tokens import Func, InvalidPathError, PathNotFoundError

__all__ = [
    "InvalidPathError",
    "PathNotFoundError",
    "is_definite",
    "is_reference_path",
    "read",
    "validate_path",
    "write",
]

# --- public API ---------------------------------------------------------------


def validate_path(path: str) -> str | None:
    if not isinstance(path, str) or not path.startswith("$"):
        return "must start with '$'"
    try:
        compile_path(path)
    except InvalidPathError as err:
        return str(err)
    except RecursionError:  # the grammar's limits should make this unreachable
        return "nested too deeply"
    return None


def read(data: Any, path: str) -> Any:
    if path == "$":
        return data
    p = compile_path(path)
    if p.simple is not None:
        return read_simple(data, p, p.simple)
    if p.definite:
        return read_definite(data, p)
    tokens = p.tokens
    if isinstance(tokens[-1], Func):
        matches = list(walk(data, tokens[:-1], 0, data))
        return apply_function(tokens[-1].name, matches, str(p))
    return list(walk(data, tokens, 0, data))


def is_definite(path: str) -> bool:
    """True when ``read`` returns a single value rather than a list."""
    return compile_path(path).definite


def is_reference_path(path: str) -> bool:
    """True when ``path`` names one node by properties and indexes only, as
    ASL requires of ResultPath (and as ``write`` accepts)."""
    try:
        return path == "$" or compile_path(path).simple is not None
    except InvalidPathError:
        return False


def write(data: Any, path: str, value: Any) -> Any:
    if path == "$":
        return value
    p = compile_path(path)
    if p.simple is None:
        raise PathNotFoundError(
            f"Invalid path {path}: a ResultPath must name one node with properties and indexes"
        )
    return put(data, p, p.simple, 0, value)

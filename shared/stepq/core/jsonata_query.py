"""The JSONata query language, evaluated with the jsonata-python package.

CONTRACT:

- ``is_expression(value) -> bool``: a string of the form ``{% ... %}``.
- ``evaluate(expr: str, bindings: dict[str, Any], field: str) -> Any``: the
  value of one expression (without the ``{% %}``) with ``bindings`` as JSONata
  variables (``states`` -> the ``$states`` object with input, result,
  errorOutput, context; user variables by name). Raises ``StatesFailure``
  (``States.QueryEvaluationError``, state_scoped=True) with AWS's text, e.g.
  "The JSONata expression '$doesNotExist' specified for the field 'Output'
  returned nothing (undefined)." Compiled expressions are cached.
- ``evaluate_value(value, bindings, field) -> Any``: ``value`` with every
  ``{% %}`` string inside objects/arrays replaced by its evaluation; other
  values unchanged.
- ``check_syntax(expr: str) -> str | None``: None when it compiles, else a reason.

Extras (not part of the contract, safe to use):

- ``expression_text(value)``: the expression inside ``{% %}``, stripped.
- ``bindings["__seed__"]`` (a string), when present, makes ``$uuid()`` and
  ``$random()`` deterministic; it is never bound as a JSONata variable.

How AWS behaves, and how this module follows it:

- An expression that yields *undefined* fails the field with
  ``States.QueryEvaluationError``. Inside templates (``evaluate_value``) the
  same holds for every member, and the field is named like AWS does:
  ``Output/a/b[0]`` (``/`` before an object key, ``[i]`` for an index).
- A runtime error's cause is "... threw an error during evaluation. CODE:
  message" with jsonata-js's message text (values JSON-rendered).
- Step Functions adds ``$partition``, ``$range``, ``$hash``, ``$random``,
  ``$uuid`` and ``$parse`` and disables ``$eval``.
- Results are plain JSON: whole floats become ints (``$number("2")`` is 2),
  non-finite numbers become the strings JavaScript names them by.

Library notes (jsonata-python): JSON ``null`` must be passed in as
``Utils.NULL_VALUE`` (a Python ``None`` variable reads as undefined), and
with ``output_convert_nulls`` off the result keeps null and undefined apart.
A compiled ``Jsonata`` object keeps per-evaluation state on itself (current
input/environment, timestamp) and finds "the current instance" through a
thread-local, so each evaluation holds that expression's lock and makes the
expression the thread's current instance.
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
import random
import re
import threading
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

from jsonata import Functions, Jsonata
from jsonata.jexception import JException
from jsonata.utils import Utils

from stepq.core.failures import QUERY_EVALUATION_ERROR, StatesFailure

SEED_KEY = "__seed__"

_NULL = Utils.NULL_VALUE


def is_expression(value: Any) -> bool:
    return isinstance(value, str) and value.startswith("{%") and value.endswith("%}")


def expression_text(value: str) -> str:
    """The expression inside ``{% ... %}`` (or ``value`` itself), stripped."""
    if is_expression(value):
        value = value[2:-2]
    return value.strip()


def evaluate(expr: str, bindings: dict[str, Any], field: str) -> Any:
    return _evaluate(expression_text(expr), bindings, field, _rng_for(bindings))


def evaluate_value(value: Any, bindings: dict[str, Any], field: str) -> Any:
    # One generator for the whole template, so two $uuid() members differ.
    return _walk(value, bindings, field, _rng_for(bindings))


def check_syntax(expr: str) -> str | None:
    try:
        _compile(expression_text(expr))
    except JException as err:
        return _render_error(err)
    except Exception as err:  # the parser can fail with plain Python errors
        return str(err) or type(err).__name__
    return None


# --------------------------------------------------------------------------
# evaluation


def _walk(value: Any, bindings: dict[str, Any], field: str, rng: random.Random) -> Any:
    if is_expression(value):
        return _evaluate(expression_text(value), bindings, field, rng)
    if isinstance(value, dict):
        return {k: _walk(v, bindings, f"{field}/{k}", rng) for k, v in value.items()}
    if isinstance(value, list):
        return [_walk(v, bindings, f"{field}[{i}]", rng) for i, v in enumerate(value)]
    return value


def _evaluate(expr: str, bindings: dict[str, Any], field: str, rng: random.Random) -> Any:
    prefix = f"The JSONata expression '{expr}' specified for the field '{field}'"
    try:
        compiled = _compile(expr)
    except Exception as err:
        # Definitions are validated first, so this is rare; AWS would refuse it.
        reason = _render_error(err) if isinstance(err, JException) else str(err)
        raise _failure(f"{prefix} threw an error during evaluation. {reason}") from err

    variables = {k: _to_jsonata(v) for k, v in bindings.items() if k != SEED_KEY}
    _hide_seed(variables.get("states"))
    variables.update(_per_evaluation_functions(rng, bindings))
    try:
        result = compiled.run(variables)
    except JException as err:
        raise _failure(f"{prefix} threw an error during evaluation. {_render_error(err)}") from err
    except _FunctionError as err:
        raise _failure(f"{prefix} threw an error during evaluation. {err}") from err
    except RecursionError as err:
        raise _failure(f"{prefix} threw an error during evaluation. Stack overflow error") from err
    except Exception as err:  # library bugs surface as plain Python errors
        raise _failure(f"{prefix} threw an error during evaluation. {err}") from err

    if result is None or _is_function(result):
        raise _failure(f"{prefix} returned nothing (undefined).")
    return _to_json(result)


def _hide_seed(states: Any) -> None:
    # The seed may ride along in the context object; it is not AWS data.
    context = states.get("context") if isinstance(states, dict) else None
    if isinstance(context, dict):
        context.pop(SEED_KEY, None)  # a copy made by _to_jsonata, safe to edit


def _failure(cause: str) -> StatesFailure:
    return StatesFailure(QUERY_EVALUATION_ERROR, cause, state_scoped=True)


class _Compiled:
    """One parsed expression with the Step Functions functions bound."""

    def __init__(self, expr: str) -> None:
        self.jsonata = Jsonata(expr)
        if self.jsonata.errors:
            raise self.jsonata.errors[0]
        self.jsonata.set_output_convert_nulls(False)
        self.jsonata.set_validate_input(False)
        for name, fn in _STATIC_FUNCTIONS.items():
            self.jsonata.register_function(name, fn())
        # Step Functions disables $eval: calling it is "not a function" (T1006).
        self.jsonata.register_function("eval", None)
        self.lock = threading.RLock()

    def run(self, variables: dict[str, Any]) -> Any:
        current = Jsonata.CURRENT
        with self.lock:
            previous = getattr(current, "jsonata", None)
            # The library resolves "this evaluation" via the thread-local;
            # point it at us so no other (shared) instance gets mutated.
            current.jsonata = self.jsonata
            try:
                return self.jsonata.evaluate(None, variables)
            finally:
                if previous is None:
                    # The library treats a present-but-None attribute as set.
                    del current.jsonata
                else:
                    current.jsonata = previous


@functools.lru_cache(maxsize=4096)
def _compile(expr: str) -> _Compiled:
    return _Compiled(expr)


# --------------------------------------------------------------------------
# value conversion


def _to_jsonata(value: Any) -> Any:
    """A JSON value as the library wants it: JSON null is ``NULL_VALUE``."""
    if value is None:
        return _NULL
    if isinstance(value, dict):
        return {k: _to_jsonata(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_to_jsonata(v) for v in value]
    return value


def _to_json(value: Any) -> Any:
    """A library result as plain JSON (lists, dicts, str, int, float, bool, None)."""
    if value is None or value is _NULL:
        return None
    if isinstance(value, bool | str):
        return value
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return _json_number(value)
    if isinstance(value, dict):
        # JSON.stringify drops function-valued members.
        return {str(k): _to_json(v) for k, v in value.items() if not _is_function(v)}
    if isinstance(value, list):
        return [None if _is_function(v) else _to_json(v) for v in value]
    if _is_function(value):
        return None
    return value


def _json_number(value: float) -> Any:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    # JSON has one number type; AWS prints whole numbers without ".0".
    if value.is_integer() and abs(value) < 1e21:
        return int(value)
    return value


def _is_function(value: Any) -> bool:
    return Utils.is_function(value) or Functions.is_lambda(value) or Functions.is_regex(value)


# --------------------------------------------------------------------------
# error texts


# jsonata-python ships jsonata-java's catalog, where "function" reads
# "Object"; AWS runs jsonata-js, whose texts JSON-render {{values}}.
_PLACEHOLDER = re.compile(r"\{\{\{?\w+\}\}\}?")
_SPECIAL_TEXTS = {
    # AWS's catalog names both values but not the operator.
    "T2009": "The values {0} and {1} either side of the operator must be of the same data type",
}

# jsonata-js names a signature's array subtype in words.
_ARRAY_OF = {
    "a": "arrays",
    "b": "booleans",
    "f": "functions",
    "n": "numbers",
    "o": "objects",
    "s": "strings",
}


def _render_error(err: JException) -> str:
    code = getattr(err, "error", None)
    args = [err.current, err.expected, err.extra]
    template = JException.error_codes.get(code) if code else None
    if template is None:
        # Some call sites put the whole message in the code slot.
        return str(code) if code else str(err)
    if template == "{{{message}}}":
        return f"{code}: {args[0] if args[0] is not None else ''}"
    if code == "T0412":
        args[2] = _ARRAY_OF.get(args[2], args[2])
    if code in _SPECIAL_TEXTS:
        return f"{code}: " + _SPECIAL_TEXTS[code].format(*(_render_arg(a) for a in args))
    template = template.replace("Object", "function")
    values = iter(args)

    def substitute(match: re.Match[str]) -> str:
        value = next(values, None)
        if match.group(0).startswith("{{{"):
            return str(value)
        return _render_arg(value)

    return f"{code}: " + _PLACEHOLDER.sub(substitute, template)


def _render_arg(value: Any) -> str:
    if value is None:
        return "undefined"
    try:
        return json.dumps(_to_json(value), separators=(",", ":"), ensure_ascii=False)
    except (TypeError, ValueError):
        return str(value)


# --------------------------------------------------------------------------
# functions Step Functions adds to JSONata


class _FunctionError(Exception):
    """An AWS-added function refused its arguments; the text is the cause."""


def _native(fn: Callable[..., Any], signature: str) -> Jsonata.JFunction:
    # JFunction validates the signature (T0410 etc.); JLambda does the call.
    return Jsonata.JFunction(Jsonata.JLambda(fn), signature)


def _truncate(n: Any) -> int:
    # AWS rounds non-integer arguments towards zero.
    return int(n)


def _partition(array: Any, size: Any) -> Any:
    if array is None or size is None:
        return None
    chunk = _truncate(size)
    items = list(array)
    if chunk <= 0 or not items:
        return None
    return [items[i : i + chunk] for i in range(0, len(items), chunk)]


def _range(start: Any, end: Any, step: Any = None) -> Any:
    if start is None or end is None or step is None:
        return None
    lo, hi, by = _truncate(start), _truncate(end), _truncate(step)
    if by == 0 or (hi > lo and by < 0) or (hi < lo and by > 0):
        return None
    stop = hi + (1 if by > 0 else -1)
    # A sequence: a single-element range collapses to the bare number, as on AWS.
    return Utils.create_sequence_from_iter(range(lo, stop, by))


_HASHES = {
    "MD5": "md5",
    "SHA-1": "sha1",
    "SHA-256": "sha256",
    "SHA-384": "sha384",
    "SHA-512": "sha512",
}


def _hash(data: Any, algorithm: Any = None) -> Any:
    if data is None or algorithm is None:
        return None
    name = _HASHES.get(algorithm)
    if name is None:
        raise _FunctionError(
            f"The hash algorithm '{algorithm}' is not supported. Supported algorithms: "
            + ", ".join(_HASHES)
        )
    return hashlib.new(name, data.encode("utf-8")).hexdigest()


def _parse(text: Any) -> Any:
    if text is None:
        return None
    if not isinstance(text, str):
        # The signature lets JSON null through; AWS reports a signature mismatch.
        raise JException("T0410", -1, 1, "parse")
    try:
        return _to_jsonata(json.loads(text))
    except ValueError as err:
        raise _FunctionError(f"Unable to parse the string as JSON: {err}") from err


_STATIC_FUNCTIONS: dict[str, Callable[[], Any]] = {
    # Factories: Frame.bind stamps the function name onto the signature.
    "partition": lambda: _native(_partition, "<an:a>"),
    "range": lambda: _native(_range, "<nnn?:a>"),
    "hash": lambda: _native(_hash, "<ss?:s>"),
    "parse": lambda: _native(_parse, "<s:x>"),
}


def _rng_for(bindings: dict[str, Any]) -> random.Random:
    seed = bindings.get(SEED_KEY)
    # Unseeded: an OS-seeded generator (no shared global state).
    return random.Random(str(seed)) if seed is not None else random.Random()


def _decision_instant(bindings: dict[str, Any]) -> str | None:
    """The instant the state was entered: what ``$now()`` reports, so replays agree."""
    states = bindings.get("states")
    context = states.get("context") if isinstance(states, dict) else None
    state = context.get("State") if isinstance(context, dict) else None
    entered = state.get("EnteredTime") if isinstance(state, dict) else None
    return entered if isinstance(entered, str) else None


def _per_evaluation_functions(rng: random.Random, bindings: dict[str, Any]) -> dict[str, Any]:
    def random_fn(seed: Any = None) -> float:
        if seed is None:
            return rng.random()
        return random.Random(_truncate(seed)).random()

    def uuid_fn() -> str:
        return str(uuid.UUID(int=rng.getrandbits(128), version=4))

    functions = {"random": _native(random_fn, "<n?:n>"), "uuid": _native(uuid_fn, "<:s>")}
    instant = _decision_instant(bindings)
    if instant is not None:
        # The library's $now()/$millis() read the wall clock; the core must not.
        millis = int(datetime.fromisoformat(instant.replace("Z", "+00:00")).timestamp() * 1000)
        functions["now"] = _native(lambda: instant, "<:s>")
        functions["millis"] = _native(lambda: millis, "<:n>")
    return functions

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
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import math
import random
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache
from typing import Any

from stepq.core import jsonpath
from stepq.core.failures import INTRINSIC_FAILURE, RUNTIME, StatesFailure

# --------------------------------------------------------------------------- AST


@dataclass(frozen=True, slots=True)
class Literal:
    value: Any
    # Text between the quotes as written, escapes kept: States.Format needs it
    # to tell an escaped ``\{`` from a placeholder brace. None for non-strings.
    raw: str | None = None


@dataclass(frozen=True, slots=True)
class PathArg:
    path: str


@dataclass(frozen=True, slots=True)
class Call:
    name: str
    args: tuple[Literal | PathArg | Call, ...]
    text: str
    pos: int = 0  # offset in the whole expression (tells equal nested calls apart)


Node = Literal | PathArg | Call


class IntrinsicParseError(ValueError):
    pass


class IntrinsicPathError(StatesFailure):
    """A JSONPath argument did not resolve; ``path`` is the path as written."""

    def __init__(self, path: str, detail: str) -> None:
        super().__init__(RUNTIME, f"Invalid path '{path}' : {detail}", state_scoped=True)
        self.path = path


# ------------------------------------------------------------------------ parser

_ESCAPABLE = "'{}\\"


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def fail(self, msg: str) -> IntrinsicParseError:
        return IntrinsicParseError(f"{msg} at position {self.pos} in '{self.text}'")

    def peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def skip_ws(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos].isspace():
            self.pos += 1

    def parse(self) -> Call:
        self.skip_ws()
        node = self.call()
        self.skip_ws()
        if self.pos != len(self.text):
            raise self.fail("unexpected text after the function call")
        return node

    def call(self) -> Call:
        start = self.pos
        while self.pos < len(self.text) and (
            self.text[self.pos].isalnum() or self.text[self.pos] in "._"
        ):
            self.pos += 1
        name = self.text[start : self.pos]
        if not name.startswith("States.") or self.peek() != "(":
            raise self.fail("expected a function call like States.Name(...)")
        self.pos += 1
        args: list[Node] = []
        self.skip_ws()
        if self.peek() == ")":
            self.pos += 1
        else:
            while True:
                self.skip_ws()
                args.append(self.arg())
                self.skip_ws()
                ch = self.peek()
                self.pos += 1
                if ch == ")":
                    break
                if ch != ",":
                    self.pos -= 1
                    raise self.fail("expected ',' or ')'")
        return Call(name, tuple(args), self.text[start : self.pos], start)

    def arg(self) -> Node:
        ch = self.peek()
        if ch == "'":
            return self.string()
        if ch == "$":
            return PathArg(self.path())
        if ch == "-" or ch.isdigit():
            return self.number()
        for word, value in (("true", True), ("false", False), ("null", None)):
            if self.text.startswith(word, self.pos) and not self._ident_char(len(word)):
                self.pos += len(word)
                return Literal(value)
        if self.text.startswith("States.", self.pos):
            return self.call()
        raise self.fail("expected an argument")

    def _ident_char(self, offset: int) -> bool:
        i = self.pos + offset
        return i < len(self.text) and (self.text[i].isalnum() or self.text[i] == "_")

    def string(self) -> Literal:
        self.pos += 1  # opening quote
        start = self.pos
        out: list[str] = []
        while True:
            if self.pos >= len(self.text):
                raise self.fail("unterminated string literal")
            ch = self.text[self.pos]
            if ch == "\\" and self.pos + 1 < len(self.text):
                nxt = self.text[self.pos + 1]
                # Only the documented escapes are unescaped; any other
                # backslash stays, so JSON text like \" survives StringToJson.
                out.append(nxt if nxt in _ESCAPABLE else ch + nxt)
                self.pos += 2
                continue
            if ch == "'":
                raw = self.text[start : self.pos]
                self.pos += 1
                return Literal("".join(out), raw)
            out.append(ch)
            self.pos += 1

    def number(self) -> Literal:
        start = self.pos
        if self.peek() == "-":
            self.pos += 1
        while self.pos < len(self.text) and (
            self.text[self.pos].isdigit() or self.text[self.pos] in ".eE+-"
        ):
            self.pos += 1
        token = self.text[start : self.pos]
        try:
            value: int | float = json.loads(token)
        except ValueError:
            raise self.fail(f"invalid number '{token}'") from None
        if not isinstance(value, int | float):
            raise self.fail(f"invalid number '{token}'")
        return Literal(value)

    def path(self) -> str:
        # A path runs to the first ',' / ')' / space outside brackets and quotes;
        # filters such as [?(@.a > 1)] may hold all of those.
        start = self.pos
        depth = 0
        quote = ""
        while self.pos < len(self.text):
            ch = self.text[self.pos]
            if quote:
                if ch == "\\":
                    self.pos += 1
                elif ch == quote:
                    quote = ""
            elif ch in "'\"" and depth:
                quote = ch
            elif ch in "[(":
                depth += 1
            elif ch in "])":
                if depth == 0:
                    break
                depth -= 1
            elif depth == 0 and (ch == "," or ch.isspace()):
                break
            self.pos += 1
        if quote or depth:
            raise self.fail("unbalanced brackets in path")
        return self.text[start : self.pos]


@lru_cache(maxsize=4096)
def _parse(expr: str) -> Call | str:
    """The parsed call, or the reason it does not parse (cached either way)."""
    try:
        return _Parser(expr).parse()
    except IntrinsicParseError as err:
        return str(err)


# ----------------------------------------------------------------- value helpers


def _fail(call: Call, msg: str) -> StatesFailure:
    return StatesFailure(
        INTRINSIC_FAILURE,
        f"Invalid arguments in {call.name}: {msg}",
        state_scoped=True,
    )


def java_double(x: float) -> str:
    """``Double.toString`` of ``x`` (shortest digits, Java's plain/E layout)."""
    if math.isnan(x):
        return "NaN"
    if math.isinf(x):
        return "Infinity" if x > 0 else "-Infinity"
    if x == 0:
        return "-0.0" if math.copysign(1.0, x) < 0 else "0.0"
    sign, digit_tuple, exp = Decimal(repr(x)).as_tuple()
    assert isinstance(exp, int)
    digits = "".join(map(str, digit_tuple))
    sci = len(digits) - 1 + exp  # x == d.ddd * 10**sci
    digits = digits.rstrip("0") or "0"
    neg = "-" if sign else ""
    if 1e-3 <= abs(x) < 1e7:
        if sci >= 0:
            whole = digits[: sci + 1].ljust(sci + 1, "0")
            frac = digits[sci + 1 :] or "0"
        else:
            whole, frac = "0", "0" * (-sci - 1) + digits
        return f"{neg}{whole}.{frac}"
    return f"{neg}{digits[0]}.{digits[1:] or '0'}E{sci}"


def _java_str(value: Any) -> str:
    """``String.valueOf`` of the Java object AWS builds from a JSON value."""
    if isinstance(value, str):
        return value
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return java_double(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, list):
        return "[" + ", ".join(_java_str(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}={_java_str(v)}" for k, v in value.items()) + "}"
    return str(value)


_SHORT_ESCAPES = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\f": "\\f", "\n": "\\n"}
_SHORT_ESCAPES |= {"\r": "\\r", "\t": "\\t"}


def _jackson_string(s: str) -> str:
    out = ['"']
    for ch in s:
        esc = _SHORT_ESCAPES.get(ch)
        if esc is not None:
            out.append(esc)
        elif ch < " ":
            out.append(f"\\u{ord(ch):04X}")  # Jackson writes upper-case hex
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def to_json_string(value: Any) -> str:
    """Compact JSON as Jackson writes it (no spaces, non-ASCII kept, 1.0E20)."""
    if isinstance(value, str):
        return _jackson_string(value)
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return java_double(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, list):
        return "[" + ",".join(to_json_string(v) for v in value) + "]"
    if isinstance(value, dict):
        items = (f"{_jackson_string(str(k))}:{to_json_string(v)}" for k, v in value.items())
        return "{" + ",".join(items) + "}"
    raise TypeError(f"not a JSON value: {value!r}")


def _json_key(value: Any) -> Any:
    """A hashable key equal exactly when two JSON values are equal.

    Booleans are kept apart from numbers (Python says True == 1); numbers
    compare by value, so 1 and 1.0 are the same item.
    """
    if isinstance(value, bool):
        return ("b", value)
    if isinstance(value, int | float):
        return ("n", value)
    if isinstance(value, str):
        return ("s", value)
    if value is None:
        return ("z",)
    if isinstance(value, list):
        return ("l", tuple(_json_key(v) for v in value))
    if isinstance(value, dict):
        return ("o", frozenset((k, _json_key(v)) for k, v in value.items()))
    return ("?", repr(value))


def _java_round(x: float) -> int:
    """``Math.round``: halves go towards positive infinity (-0.5 -> 0, 2.5 -> 3)."""
    return math.floor(Decimal(x) + Decimal("0.5"))


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _require_int(call: Call, value: Any, what: str) -> int:
    if _is_number(value) and float(value).is_integer():
        return int(value)
    raise _fail(call, f"{what} must be an integer, but was {to_json_string(value)}")


def _rounded_int(call: Call, value: Any, what: str) -> int:
    # AWS rounds non-integer numbers for MathAdd / MathRandom to the nearest int.
    if not _is_number(value) or not math.isfinite(value):
        raise _fail(call, f"{what} must be a number, but was {to_json_string(value)}")
    n = value if isinstance(value, int) else _java_round(value)
    if not _INT_MIN <= n <= _INT_MAX:
        raise _fail(call, f"{what} must be between {_INT_MIN} and {_INT_MAX}, but was {n}")
    return n


def _require(call: Call, value: Any, kind: type | tuple[type, ...], what: str) -> Any:
    if isinstance(value, kind) and not isinstance(value, bool):
        return value
    raise _fail(call, f"{what} must be {_KIND_NAMES[kind]}, but was {to_json_string(value)}")


_KIND_NAMES: dict[Any, str] = {str: "a string", list: "an array", dict: "a JSON object"}
_INT_MIN, _INT_MAX = -(2**31), 2**31 - 1
_MAX_STRING = 10_000
_MAX_RANGE = 1000


class _JavaRandom:
    """``java.util.Random`` (48-bit LCG), for seeded ``States.MathRandom``.

    AWS runs on the JVM; a seeded call then gives the same number as AWS if
    AWS draws ``start + new Random(seed).nextInt(end - start)`` (our guess).
    """

    _MULT, _ADD, _MASK = 0x5DEECE66D, 0xB, (1 << 48) - 1

    def __init__(self, seed: int) -> None:
        self.state = (seed ^ self._MULT) & self._MASK

    def _next(self, bits: int) -> int:
        self.state = (self.state * self._MULT + self._ADD) & self._MASK
        return self.state >> (48 - bits)

    def next_int(self, bound: int) -> int:
        r = self._next(31)
        m = bound - 1
        if bound & m == 0:
            return (bound * r) >> 31
        u = r
        r = u % bound
        while u - r + m >= 2**31:  # Java's int overflow check, unrolled
            u = self._next(31)
            r = u % bound
        return r


# --------------------------------------------------------------------- functions

Impl = Callable[[Call, list[Any], dict[str, Any]], Any]


def _format(call: Call, args: list[Any], _ctx: dict[str, Any]) -> str:
    template = _require(call, args[0], str, "the format string")
    # A literal template is scanned as written, so an escaped \{ stays a
    # brace; a template read from a path has no escapes to honour.
    lit = call.args[0]
    raw = lit.raw if isinstance(lit, Literal) else None
    escaped = raw is not None
    text = raw if raw is not None else template
    values = args[1:]
    out: list[str] = []
    used = 0
    i = 0
    while i < len(text):
        ch = text[i]
        if escaped and ch == "\\" and i + 1 < len(text):
            nxt = text[i + 1]
            out.append(nxt if nxt in _ESCAPABLE else ch + nxt)
            i += 2
            continue
        if ch == "{" and text.startswith("{}", i):
            if used >= len(values):
                raise _fail(call, "the format string has more placeholders than arguments")
            out.append(_java_str(values[used]))
            used += 1
            i += 2
            continue
        out.append(ch)
        i += 1
    if used != len(values):
        raise _fail(call, "the format string has fewer placeholders than arguments")
    return "".join(out)


def _string_to_json(call: Call, args: list[Any], _ctx: dict[str, Any]) -> Any:
    text = _require(call, args[0], str, "the argument")
    if not text.strip():
        return None  # Jackson reads blank text as a missing node -> null

    def no_constants(name: str) -> Any:
        raise ValueError(f"unexpected token {name}")

    try:
        return json.loads(text, parse_constant=no_constants)
    except ValueError as err:
        raise _fail(call, f"the argument is not valid JSON: {err}") from None


def _json_to_string(call: Call, args: list[Any], _ctx: dict[str, Any]) -> str:
    return to_json_string(args[0])


def _array(call: Call, args: list[Any], _ctx: dict[str, Any]) -> list[Any]:
    return list(args)


def _array_partition(call: Call, args: list[Any], _ctx: dict[str, Any]) -> list[Any]:
    array = _require(call, args[0], list, "the first argument")
    size = _require_int(call, args[1], "the chunk size")
    if size <= 0:
        raise _fail(call, f"the chunk size must be a positive integer, but was {size}")
    return [array[i : i + size] for i in range(0, len(array), size)]


def _array_contains(call: Call, args: list[Any], _ctx: dict[str, Any]) -> bool:
    array = _require(call, args[0], list, "the first argument")
    key = _json_key(args[1])
    return any(_json_key(item) == key for item in array)


def _array_range(call: Call, args: list[Any], _ctx: dict[str, Any]) -> list[int]:
    first = _require_int(call, args[0], "the start")
    last = _require_int(call, args[1], "the end")
    step = _require_int(call, args[2], "the step")
    if step == 0:
        raise _fail(call, "the step must not be 0")
    count = max(0, (last - first) // step + 1)
    if count > _MAX_RANGE:
        raise _fail(call, f"the result can contain at most {_MAX_RANGE} items, not {count}")
    return [first + i * step for i in range(count)]


def _array_get_item(call: Call, args: list[Any], _ctx: dict[str, Any]) -> Any:
    array = _require(call, args[0], list, "the first argument")
    index = _require_int(call, args[1], "the index")
    if not 0 <= index < len(array):
        raise _fail(call, f"the index {index} is out of bounds for an array of {len(array)}")
    return array[index]


def _array_length(call: Call, args: list[Any], _ctx: dict[str, Any]) -> int:
    return len(_require(call, args[0], list, "the argument"))


def _array_unique(call: Call, args: list[Any], _ctx: dict[str, Any]) -> list[Any]:
    seen: set[Any] = set()
    out = []
    for item in _require(call, args[0], list, "the argument"):
        key = _json_key(item)
        if key not in seen:
            seen.add(key)
            out.append(item)
    return out


def _limited_string(call: Call, value: Any, what: str) -> str:
    text = _require(call, value, str, what)
    if len(text) > _MAX_STRING:
        raise _fail(call, f"{what} can be at most {_MAX_STRING} characters long")
    return text


def _base64_encode(call: Call, args: list[Any], _ctx: dict[str, Any]) -> str:
    text = _limited_string(call, args[0], "the argument")
    return base64.b64encode(text.encode("utf-8")).decode("ascii")


def _base64_decode(call: Call, args: list[Any], _ctx: dict[str, Any]) -> str:
    text = _limited_string(call, args[0], "the argument")
    # Java's decoder accepts missing '=' padding; Python's needs it.
    padded = text + "=" * (-len(text) % 4)
    try:
        raw = base64.b64decode(padded, validate=True)
    except (binascii.Error, ValueError):
        raise _fail(call, "the argument is not valid Base64") from None
    return raw.decode("utf-8", errors="replace")  # Java's new String(bytes, UTF_8)


_HASHES = {"MD5": "md5", "SHA-1": "sha1", "SHA-256": "sha256", "SHA-384": "sha384"}
_HASHES["SHA-512"] = "sha512"


def _hash(call: Call, args: list[Any], _ctx: dict[str, Any]) -> str:
    text = _limited_string(call, args[0], "the data")
    algorithm = _require(call, args[1], str, "the algorithm")
    name = _HASHES.get(algorithm)
    if name is None:
        supported = ", ".join(_HASHES)
        raise _fail(call, f"the algorithm must be one of {supported}, but was '{algorithm}'")
    return hashlib.new(name, text.encode("utf-8")).hexdigest()


def _json_merge(call: Call, args: list[Any], _ctx: dict[str, Any]) -> dict[str, Any]:
    first = _require(call, args[0], dict, "the first argument")
    second = _require(call, args[1], dict, "the second argument")
    deep = args[2]
    if not isinstance(deep, bool):
        raise _fail(call, f"the deep merge flag must be a boolean, but was {to_json_string(deep)}")
    if deep:
        raise _fail(call, "only shallow merging is supported; the deep merge flag must be false")
    return {**first, **second}


def _rng(call: Call, ctx: dict[str, Any]) -> random.Random:
    # Seeded from the interpreter's replay seed plus the call's text and
    # offset, so different calls in one expression draw different values.
    seed = ctx.get("__seed__")
    if seed is None:
        return random.Random()
    return random.Random(f"{seed}|{call.pos}|{call.text}")


def _math_random(call: Call, args: list[Any], ctx: dict[str, Any]) -> int:
    start = _rounded_int(call, args[0], "the start")
    end = _rounded_int(call, args[1], "the end")
    if end <= start:
        raise _fail(call, f"the end ({end}) must be greater than the start ({start})")
    if len(args) == 3:
        seed = _rounded_int(call, args[2], "the seed")
        return start + _JavaRandom(seed).next_int(end - start)
    return _rng(call, ctx).randrange(start, end)


def _math_add(call: Call, args: list[Any], _ctx: dict[str, Any]) -> int:
    return _rounded_int(call, args[0], "the first argument") + _rounded_int(
        call, args[1], "the second argument"
    )


def _string_split(call: Call, args: list[Any], _ctx: dict[str, Any]) -> list[str]:
    text = _require(call, args[0], str, "the string")
    delimiters = set(_require(call, args[1], str, "the delimiter"))
    # java.util.StringTokenizer: every delimiter char splits, empty tokens drop.
    tokens: list[str] = []
    current: list[str] = []
    for ch in text:
        if ch in delimiters:
            if current:
                tokens.append("".join(current))
                current = []
        else:
            current.append(ch)
    if current:
        tokens.append("".join(current))
    return tokens


def _uuid(call: Call, args: list[Any], ctx: dict[str, Any]) -> str:
    return str(uuid.UUID(int=_rng(call, ctx).getrandbits(128), version=4))


# name -> (implementation, min args, max args or None for no limit)
_FUNCTIONS: dict[str, tuple[Impl, int, int | None]] = {
    "States.Format": (_format, 1, None),
    "States.StringToJson": (_string_to_json, 1, 1),
    "States.JsonToString": (_json_to_string, 1, 1),
    "States.Array": (_array, 0, None),
    "States.ArrayPartition": (_array_partition, 2, 2),
    "States.ArrayContains": (_array_contains, 2, 2),
    "States.ArrayRange": (_array_range, 3, 3),
    "States.ArrayGetItem": (_array_get_item, 2, 2),
    "States.ArrayLength": (_array_length, 1, 1),
    "States.ArrayUnique": (_array_unique, 1, 1),
    "States.Base64Encode": (_base64_encode, 1, 1),
    "States.Base64Decode": (_base64_decode, 1, 1),
    "States.Hash": (_hash, 2, 2),
    "States.JsonMerge": (_json_merge, 3, 3),
    "States.MathRandom": (_math_random, 2, 3),
    "States.MathAdd": (_math_add, 2, 2),
    "States.StringSplit": (_string_split, 2, 2),
    "States.UUID": (_uuid, 0, 0),
}


# -------------------------------------------------------------------- evaluation


def _arity_problem(call: Call) -> str | None:
    spec = _FUNCTIONS.get(call.name)
    if spec is None:
        return f"unknown intrinsic function '{call.name}'"
    _impl, low, high = spec
    n = len(call.args)
    if n < low or (high is not None and n > high):
        if high is None:
            want = f"at least {low}"
        elif low == high:
            want = str(low)
        else:
            want = f"{low} to {high}"
        return f"{call.name} takes {want} argument(s), but got {n}"
    return None


def _read_path(path: str, data: Any, context: dict[str, Any], variables: dict[str, Any]) -> Any:
    try:
        if path.startswith("$$"):
            if path == "$$":
                return {k: v for k, v in context.items() if k != "__seed__"}
            return jsonpath.read(context, "$" + path[2:])
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
    problem = _arity_problem(node)
    if problem is not None:
        raise StatesFailure(INTRINSIC_FAILURE, problem, state_scoped=True)
    args = [_eval(arg, data, context, variables) for arg in node.args]
    return _FUNCTIONS[node.name][0](node, args, context)


def evaluate(expr: str, data: Any, context: dict[str, Any], variables: dict[str, Any]) -> Any:
    parsed = _parse(expr)
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
    problem = _arity_problem(node)
    if problem is not None:
        return problem
    for arg in node.args:
        problem = _validate_node(arg)
        if problem is not None:
            return problem
    return None


def validate(expr: str) -> str | None:
    parsed = _parse(expr)
    if isinstance(parsed, str):
        return parsed
    return _validate_node(parsed)

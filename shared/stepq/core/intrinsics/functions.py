"""The ``States.*`` functions: each one's implementation and argument count."""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import math
import random
import uuid
from collections.abc import Callable
from typing import Any

from stepq.core.failures import INTRINSIC_FAILURE, StatesFailure
from stepq.core.intrinsics.java import JavaRandom, java_round, java_str, to_json_string
from stepq.core.intrinsics.syntax import ESCAPABLE, Call, Literal


def _fail(call: Call, msg: str) -> StatesFailure:
    return StatesFailure(
        INTRINSIC_FAILURE,
        f"Invalid arguments in {call.name}: {msg}",
        state_scoped=True,
    )


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
    n = value if isinstance(value, int) else java_round(value)
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
            out.append(nxt if nxt in ESCAPABLE else ch + nxt)
            i += 2
            continue
        if ch == "{" and text.startswith("{}", i):
            if used >= len(values):
                raise _fail(call, "the format string has more placeholders than arguments")
            out.append(java_str(values[used]))
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
        return start + JavaRandom(seed).next_int(end - start)
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
FUNCTIONS: dict[str, tuple[Impl, int, int | None]] = {
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


def arity_problem(call: Call) -> str | None:
    spec = FUNCTIONS.get(call.name)
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

"""Values as AWS, running on Java and Jackson, renders them.

``Double.toString``, ``String.valueOf`` of the Java objects built from JSON,
Jackson's compact JSON, ``Math.round`` and ``java.util.Random``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from decimal import Decimal
from typing import Any


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


def _scalar(value: Any, other: Callable[[Any], str]) -> str:
    """null, a boolean or a number as Java and Jackson both write it; ``other`` for the rest."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return java_double(value)
    if isinstance(value, int):
        return str(value)
    return other(value)


def java_str(value: Any) -> str:
    """``String.valueOf`` of the Java object AWS builds from a JSON value."""
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return "[" + ", ".join(java_str(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}={java_str(v)}" for k, v in value.items()) + "}"
    return _scalar(value, str)


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
    if isinstance(value, list):
        return "[" + ",".join(to_json_string(v) for v in value) + "]"
    if isinstance(value, dict):
        items = (f"{_jackson_string(str(k))}:{to_json_string(v)}" for k, v in value.items())
        return "{" + ",".join(items) + "}"
    return _scalar(value, _not_json)


def _not_json(value: Any) -> str:
    raise TypeError(f"not a JSON value: {value!r}")


def java_round(x: float) -> int:
    """``Math.round``: halves go towards positive infinity (-0.5 -> 0, 2.5 -> 3)."""
    return math.floor(Decimal(x) + Decimal("0.5"))


class JavaRandom:
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

"""Filter expressions (``[?(...)]``): Jayway's filter language and its operators.

A filter compiles to a test ``(node, root) -> bool``. Its operands may be
paths themselves (``@.price``, ``$.limit``); those are compiled with the
``compile_path`` the path parser hands in (the grammar is recursive), told
how deep they sit so that nesting stops at ``MAX_NESTING``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from stepq.core.jsonpath.evaluate import UNDEF, is_num, read_definite, walk
from stepq.core.jsonpath.tokens import (
    MAX_NESTING,
    CompiledPath,
    InvalidPathError,
    NestingError,
    PathNotFoundError,
)


def _closing(s: str, start: int, opening: str, closing: str) -> int:
    """Index of the bracket that closes the one at ``start``, skipping quoted
    text (and regex literals); -1 when unbalanced. ``opening`` and ``closing``
    list the bracket characters counted (``"("`` and ``")"``, or ``"[{"`` and ``"]}"``)."""
    depth = 0
    i = start
    quote = ""
    while i < len(s):
        c = s[i]
        if quote:
            if c == "\\":
                i += 1
            elif c == quote:
                quote = ""
        elif c in "'\"":
            quote = c
        elif c in opening:
            depth += 1
        elif c in closing:
            depth -= 1
            if depth == 0:
                return i
        i += 1
    return -1


def matching_paren(s: str, start: int) -> int:
    return _closing(s, start, "(", ")")


# --- the filter parser -----------------------------------------------------

_Operand = Callable[[Any, Any], Any]
_Test = Callable[[Any, Any], bool]
_CompileNested = Callable[[str, int], CompiledPath]  # (path, nesting depth)
_WORD_OPS = ("subsetof", "contains", "anyof", "noneof", "empty", "size", "nin", "in")
_SYM_OPS = ("==", "!=", "<=", ">=", "=~", "<", ">")
_NUM_RE = re.compile(r"-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?")
_REGEX_RE = re.compile(r"/((?:\\.|[^/\\])*)/([a-zA-Z]*)")


class FilterParser:
    """``expr := or; or := and ('||' and)*; and := unary ('&&' unary)*;
    unary := '!' unary | '(' or ')' | operand [op operand]``."""

    def __init__(self, text: str, compile_path: _CompileNested, depth: int = 1) -> None:
        self.s = text
        self.pos = 0
        self.compile_path = compile_path
        self.depth = depth  # filters, parentheses and negations around this point
        self.check_depth()

    def fail(self, why: str) -> InvalidPathError:
        return InvalidPathError(f"{why} at position {self.pos}")

    def check_depth(self) -> None:
        if self.depth > MAX_NESTING:
            raise NestingError(f"Filter nested more than {MAX_NESTING} levels deep")

    def nested(self, parse: Callable[[], _Test]) -> _Test:
        """``parse()`` one level deeper."""
        self.depth += 1
        try:
            self.check_depth()
            return parse()
        finally:
            self.depth -= 1

    def parse(self) -> _Test:
        test = self.parse_or()
        self.ws()
        if self.pos != len(self.s):
            raise self.fail("Unexpected text in filter")
        return test

    def ws(self) -> None:
        while self.pos < len(self.s) and self.s[self.pos] in " \t\n":
            self.pos += 1

    def eat(self, lit: str) -> bool:
        self.ws()
        if self.s.startswith(lit, self.pos):
            self.pos += len(lit)
            return True
        return False

    def parse_or(self) -> _Test:
        parts = [self.parse_and()]
        while self.eat("||"):
            parts.append(self.parse_and())
        if len(parts) == 1:
            return parts[0]
        return lambda n, r: any(p(n, r) for p in parts)

    def parse_and(self) -> _Test:
        parts = [self.parse_unary()]
        while self.eat("&&"):
            parts.append(self.parse_unary())
        if len(parts) == 1:
            return parts[0]
        return lambda n, r: all(p(n, r) for p in parts)

    def parse_unary(self) -> _Test:
        self.ws()
        if self.s.startswith("!", self.pos) and not self.s.startswith("!=", self.pos):
            self.pos += 1
            inner = self.nested(self.parse_unary)
            return lambda n, r: not inner(n, r)
        if self.s.startswith("(", self.pos):
            self.pos += 1
            inner = self.nested(self.parse_or)
            if not self.eat(")"):
                raise self.fail("Expected ')'")
            return inner
        is_path = self.s.startswith(("@", "$"), self.pos)
        left = self.operand()
        op = self.operator()
        if op is None:
            # A lone path is an existence check: its value does not matter.
            if is_path:
                return lambda n, r: _exists(left(n, r))
            return lambda n, r: left(n, r) is True
        right = self.operand()
        compare = _OPERATORS[op]
        return lambda n, r: compare(left(n, r), right(n, r))

    def operator(self) -> str | None:
        self.ws()
        for op in _SYM_OPS:
            if self.s.startswith(op, self.pos):
                self.pos += len(op)
                return op
        for op in _WORD_OPS:
            end = self.pos + len(op)
            if self.s.startswith(op, self.pos) and (
                end >= len(self.s) or not self.s[end].isalnum()
            ):
                self.pos = end
                return op
        return None

    def operand(self) -> _Operand:
        self.ws()
        s = self.s
        if self.pos >= len(s):
            raise self.fail("Missing operand")
        c = s[self.pos]
        if c in "@$":
            return self.path_operand()
        if c in "'\"":
            value: Any = self.string_literal()
        elif c == "/":
            m = _REGEX_RE.match(s, self.pos)
            if not m:
                raise self.fail("Invalid regular expression")
            self.pos = m.end()
            flags = re.IGNORECASE if "i" in m.group(2) else 0
            flags |= re.MULTILINE if "m" in m.group(2) else 0
            flags |= re.DOTALL if "s" in m.group(2) else 0
            try:
                value = re.compile(m.group(1), flags)
            # OverflowError: a repeat count over the engine's limit (a{4294967296}).
            except (re.error, OverflowError, RecursionError) as err:
                raise self.fail(f"Invalid regular expression: {err}") from None
        elif c in "[{":
            value = self.json_literal()
        else:
            m = _NUM_RE.match(s, self.pos)
            if m:
                self.pos = m.end()
                text = m.group(0)
                try:
                    value = float(text) if any(ch in text for ch in ".eE") else int(text)
                except ValueError:  # more digits than int() converts
                    raise self.fail(f"Invalid number {text[:40]}") from None
            else:
                for word, val in (("true", True), ("false", False), ("null", None)):
                    if s.startswith(word, self.pos):
                        self.pos += len(word)
                        value = val
                        break
                else:
                    raise self.fail(f"Unexpected character '{c}' in filter")
        return lambda n, r: value

    def string_literal(self) -> str:
        s = self.s
        quote = s[self.pos]
        i = self.pos + 1
        buf: list[str] = []
        while i < len(s) and s[i] != quote:
            if s[i] == "\\" and i + 1 < len(s):
                i += 1
            buf.append(s[i])
            i += 1
        if i >= len(s):
            raise self.fail("Unterminated string")
        self.pos = i + 1
        return "".join(buf)

    def json_literal(self) -> Any:
        # Jayway accepts JSON arrays/objects, also with single-quoted strings.
        s = self.s
        i = _closing(s, self.pos, "[{", "]}")
        if i < 0:
            i = len(s)  # unbalanced: the literal runs to the end of the filter
        text = s[self.pos : i + 1]
        try:
            value = json.loads(text)
        except (ValueError, RecursionError):
            try:
                value = json.loads(_single_to_double_quotes(text))
            except (ValueError, RecursionError):
                raise self.fail(f"Invalid JSON literal {text[:200]}") from None
        self.pos = i + 1
        return value

    def path_operand(self) -> _Operand:
        s = self.s
        start = self.pos
        i = self.pos + 1
        while i < len(s):
            ch = s[i]
            if ch == "[":
                close = _bracket_end(s, i)
                if close < 0:
                    raise self.fail("Unterminated '['")
                i = close + 1
            elif ch == "(" and s.startswith("()", i):
                i += 2
            elif ch in " \t\n)=!<>&|~,":
                break
            else:
                i += 1
        self.pos = i
        text = s[start:i]
        relative = text[0] == "@"
        sub = self.compile_path("$" + text[1:], self.depth)
        if sub.definite:

            def definite(n: Any, r: Any) -> Any:
                try:
                    return read_definite(n if relative else r, sub)
                except PathNotFoundError:
                    return UNDEF

            return definite
        return lambda n, r: list(walk(n if relative else r, sub.tokens, 0, r))


def _bracket_end(s: str, start: int) -> int:
    return _closing(s, start, "[", "]")


def _single_to_double_quotes(text: str) -> str:
    out: list[str] = []
    in_single = False
    for ch in text:
        if ch == "'":
            out.append('"')
            in_single = not in_single
        elif ch == '"' and in_single:
            out.append('\\"')
        else:
            out.append(ch)
    return "".join(out)


def _exists(value: Any) -> bool:
    # An indefinite sub-path yields a list of matches: exists when any matched.
    return value is not UNDEF and value != []


def _eq(a: Any, b: Any) -> bool:
    if a is UNDEF or b is UNDEF:
        return False
    if is_num(a):
        if is_num(b):
            return a == b
        if isinstance(b, str):  # Jayway's NumberNode compares a numeric string
            try:
                return a == float(b)
            except ValueError:
                return False
        return False
    if isinstance(a, str):
        if isinstance(b, str):
            return a == b
        if is_num(b):  # ... while StringNode compares text
            return a == (str(b) if isinstance(b, int) else repr(b))
        return False
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    return a == b


def _order(a: Any, b: Any, check: Callable[[Any, Any], bool]) -> bool:
    if (is_num(a) and is_num(b)) or (isinstance(a, str) and isinstance(b, str)):
        return check(a, b)
    return False


def _regex(a: Any, b: Any) -> bool:
    if not isinstance(b, re.Pattern) or a is UNDEF:
        return False
    text = a if isinstance(a, str) else json.dumps(a, separators=(",", ":"))
    return b.fullmatch(text) is not None


def _as_list(v: Any) -> list[Any] | None:
    return v if isinstance(v, list) else None


def _in(a: Any, b: Any) -> bool:
    items = _as_list(b)
    return items is not None and any(_eq(a, x) for x in items)


def _subsetof(a: Any, b: Any) -> bool:
    la, lb = _as_list(a), _as_list(b)
    return la is not None and lb is not None and all(_in(x, lb) for x in la)


def _anyof(a: Any, b: Any) -> bool:
    la, lb = _as_list(a), _as_list(b)
    return la is not None and lb is not None and any(_in(x, lb) for x in la)


def _noneof(a: Any, b: Any) -> bool:
    la, lb = _as_list(a), _as_list(b)
    return la is not None and lb is not None and not any(_in(x, lb) for x in la)


def _size(a: Any, b: Any) -> bool:
    return isinstance(a, list | str) and is_num(b) and len(a) == b


def _empty(a: Any, b: Any) -> bool:
    return isinstance(a, list | str) and isinstance(b, bool) and (len(a) == 0) == b


def _contains(a: Any, b: Any) -> bool:
    if isinstance(a, str):
        return isinstance(b, str) and b in a
    return _in(b, a)


_OPERATORS: dict[str, Callable[[Any, Any], bool]] = {
    "==": _eq,
    "!=": lambda a, b: not _eq(a, b),
    "<": lambda a, b: _order(a, b, lambda x, y: x < y),
    "<=": lambda a, b: _order(a, b, lambda x, y: x <= y),
    ">": lambda a, b: _order(a, b, lambda x, y: x > y),
    ">=": lambda a, b: _order(a, b, lambda x, y: x >= y),
    "=~": _regex,
    "in": _in,
    "nin": lambda a, b: _as_list(b) is not None and not _in(a, b),
    "subsetof": _subsetof,
    "anyof": _anyof,
    "noneof": _noneof,
    "size": _size,
    "empty": _empty,
    "contains": _contains,
}

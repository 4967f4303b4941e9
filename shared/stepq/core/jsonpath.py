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
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from typing import Any


class PathNotFoundError(Exception):
    """A path did not resolve; ``str(err)`` is the Jayway-style message."""


class InvalidPathError(PathNotFoundError):
    """The path does not parse. A subclass so that callers mapping
    ``PathNotFoundError`` to an execution failure also cover it."""


# --- tokens -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Prop:
    names: tuple[str, ...]

    def fragment(self) -> str:
        return "[" + ",".join(f"'{n}'" for n in self.names) + "]"


@dataclass(frozen=True, slots=True)
class _Index:
    indexes: tuple[int, ...]

    def fragment(self) -> str:
        return "[" + ",".join(str(i) for i in self.indexes) + "]"


@dataclass(frozen=True, slots=True)
class _Slice:
    start: int | None
    stop: int | None

    def fragment(self) -> str:
        a = "" if self.start is None else str(self.start)
        b = "" if self.stop is None else str(self.stop)
        return f"[{a}:{b}]"


@dataclass(frozen=True, slots=True)
class _Wild:
    def fragment(self) -> str:
        return "[*]"


@dataclass(frozen=True, slots=True)
class _Scan:
    def fragment(self) -> str:
        return ".."


@dataclass(frozen=True, slots=True)
class _Filter:
    test: Callable[[Any, Any], bool] = lambda node, root: False
    text: str = ""

    def fragment(self) -> str:
        return "[?]"


@dataclass(frozen=True, slots=True)
class _Func:
    name: str

    def fragment(self) -> str:
        return f".{self.name}()"


_Token = _Prop | _Index | _Slice | _Wild | _Scan | _Filter | _Func


@dataclass(frozen=True, slots=True)
class _Path:
    text: str
    tokens: tuple[_Token, ...]
    definite: bool
    # For definite paths without functions or multi-name merges: the plain
    # keys/indexes, evaluated by a tight loop.
    simple: tuple[str | int, ...] | None

    def __str__(self) -> str:
        return "$" + "".join(t.fragment() for t in self.tokens)


def _is_definite(tokens: tuple[_Token, ...]) -> bool:
    for i, tok in enumerate(tokens):
        if isinstance(tok, _Prop):
            # Several names at the leaf merge into one object (definite);
            # anywhere else they fan out.
            last = i == len(tokens) - 1 or isinstance(tokens[i + 1], _Func)
            if len(tok.names) > 1 and not last:
                return False
        elif isinstance(tok, _Index):
            if len(tok.indexes) > 1:
                return False
        elif isinstance(tok, _Func):
            continue
        else:
            return False
    return True


# --- parser -----------------------------------------------------------------

_SIMPLE_RE = re.compile(r"\$(?:\.[A-Za-z_][A-Za-z0-9_\-]*|\[-?\d+\])*")
_SIMPLE_PART_RE = re.compile(r"\.([A-Za-z_][A-Za-z0-9_\-]*)|\[(-?\d+)\]")
_NAME_STOP = " \t.[()"
_FUNCTIONS = frozenset(
    {"length", "size", "min", "max", "avg", "sum", "stddev", "keys", "first", "last"}
)


@lru_cache(maxsize=4096)
def _compile(path: str) -> _Path:
    if not isinstance(path, str) or not path.startswith("$"):
        raise InvalidPathError(f"Path must start with '$': {path!r}")
    if _SIMPLE_RE.fullmatch(path):
        simple: list[str | int] = []
        toks: list[_Token] = []
        for m in _SIMPLE_PART_RE.finditer(path):
            if m.group(1) is not None:
                simple.append(m.group(1))
                toks.append(_Prop((m.group(1),)))
            else:
                simple.append(int(m.group(2)))
                toks.append(_Index((int(m.group(2)),)))
        return _Path(path, tuple(toks), True, tuple(simple))
    tokens = tuple(_Parser(path, 1).parse_tokens())
    definite = _is_definite(tokens)
    simple_keys: tuple[str | int, ...] | None = None
    if definite and all(
        (isinstance(t, _Prop) and len(t.names) == 1) or isinstance(t, _Index) for t in tokens
    ):
        simple_keys = tuple(t.names[0] if isinstance(t, _Prop) else t.indexes[0] for t in tokens)  # type: ignore[union-attr]
    return _Path(path, tokens, definite, simple_keys)


class _Parser:
    """Jayway's path grammar, read left to right from ``pos``."""

    def __init__(self, text: str, pos: int) -> None:
        self.s = text
        self.pos = pos

    def fail(self, why: str) -> InvalidPathError:
        return InvalidPathError(f"{why} at position {self.pos} in path {self.s}")

    def parse_tokens(self) -> list[_Token]:
        out: list[_Token] = []
        s = self.s
        while self.pos < len(s):
            c = s[self.pos]
            if out and isinstance(out[-1], _Func):
                raise self.fail("Function must be the last path element")
            if s.startswith("..", self.pos):
                self.pos += 2
                out.append(_Scan())
                if self.pos >= len(s):
                    raise self.fail("Path must not end with '..'")
                if s[self.pos] == "[":
                    out.append(self.bracket())
                else:
                    out.append(self.name_or_func())
            elif c == ".":
                self.pos += 1
                if self.pos >= len(s):
                    raise self.fail("Path must not end with a '.'")
                if s[self.pos] == "[":
                    out.append(self.bracket())
                else:
                    out.append(self.name_or_func())
            elif c == "[":
                out.append(self.bracket())
            else:
                raise self.fail(f"Unexpected character '{c}'")
        return out

    def name_or_func(self) -> _Token:
        s = self.s
        start = self.pos
        while self.pos < len(s) and s[self.pos] not in _NAME_STOP:
            self.pos += 1
        name = s[start : self.pos]
        if name == "*":
            return _Wild()
        if not name:
            raise self.fail("Empty property name")
        if self.pos < len(s) and s[self.pos] == "(":
            if not s.startswith("()", self.pos):
                raise self.fail("Function arguments are not supported")
            if name not in _FUNCTIONS:
                raise self.fail(f"Function of name: {name} cannot be created")
            self.pos += 2
            return _Func(name)
        if self.pos < len(s) and s[self.pos] in " \t)":
            raise self.fail(f"Unexpected character '{s[self.pos]}'")
        return _Prop((name,))

    def bracket(self) -> _Token:
        s = self.s
        self.pos += 1  # '['
        self.skip_ws()
        if self.pos >= len(s):
            raise self.fail("Unterminated '['")
        c = s[self.pos]
        if c in "'\"":
            tok: _Token = _Prop(tuple(self.quoted_names()))
        elif c == "*":
            self.pos += 1
            tok = _Wild()
        elif c == "?":
            tok = self.filter()
        else:
            end = s.find("]", self.pos)
            if end < 0:
                raise self.fail("Unterminated '['")
            body = s[self.pos : end].replace(" ", "")
            self.pos = end
            tok = self.index_or_slice(body)
        self.skip_ws()
        if self.pos >= len(s) or s[self.pos] != "]":
            raise self.fail("Expected ']'")
        self.pos += 1
        return tok

    def quoted_names(self) -> list[str]:
        # Backslash only protects the next character from ending the name;
        # the text is kept verbatim, as AWS does (see escape-sequence case).
        s = self.s
        names: list[str] = []
        while True:
            self.skip_ws()
            if self.pos >= len(s) or s[self.pos] not in "'\"":
                raise self.fail("Expected a quoted property name")
            quote = s[self.pos]
            i = self.pos + 1
            while i < len(s) and s[i] != quote:
                i += 2 if s[i] == "\\" else 1
            if i >= len(s):
                raise self.fail("Unterminated quoted property name")
            names.append(s[self.pos + 1 : i])
            self.pos = i + 1
            self.skip_ws()
            if self.pos < len(s) and s[self.pos] == ",":
                self.pos += 1
                continue
            return names

    def index_or_slice(self, body: str) -> _Token:
        try:
            if ":" in body:
                parts = body.split(":")
                if len(parts) != 2:
                    raise ValueError
                a, b = (int(p) if p else None for p in parts)
                return _Slice(a, b)
            return _Index(tuple(int(p) for p in body.split(",")))
        except ValueError:
            raise self.fail(f"Invalid array index or slice '[{body}]'") from None

    def filter(self) -> _Token:
        s = self.s
        self.pos += 1  # '?'
        self.skip_ws()
        if self.pos >= len(s) or s[self.pos] != "(":
            raise self.fail("Filter must be written [?(<expression>)]")
        end = _matching_paren(s, self.pos)
        if end < 0:
            raise self.fail("Unbalanced parentheses in filter")
        text = s[self.pos + 1 : end]
        try:
            test = _FilterParser(text).parse()
        except InvalidPathError as err:
            raise self.fail(f"Invalid filter '{text}': {err}") from None
        self.pos = end + 1
        return _Filter(test, text)

    def skip_ws(self) -> None:
        while self.pos < len(self.s) and self.s[self.pos] in " \t":
            self.pos += 1


def _closing(s: str, start: int, opening: str, closing: str) -> int:
    """Index of the ``closing`` matching the ``opening`` at ``start``, skipping
    quoted text (and regex literals); -1 when unbalanced."""
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
        elif c == opening:
            depth += 1
        elif c == closing:
            depth -= 1
            if depth == 0:
                return i
        i += 1
    return -1


def _matching_paren(s: str, start: int) -> int:
    return _closing(s, start, "(", ")")


# --- filter expressions ------------------------------------------------------


class _Undefined:
    """A filter operand path that matched nothing (Jayway's UNDEFINED)."""

    def __repr__(self) -> str:
        return "UNDEFINED"


_UNDEF = _Undefined()
_Operand = Callable[[Any, Any], Any]
_Test = Callable[[Any, Any], bool]
_WORD_OPS = ("subsetof", "contains", "anyof", "noneof", "empty", "size", "nin", "in")
_SYM_OPS = ("==", "!=", "<=", ">=", "=~", "<", ">")
_NUM_RE = re.compile(r"-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?")
_REGEX_RE = re.compile(r"/((?:\\.|[^/\\])*)/([a-zA-Z]*)")


class _FilterParser:
    """``expr := or; or := and ('||' and)*; and := unary ('&&' unary)*;
    unary := '!' unary | '(' or ')' | operand [op operand]``."""

    def __init__(self, text: str) -> None:
        self.s = text
        self.pos = 0

    def fail(self, why: str) -> InvalidPathError:
        return InvalidPathError(f"{why} at position {self.pos}")

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
            inner = self.parse_unary()
            return lambda n, r: not inner(n, r)
        if self.s.startswith("(", self.pos):
            self.pos += 1
            inner = self.parse_or()
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
            except re.error as err:
                raise self.fail(f"Invalid regular expression: {err}") from None
        elif c in "[{":
            value = self.json_literal()
        else:
            m = _NUM_RE.match(s, self.pos)
            if m:
                self.pos = m.end()
                text = m.group(0)
                value = float(text) if any(ch in text for ch in ".eE") else int(text)
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
        depth = 0
        i = self.pos
        quote = ""
        while i < len(s):
            ch = s[i]
            if quote:
                if ch == "\\":
                    i += 1
                elif ch == quote:
                    quote = ""
            elif ch in "'\"":
                quote = ch
            elif ch in "[{":
                depth += 1
            elif ch in "]}":
                depth -= 1
                if depth == 0:
                    break
            i += 1
        text = s[self.pos : i + 1]
        try:
            value = json.loads(text)
        except ValueError:
            try:
                value = json.loads(_single_to_double_quotes(text))
            except ValueError:
                raise self.fail(f"Invalid JSON literal {text}") from None
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
        sub = _compile("$" + text[1:])
        if sub.definite:

            def definite(n: Any, r: Any) -> Any:
                try:
                    return _read_definite(n if relative else r, sub)
                except PathNotFoundError:
                    return _UNDEF

            return definite
        return lambda n, r: list(_walk(n if relative else r, sub.tokens, 0, r))


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
    return value is not _UNDEF and value != []


def _is_num(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def _eq(a: Any, b: Any) -> bool:
    if a is _UNDEF or b is _UNDEF:
        return False
    if _is_num(a):
        if _is_num(b):
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
        if _is_num(b):  # ... while StringNode compares text
            return a == (str(b) if isinstance(b, int) else repr(b))
        return False
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    return a == b


def _order(a: Any, b: Any, check: Callable[[Any, Any], bool]) -> bool:
    if (_is_num(a) and _is_num(b)) or (isinstance(a, str) and isinstance(b, str)):
        return check(a, b)
    return False


def _regex(a: Any, b: Any) -> bool:
    if not isinstance(b, re.Pattern) or a is _UNDEF:
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
    return isinstance(a, list | str) and _is_num(b) and len(a) == b


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


# --- evaluation ---------------------------------------------------------------


def _java_class(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "java.lang.Boolean"
    if isinstance(value, int):
        return "java.lang.Integer" if -(2**31) <= value < 2**31 else "java.lang.Long"
    if isinstance(value, float):
        return "java.lang.Double"
    if isinstance(value, str):
        return "java.lang.String"
    if isinstance(value, list):
        return "net.minidev.json.JSONArray"
    return "net.minidev.json.JSONObject"


def _java_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _not_object(frag: str, seen: str, value: Any) -> PathNotFoundError:
    return PathNotFoundError(
        f"Expected to find an object with property {frag} in path {seen} but found "
        f"'{_java_class(value)}'. This is not a json object according to the "
        "JsonProvider: 'com.jayway.jsonpath.spi.json.JsonSmartJsonProvider'."
    )


def _read_simple(data: Any, path: _Path, keys: tuple[str | int, ...]) -> Any:
    cur = data
    last = len(keys) - 1
    for i, key in enumerate(keys):
        if type(key) is str:
            if type(cur) is not dict:
                raise _not_object(f"['{key}']", _prefix(path, i), cur)
            try:
                cur = cur[key]
            except KeyError:
                if i == last:
                    raise PathNotFoundError(f"No results for path: {path}") from None
                raise PathNotFoundError(
                    f"Missing property in path {_prefix(path, i + 1)}"
                ) from None
        else:
            cur = _index(cur, key, path, i)  # type: ignore[arg-type]
    return cur


def _index(cur: Any, idx: int, path: _Path, i: int) -> Any:
    if type(cur) is not list:
        if cur is None:
            raise PathNotFoundError(f"The path {_prefix(path, i)} is null")
        raise PathNotFoundError(
            f"Filter: [{idx}] can only be applied to arrays. Current context is: {_java_text(cur)}"
        )
    if not -len(cur) <= idx < len(cur):
        # Jayway drops an out-of-range index silently; the definite path
        # then reports "No results".
        raise PathNotFoundError(f"No results for path: {path}")
    return cur[idx]


def _prefix(path: _Path, n: int) -> str:
    return "$" + "".join(t.fragment() for t in path.tokens[:n])


def _read_definite(data: Any, path: _Path) -> Any:
    if path.simple is not None:
        return _read_simple(data, path, path.simple)
    cur = data
    tokens = path.tokens
    for i, tok in enumerate(tokens):
        if isinstance(tok, _Func):
            return _apply_function(tok.name, cur, str(path))
        if isinstance(tok, _Index):
            cur = _index(cur, tok.indexes[0], path, i)
            continue
        assert isinstance(tok, _Prop)
        if type(cur) is not dict:
            raise _not_object(tok.fragment(), _prefix(path, i), cur)
        if len(tok.names) > 1:  # leaf merge
            cur = {n: cur[n] for n in tok.names if n in cur}
            continue
        name = tok.names[0]
        if name not in cur:
            leaf = i == len(tokens) - 1 or isinstance(tokens[i + 1], _Func)
            if leaf:
                raise PathNotFoundError(f"No results for path: {path}")
            raise PathNotFoundError(f"Missing property in path {_prefix(path, i + 1)}")
        cur = cur[name]
    return cur


def _children(node: Any) -> list[Any]:
    if isinstance(node, dict):
        return list(node.values())
    if isinstance(node, list):
        return node
    return []


def _walk(node: Any, tokens: tuple[_Token, ...], i: int, root: Any) -> Iterator[Any]:
    """All matches of ``tokens[i:]`` under ``node``; mismatches are dropped,
    as Jayway does once a path is indefinite."""
    if i == len(tokens):
        yield node
        return
    tok = tokens[i]
    nxt = i + 1
    if isinstance(tok, _Prop):
        if isinstance(node, dict):
            if len(tok.names) > 1 and nxt == len(tokens):
                yield {n: node[n] for n in tok.names if n in node}
                return
            for name in tok.names:
                if name in node:
                    yield from _walk(node[name], tokens, nxt, root)
    elif isinstance(tok, _Index):
        if isinstance(node, list):
            n = len(node)
            for idx in tok.indexes:
                if -n <= idx < n:
                    yield from _walk(node[idx], tokens, nxt, root)
    elif isinstance(tok, _Slice):
        if isinstance(node, list):
            for item in node[tok.start : tok.stop]:
                yield from _walk(item, tokens, nxt, root)
    elif isinstance(tok, _Wild):
        for child in _children(node):
            yield from _walk(child, tokens, nxt, root)
    elif isinstance(tok, _Filter):
        if isinstance(node, list):
            for item in node:
                if tok.test(item, root):
                    yield from _walk(item, tokens, nxt, root)
        elif isinstance(node, dict) and tok.test(node, root):
            yield from _walk(node, tokens, nxt, root)
    elif isinstance(tok, _Scan):
        yield from _scan(node, tokens, nxt, root)
    else:  # _Func: handled by read() on the collected matches
        yield node


def _scan(node: Any, tokens: tuple[_Token, ...], i: int, root: Any) -> Iterator[Any]:
    # Pre-order over every container, applying the token after '..' to each
    # (a filter is tested against objects only, so no element is seen twice).
    tok = tokens[i]
    if not isinstance(tok, _Filter) or isinstance(node, dict):
        yield from _walk(node, tokens, i, root)
    for child in _children(node):
        if isinstance(child, dict | list):
            yield from _scan(child, tokens, i, root)


_EMPTY_AGGREGATE = "Aggregation function attempted to calculate value using empty array"


def _apply_function(name: str, value: Any, path: str) -> Any:
    if name in ("length", "size"):
        if isinstance(value, list | dict | str):
            return len(value)
        raise PathNotFoundError(f"Function {name}() can not be applied to the value at {path}")
    if name == "keys":
        if isinstance(value, dict):
            return list(value)
        raise PathNotFoundError(f"Function keys() can only be applied to an object: {path}")
    if not isinstance(value, list):
        raise PathNotFoundError(
            "Aggregation function attempted to calculate value using empty array"
        )
    if name in ("first", "last"):
        if not value:
            raise PathNotFoundError(f"Function {name}() applied to an empty array at {path}")
        return value[0] if name == "first" else value[-1]
    nums = [float(v) for v in value if _is_num(v)]
    if not nums:
        raise PathNotFoundError(
            "Aggregation function attempted to calculate value using empty array"
        )
    if name == "min":
        return min(nums)
    if name == "max":
        return max(nums)
    if name == "sum":
        return math.fsum(nums)
    avg = math.fsum(nums) / len(nums)
    if name == "avg":
        return avg
    return math.sqrt(math.fsum((x - avg) ** 2 for x in nums) / len(nums))  # stddev


# --- public API ---------------------------------------------------------------


def validate_path(path: str) -> str | None:
    if not isinstance(path, str) or not path.startswith("$"):
        return "must start with '$'"
    try:
        _compile(path)
    except InvalidPathError as err:
        return str(err)
    return None


def read(data: Any, path: str) -> Any:
    if path == "$":
        return data
    p = _compile(path)
    if p.simple is not None:
        return _read_simple(data, p, p.simple)
    if p.definite:
        return _read_definite(data, p)
    tokens = p.tokens
    if isinstance(tokens[-1], _Func):
        matches = list(_walk(data, tokens[:-1], 0, data))
        return _apply_function(tokens[-1].name, matches, str(p))
    return list(_walk(data, tokens, 0, data))


def is_definite(path: str) -> bool:
    """True when ``read`` returns a single value rather than a list."""
    return _compile(path).definite


def is_reference_path(path: str) -> bool:
    """True when ``path`` names one node by properties and indexes only, as
    ASL requires of ResultPath (and as ``write`` accepts)."""
    try:
        return path == "$" or _compile(path).simple is not None
    except InvalidPathError:
        return False


def write(data: Any, path: str, value: Any) -> Any:
    if path == "$":
        return value
    p = _compile(path)
    if p.simple is None:
        raise PathNotFoundError(
            f"Invalid path {path}: a ResultPath must name one node with properties and indexes"
        )
    return _put(data, p, p.simple, 0, value)


def _put(node: Any, path: _Path, keys: tuple[str | int, ...], i: int, value: Any) -> Any:
    key = keys[i]
    last = i == len(keys) - 1
    if type(key) is str:
        if not isinstance(node, dict):
            raise PathNotFoundError(
                f"Unable to set property ['{key}'] in path {_prefix(path, i)}: "
                f"found {_java_text(node)}, not an object"
            )
        new = dict(node)  # copy along the path only; siblings are shared
        if last:
            new[key] = value
        else:
            child = node.get(key, _UNDEF)
            new[key] = _put({} if child is _UNDEF else child, path, keys, i + 1, value)
        return new
    assert isinstance(key, int)
    if not isinstance(node, list) or not -len(node) <= key < len(node):
        raise PathNotFoundError(
            f"Unable to set index [{key}] in path {_prefix(path, i)}: "
            f"found {_java_text(node)}, not an array with that index"
        )
    items = list(node)
    items[key] = value if last else _put(items[key], path, keys, i + 1, value)
    return items

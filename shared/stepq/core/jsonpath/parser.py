"""The JSONPath grammar as Jayway reads it: text -> ``CompiledPath`` (cached)."""

from __future__ import annotations

import re
from functools import lru_cache

from stepq.core.jsonpath.filters import FilterParser, matching_paren
from stepq.core.jsonpath.tokens import (
    CompiledPath,
    Filter,
    Func,
    Index,
    InvalidPathError,
    NestingError,
    Prop,
    Scan,
    Slice,
    Token,
    Wild,
    tokens_are_definite,
)

_SIMPLE_RE = re.compile(r"\$(?:\.[A-Za-z_][A-Za-z0-9_\-]*|\[-?\d+\])*")
_SIMPLE_PART_RE = re.compile(r"\.([A-Za-z_][A-Za-z0-9_\-]*)|\[(-?\d+)\]")
_NAME_STOP = " \t.[()"
_FUNCTIONS = frozenset(
    {"length", "size", "min", "max", "avg", "sum", "stddev", "keys", "first", "last"}
)


@lru_cache(maxsize=4096)
def compile_path(path: str) -> CompiledPath:
    return _compile(path, 0)


def _compile(path: str, depth: int) -> CompiledPath:
    """``path`` compiled; ``depth``: how deep inside filters it sits."""
    if not isinstance(path, str) or not path.startswith("$"):
        raise InvalidPathError(f"Path must start with '$': {path!r}")
    if _SIMPLE_RE.fullmatch(path):
        simple: list[str | int] = []
        toks: list[Token] = []
        for m in _SIMPLE_PART_RE.finditer(path):
            if m.group(1) is not None:
                simple.append(m.group(1))
                toks.append(Prop((m.group(1),)))
            else:
                index = _index(m.group(2))
                simple.append(index)
                toks.append(Index((index,)))
        return CompiledPath(path, tuple(toks), True, tuple(simple))
    tokens = tuple(_Parser(path, 1, depth).parse_tokens())
    definite = tokens_are_definite(tokens)
    simple_keys: tuple[str | int, ...] | None = None
    if definite and all(
        (isinstance(t, Prop) and len(t.names) == 1) or isinstance(t, Index) for t in tokens
    ):
        simple_keys = tuple(t.names[0] if isinstance(t, Prop) else t.indexes[0] for t in tokens)  # type: ignore[union-attr]
    return CompiledPath(path, tokens, definite, simple_keys)


def _index(digits: str) -> int:
    try:
        return int(digits)
    except ValueError:  # more digits than int() converts
        raise InvalidPathError(f"Invalid array index '[{digits[:40]}...]'") from None


class _Parser:
    """Jayway's path grammar, read left to right from ``pos``."""

    def __init__(self, text: str, pos: int, depth: int = 0) -> None:
        self.s = text
        self.pos = pos
        self.depth = depth

    def fail(self, why: str) -> InvalidPathError:
        return InvalidPathError(f"{why} at position {self.pos} in path {self.s}")

    def parse_tokens(self) -> list[Token]:
        out: list[Token] = []
        s = self.s
        while self.pos < len(s):
            c = s[self.pos]
            if out and isinstance(out[-1], Func):
                raise self.fail("Function must be the last path element")
            if s.startswith("..", self.pos):
                self.pos += 2
                out.append(Scan())
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

    def name_or_func(self) -> Token:
        s = self.s
        start = self.pos
        while self.pos < len(s) and s[self.pos] not in _NAME_STOP:
            self.pos += 1
        name = s[start : self.pos]
        if name == "*":
            return Wild()
        if not name:
            raise self.fail("Empty property name")
        if self.pos < len(s) and s[self.pos] == "(":
            if not s.startswith("()", self.pos):
                raise self.fail("Function arguments are not supported")
            if name not in _FUNCTIONS:
                raise self.fail(f"Function of name: {name} cannot be created")
            self.pos += 2
            return Func(name)
        if self.pos < len(s) and s[self.pos] in " \t)":
            raise self.fail(f"Unexpected character '{s[self.pos]}'")
        return Prop((name,))

    def bracket(self) -> Token:
        s = self.s
        self.pos += 1  # '['
        self.skip_ws()
        if self.pos >= len(s):
            raise self.fail("Unterminated '['")
        c = s[self.pos]
        if c in "'\"":
            tok: Token = Prop(tuple(self.quoted_names()))
        elif c == "*":
            self.pos += 1
            tok = Wild()
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

    def index_or_slice(self, body: str) -> Token:
        try:
            if ":" in body:
                parts = body.split(":")
                if len(parts) != 2:
                    raise ValueError
                a, b = (int(p) if p else None for p in parts)
                return Slice(a, b)
            return Index(tuple(int(p) for p in body.split(",")))
        except ValueError:
            raise self.fail(f"Invalid array index or slice '[{body}]'") from None

    def filter(self) -> Token:
        s = self.s
        self.pos += 1  # '?'
        self.skip_ws()
        if self.pos >= len(s) or s[self.pos] != "(":
            raise self.fail("Filter must be written [?(<expression>)]")
        end = matching_paren(s, self.pos)
        if end < 0:
            raise self.fail("Unbalanced parentheses in filter")
        text = s[self.pos + 1 : end]
        try:
            test = FilterParser(text, _compile, self.depth + 1).parse()
        except NestingError:
            raise  # once, not wrapped in every enclosing filter's text
        except InvalidPathError as err:
            raise self.fail(f"Invalid filter '{text}': {err}") from None
        self.pos = end + 1
        return Filter(test, text)

    def skip_ws(self) -> None:
        while self.pos < len(self.s) and self.s[self.pos] in " \t":
            self.pos += 1

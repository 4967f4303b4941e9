"""The intrinsic call syntax: text -> ``Call`` tree (cached).

Hand-written (a tokenizer-free recursive-descent parser over the string): no
maintained library parses the ASL intrinsic call syntax.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

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


# ------------------------------------------------------------------------ parser

ESCAPABLE = "'{}\\"
# How deep calls may nest (parsing, validating and evaluating recurse per level).
MAX_NESTING = 50


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0
        self.depth = 0

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
            if self.depth >= MAX_NESTING:
                raise self.fail(f"functions nested more than {MAX_NESTING} levels deep")
            self.depth += 1
            try:
                return self.call()
            finally:
                self.depth -= 1
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
                out.append(nxt if nxt in ESCAPABLE else ch + nxt)
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
def parse(expr: str) -> Call | str:
    """The parsed call, or the reason it does not parse (cached either way)."""
    try:
        return _Parser(expr).parse()
    except IntrinsicParseError as err:
        return str(err)

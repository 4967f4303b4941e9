"""Compiled JSONPath: the tokens a path parses into, and the errors."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


class PathNotFoundError(Exception):
    """A path did not resolve; ``str(err)`` is the Jayway-style message."""


class InvalidPathError(PathNotFoundError):
    """The path does not parse. A subclass so that callers mapping
    ``PathNotFoundError`` to an execution failure also cover it."""


# How deep filters, their parentheses and negations may nest, together: the
# parser and the compiled tests recurse once per level (and Jayway's stack
# ends somewhere too).
MAX_NESTING = 50


class NestingError(InvalidPathError):
    """A path nested deeper than ``MAX_NESTING``; reported once, not per level."""


# --- tokens -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Prop:
    names: tuple[str, ...]

    def fragment(self) -> str:
        return "[" + ",".join(f"'{n}'" for n in self.names) + "]"


@dataclass(frozen=True, slots=True)
class Index:
    indexes: tuple[int, ...]

    def fragment(self) -> str:
        return "[" + ",".join(str(i) for i in self.indexes) + "]"


@dataclass(frozen=True, slots=True)
class Slice:
    start: int | None
    stop: int | None

    def fragment(self) -> str:
        a = "" if self.start is None else str(self.start)
        b = "" if self.stop is None else str(self.stop)
        return f"[{a}:{b}]"


@dataclass(frozen=True, slots=True)
class Wild:
    def fragment(self) -> str:
        return "[*]"


@dataclass(frozen=True, slots=True)
class Scan:
    def fragment(self) -> str:
        return ".."


@dataclass(frozen=True, slots=True)
class Filter:
    test: Callable[[Any, Any], bool] = lambda node, root: False
    text: str = ""

    def fragment(self) -> str:
        return "[?]"


@dataclass(frozen=True, slots=True)
class Func:
    name: str

    def fragment(self) -> str:
        return f".{self.name}()"


Token = Prop | Index | Slice | Wild | Scan | Filter | Func


@dataclass(frozen=True, slots=True)
class CompiledPath:
    text: str
    tokens: tuple[Token, ...]
    definite: bool
    # For definite paths without functions or multi-name merges: the plain
    # keys/indexes, evaluated by a tight loop.
    simple: tuple[str | int, ...] | None

    def __str__(self) -> str:
        return "$" + "".join(t.fragment() for t in self.tokens)


def tokens_are_definite(tokens: tuple[Token, ...]) -> bool:
    for i, tok in enumerate(tokens):
        if isinstance(tok, Prop):
            # Several names at the leaf merge into one object (definite);
            # anywhere else they fan out.
            last = i == len(tokens) - 1 or isinstance(tokens[i + 1], Func)
            if len(tok.names) > 1 and not last:
                return False
        elif isinstance(tok, Index):
            if len(tok.indexes) > 1:
                return False
        elif isinstance(tok, Func):
            continue
        else:
            return False
    return True

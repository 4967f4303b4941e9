"""Which variables each state reads: DescribeStateMachine's ``variableReferences``.

``variable_references(definition)`` maps a state name to the variable names
its fields refer to, in order of first use, for states that refer to any
(nested states of Map and Parallel included; state names are unique in a
whole machine). A JSONPath state refers to ``$name`` in ``*.$`` values
(paths and intrinsic functions), in ``*Path`` fields and in Choice
``Variable``s; a JSONata state in its ``{% ... %}`` expressions, leaving out
function calls (``$sum(...)``), ``$states`` and names the expression binds
itself (``$x := ...``, ``function($x)``). A pure function over the raw dict.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from .models import JSONATA, JSONPATH

_NAME = r"[A-Za-z_][A-Za-z0-9_]*"
# A ``$name`` not preceded by a name character or ``$`` (``$$.Execution`` is context).
_REFERENCE = re.compile(rf"(?<![\w$])\$({_NAME})")
_CALL = re.compile(rf"(?<![\w$])\$({_NAME})\s*\(")
_BOUND = re.compile(rf"(?<![\w$])\$({_NAME})\s*:=")
_PARAMETERS = re.compile(r"function\s*\(([^)]*)\)")
_QUOTED_SINGLE = re.compile(r"'(?:[^'\\]|\\.)*'")
_QUOTED_DOUBLE = re.compile(r'"(?:[^"\\]|\\.)*"')
_RESERVED = frozenset({"states"})
# Fields that hold child states: their references belong to those states.
_CHILDREN = ("ItemProcessor", "Iterator", "Branches")


def variable_references(definition: dict[str, Any]) -> dict[str, list[str]]:
    """State name -> the variables it refers to (states referring to none are left out)."""
    found: dict[str, list[str]] = {}
    if not isinstance(definition, dict):
        return found
    top = definition.get("QueryLanguage")
    for name, state, lang in _states(definition, top if top == JSONATA else JSONPATH):
        names: list[str] = []
        fields = {k: v for k, v in state.items() if k not in _CHILDREN}
        for text, kind in _texts(fields, lang):
            for ref in _jsonata(text) if kind == JSONATA else _jsonpath(text):
                if ref not in names:
                    names.append(ref)
        if names:
            found[name] = names
    return found


def _states(block: Any, lang: str) -> Iterator[tuple[str, dict[str, Any], str]]:
    """Every (name, state, query language) in ``block`` and its nested blocks."""
    states = block.get("States") if isinstance(block, dict) else None
    if not isinstance(states, dict):
        return
    for name, state in states.items():
        if not isinstance(state, dict):
            continue
        own = state.get("QueryLanguage")
        state_lang = own if own in (JSONATA, JSONPATH) else lang
        yield name, state, state_lang
        for field in ("ItemProcessor", "Iterator"):
            yield from _states(state.get(field), state_lang)
        branches = state.get("Branches")
        if isinstance(branches, list):
            for branch in branches:
                yield from _states(branch, state_lang)


def _texts(value: Any, lang: str, key: str = "") -> Iterator[tuple[str, str]]:
    """The strings of ``value`` that may refer to variables, with how to read each."""
    if isinstance(value, dict):
        for k, item in value.items():
            yield from _texts(item, lang, str(k))
    elif isinstance(value, list):
        for item in value:
            yield from _texts(item, lang, key)
    elif isinstance(value, str):
        if lang == JSONATA:
            text = value.strip()
            if text.startswith("{%") and text.endswith("%}"):
                yield text[2:-2], JSONATA
        elif key.endswith(".$") or key.endswith("Path") or key == "Variable":
            yield value, JSONPATH


def _jsonpath(text: str) -> list[str]:
    text = _QUOTED_SINGLE.sub("''", text)  # literals in intrinsic functions
    return [n for n in _REFERENCE.findall(text) if n not in _RESERVED]


def _jsonata(text: str) -> list[str]:
    text = _QUOTED_DOUBLE.sub('""', _QUOTED_SINGLE.sub("''", text))
    local = set(_BOUND.findall(text))
    for params in _PARAMETERS.findall(text):
        local.update(_REFERENCE.findall(params))
    calls = {m.start() for m in _CALL.finditer(text)}
    out = []
    for match in _REFERENCE.finditer(text):
        name = match.group(1)
        if match.start() in calls or name in local or name in _RESERVED:
            continue
        out.append(name)
    return out

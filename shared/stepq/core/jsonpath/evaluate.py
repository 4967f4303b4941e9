"""Evaluating a compiled JSONPath: reading (definite and indefinite) and writing.

Where no recorded case shows AWS's text, messages follow Jayway's source
with its default json-smart provider (Java class names included).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from typing import Any

from stepq.core.jsonpath.tokens import (
    CompiledPath,
    Filter,
    Func,
    Index,
    PathNotFoundError,
    Prop,
    Scan,
    Slice,
    Token,
    Wild,
)


class _Undefined:
    """A filter operand path that matched nothing (Jayway's UNDEFINED)."""

    def __repr__(self) -> str:
        return "UNDEFINED"


UNDEF = _Undefined()


def is_num(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


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


def read_simple(data: Any, path: CompiledPath, keys: tuple[str | int, ...]) -> Any:
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


def _index(cur: Any, idx: int, path: CompiledPath, i: int) -> Any:
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


def _prefix(path: CompiledPath, n: int) -> str:
    return "$" + "".join(t.fragment() for t in path.tokens[:n])


def read_definite(data: Any, path: CompiledPath) -> Any:
    if path.simple is not None:
        return read_simple(data, path, path.simple)
    cur = data
    tokens = path.tokens
    for i, tok in enumerate(tokens):
        if isinstance(tok, Func):
            return apply_function(tok.name, cur, str(path))
        if isinstance(tok, Index):
            cur = _index(cur, tok.indexes[0], path, i)
            continue
        assert isinstance(tok, Prop)
        if type(cur) is not dict:
            raise _not_object(tok.fragment(), _prefix(path, i), cur)
        if len(tok.names) > 1:  # leaf merge
            cur = {n: cur[n] for n in tok.names if n in cur}
            continue
        name = tok.names[0]
        if name not in cur:
            leaf = i == len(tokens) - 1 or isinstance(tokens[i + 1], Func)
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


def walk(node: Any, tokens: tuple[Token, ...], i: int, root: Any) -> Iterator[Any]:
    """All matches of ``tokens[i:]`` under ``node``; mismatches are dropped,
    as Jayway does once a path is indefinite."""
    if i == len(tokens):
        yield node
        return
    tok = tokens[i]
    nxt = i + 1
    if isinstance(tok, Prop):
        if isinstance(node, dict):
            if len(tok.names) > 1 and nxt == len(tokens):
                yield {n: node[n] for n in tok.names if n in node}
                return
            for name in tok.names:
                if name in node:
                    yield from walk(node[name], tokens, nxt, root)
    elif isinstance(tok, Index):
        if isinstance(node, list):
            n = len(node)
            for idx in tok.indexes:
                if -n <= idx < n:
                    yield from walk(node[idx], tokens, nxt, root)
    elif isinstance(tok, Slice):
        if isinstance(node, list):
            for item in node[tok.start : tok.stop]:
                yield from walk(item, tokens, nxt, root)
    elif isinstance(tok, Wild):
        for child in _children(node):
            yield from walk(child, tokens, nxt, root)
    elif isinstance(tok, Filter):
        if isinstance(node, list):
            for item in node:
                if tok.test(item, root):
                    yield from walk(item, tokens, nxt, root)
        elif isinstance(node, dict) and tok.test(node, root):
            yield from walk(node, tokens, nxt, root)
    elif isinstance(tok, Scan):
        yield from _scan(node, tokens, nxt, root)
    else:  # Func: handled by read() on the collected matches
        yield node


def _scan(node: Any, tokens: tuple[Token, ...], i: int, root: Any) -> Iterator[Any]:
    # Pre-order over every container, applying the token after '..' to each
    # (a filter is tested against objects only, so no element is seen twice).
    tok = tokens[i]
    if not isinstance(tok, Filter) or isinstance(node, dict):
        yield from walk(node, tokens, i, root)
    for child in _children(node):
        if isinstance(child, dict | list):
            yield from _scan(child, tokens, i, root)


_EMPTY_AGGREGATE = "Aggregation function attempted to calculate value using empty array"


def apply_function(name: str, value: Any, path: str) -> Any:
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
    nums = [float(v) for v in value if is_num(v)]
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


# --- writing -----------------------------------------------------------------


def put(node: Any, path: CompiledPath, keys: tuple[str | int, ...], i: int, value: Any) -> Any:
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
            child = node.get(key, UNDEF)
            new[key] = put({} if child is UNDEF else child, path, keys, i + 1, value)
        return new
    assert isinstance(key, int)
    if not isinstance(node, list) or not -len(node) <= key < len(node):
        raise PathNotFoundError(
            f"Unable to set index [{key}] in path {_prefix(path, i)}: "
            f"found {_java_text(node)}, not an array with that index"
        )
    items = list(node)
    items[key] = value if last else put(items[key], path, keys, i + 1, value)
    return items

"""CloudFormation's intrinsic functions, resolved as a stack create would resolve them.

Enough of the language for stepq's translated template: Ref, Fn::GetAtt,
Fn::Sub (both forms), Fn::Join, Fn::Select, Fn::Split, Fn::If with the
condition functions, AWS::NoValue and the pseudo parameters. Anything else
raises, so a template that grows a new construct fails here loudly instead
of deploying something different offline.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

NO_VALUE = object()  # AWS::NoValue: the property (or list item) disappears

_SUB = re.compile(r"\$\{([^}]+)\}")


class TemplateError(Exception):
    """The template uses something this offline stack cannot resolve."""


class Resolver:
    """Resolves values against parameters, conditions and the resources created so far.

    ``ref(logical_id)`` and ``get_att(logical_id, attribute)`` answer for
    resources; they raise ``KeyError`` for one not created yet.
    """

    def __init__(
        self,
        parameters: dict[str, Any],
        conditions: dict[str, Any],
        ref: Callable[[str], Any],
        get_att: Callable[[str, str], Any],
    ) -> None:
        self.parameters = parameters
        self._condition_defs = conditions
        self._conditions: dict[str, bool] = {}
        self._ref = ref
        self._get_att = get_att

    def condition(self, name: str) -> bool:
        if name not in self._conditions:
            if name not in self._condition_defs:
                raise TemplateError(f"unknown condition {name!r}")
            self._conditions[name] = bool(self.resolve(self._condition_defs[name]))
        return self._conditions[name]

    def resolve(self, value: Any) -> Any:
        if isinstance(value, list):
            items = [self.resolve(v) for v in value]
            return [v for v in items if v is not NO_VALUE]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((key, arg),) = value.items()
            handler = _FUNCTIONS.get(key)
            if handler is not None:
                return handler(self, arg)
            if key.startswith("Fn::"):
                raise TemplateError(f"{key} is not supported offline")
        out = {k: self.resolve(v) for k, v in value.items()}
        return {k: v for k, v in out.items() if v is not NO_VALUE}

    def ref(self, name: str) -> Any:
        if name == "AWS::NoValue":
            return NO_VALUE
        if name in self.parameters:
            return self.parameters[name]
        return self._ref(name)

    def _sub(self, arg: Any) -> str:
        if isinstance(arg, list):
            text, variables = arg[0], {k: self.resolve(v) for k, v in arg[1].items()}
        else:
            text, variables = arg, {}

        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name.startswith("!"):  # ${!Literal} stays as ${Literal}
                return "${" + name[1:] + "}"
            if name in variables:
                return str(variables[name])
            if "." in name and not name.startswith("AWS::"):
                logical_id, attribute = name.split(".", 1)
                return str(self._get_att(logical_id, attribute))
            return str(self.ref(name))

        return _SUB.sub(replace, text)


def _get_att(resolver: Resolver, arg: Any) -> Any:
    logical_id, attribute = arg.split(".", 1) if isinstance(arg, str) else arg
    return resolver._get_att(logical_id, resolver.resolve(attribute))


def _if(resolver: Resolver, arg: Any) -> Any:
    name, when_true, when_false = arg
    return resolver.resolve(when_true if resolver.condition(name) else when_false)


def _select(resolver: Resolver, arg: Any) -> Any:
    index, items = resolver.resolve(arg)
    return items[int(index)]


def _split(resolver: Resolver, arg: Any) -> Any:
    separator, text = resolver.resolve(arg)
    return text.split(separator)


def _join(resolver: Resolver, arg: Any) -> str:
    separator, items = resolver.resolve(arg)
    return separator.join(str(i) for i in items)


_FUNCTIONS: dict[str, Callable[[Resolver, Any], Any]] = {
    "Ref": lambda r, a: r.ref(a),
    "Fn::GetAtt": _get_att,
    "Fn::Sub": lambda r, a: r._sub(a),
    "Fn::If": _if,
    "Fn::Join": _join,
    "Fn::Select": _select,
    "Fn::Split": _split,
    "Fn::Equals": lambda r, a: str(r.resolve(a[0])) == str(r.resolve(a[1])),
    "Fn::Not": lambda r, a: not r.resolve(a[0]),
    "Fn::And": lambda r, a: all(r.resolve(c) for c in a),
    "Fn::Or": lambda r, a: any(r.resolve(c) for c in a),
    "Condition": lambda r, a: r.condition(a),
}


def references(value: Any, condition: Callable[[str], bool]) -> Iterator[str]:
    """The logical ids ``value`` refers to, following only the Fn::If branches taken."""
    if isinstance(value, list):
        for item in value:
            yield from references(item, condition)
    elif isinstance(value, dict):
        if len(value) == 1:
            ((key, arg),) = value.items()
            if key == "Ref" and isinstance(arg, str):
                yield arg
                return
            if key == "Fn::GetAtt":
                yield (arg.split(".", 1)[0] if isinstance(arg, str) else arg[0])
                return
            if key == "Fn::Sub":
                text = arg[0] if isinstance(arg, list) else arg
                local = set(arg[1]) if isinstance(arg, list) else set()
                for name in _SUB.findall(text):
                    if not name.startswith("!") and name not in local:
                        yield name.split(".", 1)[0]
                if isinstance(arg, list):
                    yield from references(arg[1], condition)
                return
            if key == "Fn::If":
                name, when_true, when_false = arg
                yield from references(when_true if condition(name) else when_false, condition)
                return
        for item in value.values():
            yield from references(item, condition)

"""YAML as stepq reads the files people write (process definitions, people files).

A safe load (no arbitrary objects) that refuses a key written twice: YAML
would keep the last one, so a state or a ``requester`` written twice would
silently lose its first version. Any problem is one line.
"""

from __future__ import annotations

from typing import Any

import yaml


class YamlProblem(ValueError):
    """The text is not YAML, or writes a key twice; the message is one line."""


class _Loader(yaml.SafeLoader):
    pass


def _mapping(loader: _Loader, node: Any, deep: bool = False) -> Any:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            line = key_node.start_mark.line + 1
            raise YamlProblem(f"line {line}: {key!r} is written twice in one mapping")
        seen.add(key)
    return loader.construct_mapping(node, deep=deep)


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping)


def load_yaml(text: str) -> Any:
    """The document in ``text``; YamlProblem (one line) if it is not one."""
    try:
        return yaml.load(text, Loader=_Loader)  # a SafeLoader underneath
    except yaml.YAMLError as exc:
        raise YamlProblem(f"is not YAML: {' '.join(str(exc).split())}") from None

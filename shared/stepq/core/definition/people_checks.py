"""What a definition's people resources must say, checked before anything runs.

A human task's Parameters (``HumanTaskSpec``) and a process-activities Task's
(``ProcessActivities``) are checked for what is static when the definition is
created or validated, each problem at its JSON path. A field written
``"Name.$"`` (or a JSONata ``"{% ... %}"`` string) is known only when the
state runs: it is skipped, and so is a rule about the object holding it
(e.g. a target with ``"Group.$"`` names one kind, but which is not known
yet). Everything around it is still checked: a static ``Transitions`` must
parse whatever ``"Data.$"`` says.

Also refused: a human task without Parameters; ``$$.Task.Token`` anywhere
in a human task's Parameters (the token never reaches people:
docs/PEOPLE.md); a people resource on a state that is not a Task.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Any

from pydantic import BaseModel, TypeAdapter, ValidationError

from stepq.core.people.model import (
    HUMAN_TASK_RESOURCE,
    PROCESS_ACTIVITIES_RESOURCE,
    HumanTaskSpec,
    ProcessActivities,
    check_label,
    check_person,
)

Where = tuple[str | int, ...]
_TOKEN_PATHS = ("$$.Task.Token", "$states.context.Task.Token")

# A human task's fields, each checked on its own so a dynamic sibling
# (``"Data.$"``) hides nothing else. ``None``: any value.
_HUMAN_FIELDS: dict[str, TypeAdapter[Any] | None] = {
    name: TypeAdapter(Annotated[info.annotation, info])
    for name, info in HumanTaskSpec.model_fields.items()
    if name in ("Title", "Description", "Transitions", "Activities", "Reminders")
}
_HUMAN_FIELDS.update(Assignee=None, Admins=None, Data=None)  # checked below, or any value
_REQUIRED = {
    HUMAN_TASK_RESOURCE: ("Title", "Transitions"),
    PROCESS_ACTIVITIES_RESOURCE: ("Activities",),
}


def problems(state: dict[str, Any]) -> Iterator[tuple[Where, str]]:
    """(path under the state, message) for each static problem of a people resource."""
    resource = state.get("Resource")
    if not isinstance(resource, str) or resource not in _REQUIRED:
        return  # a Resource that is no string is the other checks' business
    if state.get("Type") != "Task":
        yield ("Resource",), f"{resource} is a Task resource: only a Task state may name it"
        return
    field = "Arguments" if "Arguments" in state else "Parameters"
    template = state.get(field)
    if resource == HUMAN_TASK_RESOURCE:
        if template is None:
            yield (
                (field,),
                ("a human task needs Parameters: at least Title and Transitions (docs/PEOPLE.md)"),
            )
            return
        for where in _token_uses(template, ()):
            yield (
                (field, *where),
                (
                    "a human task's task token never reaches people: "
                    "$$.Task.Token may not appear in its Parameters"
                ),
            )
    if not isinstance(template, dict):
        if template is not None and not _dynamic_value(template):
            yield (field,), "must be an object"
        elif template is None:
            yield (field,), "Activities is required"
        return
    for where, message in _fields(resource, template):
        yield (field, *where), message


def _fields(resource: str, template: dict[str, Any]) -> Iterator[tuple[Where, str]]:
    given = {_name(key): key for key in template if isinstance(key, str)}
    for name in _REQUIRED[resource]:
        if name not in given:
            yield (name,), "is required"
    known = _HUMAN_FIELDS if resource == HUMAN_TASK_RESOURCE else {"Activities": None}
    for name, key in given.items():
        if name not in known:
            yield (key,), f"{name} is not a field of this resource ({', '.join(known)})"
        elif key == name:  # static: its value is known now
            yield from _field(resource, name, template[key])
    transitions = template.get("Transitions")
    if isinstance(transitions, list):
        names = [t.get("Name") for t in transitions if isinstance(t, dict)]
        for i, name in enumerate(names):
            if isinstance(name, str) and name in names[:i]:
                yield ("Transitions", i, "Name"), f"transition names must differ: {name} repeated"


def _field(resource: str, name: str, value: Any) -> Iterator[tuple[Where, str]]:
    if _dynamic_value(value):
        return
    try:
        if resource == PROCESS_ACTIVITIES_RESOURCE:
            _validate(ProcessActivities, {"Activities": value})
        elif name == "Assignee":
            _check_str(value, check_person)
        elif name == "Admins":
            _check_str(value, lambda v: check_label(v, "group name"))
        elif (adapter := _HUMAN_FIELDS[name]) is not None:
            adapter.validate_python(_static(value))
    except ValidationError as exc:
        yield from _explained(exc, name, value, resource == PROCESS_ACTIVITIES_RESOURCE)
    except ValueError as exc:
        yield (name,), str(exc)


def _validate(model: type[BaseModel], value: Any) -> None:
    model.model_validate(_static(value))


def _check_str(value: Any, check: Any) -> None:
    if not isinstance(value, str):
        raise ValueError("must be a string")
    check(value)


def _explained(
    exc: ValidationError, name: str, value: Any, wrapped: bool
) -> Iterator[tuple[Where, str]]:
    """Pydantic's errors at their JSON paths, less those a dynamic field makes unknowable."""
    for error in exc.errors():
        loc = tuple(error["loc"])[1:] if wrapped else tuple(error["loc"])
        where, unknowable = _walk(value, loc)
        if unknowable:
            continue  # inside or about a dynamic part
        message = str(error["msg"]).removeprefix("Value error, ")
        yield (name, *where), message


def _walk(value: Any, loc: Where) -> tuple[Where, bool]:
    """The JSON path of pydantic's ``loc`` in ``value`` (a union's tag dropped), and whether
    the error concerns a dynamic field or an object holding one (then it is unknowable)."""
    where: list[str | int] = []
    current = value
    for i, part in enumerate(loc):
        if isinstance(current, dict):
            if part not in current and current.get("Type") == part:
                continue  # the discriminated union's tag: not in the JSON
            if part not in current:  # a missing field: unknowable if given dynamically
                where.append(part)
                last = i == len(loc) - 1
                return tuple(where), f"{part}.$" in current or (last and _has_dynamic(current))
            current = current[part]
        elif isinstance(current, list) and isinstance(part, int) and part < len(current):
            current = current[part]
        else:
            where.append(part)
            return tuple(where), False
        where.append(part)
        if _dynamic_value(current):
            return tuple(where), True
    return tuple(where), isinstance(current, dict) and _has_dynamic(current)


def _static(value: Any) -> Any:
    """``value`` without its dynamic fields (what is known before the state runs)."""
    if isinstance(value, dict):
        return {
            k: _static(v) for k, v in value.items() if not _dynamic_key(k) and not _dynamic_value(v)
        }
    if isinstance(value, list):
        return [_static(v) for v in value]
    return value


def _name(key: str) -> str:
    return key.removesuffix(".$")


def _dynamic_key(key: Any) -> bool:
    return isinstance(key, str) and key.endswith(".$")


def _has_dynamic(obj: dict[str, Any]) -> bool:
    return any(_dynamic_key(k) for k in obj) or any(_dynamic_value(v) for v in obj.values())


def _dynamic_value(value: Any) -> bool:
    """A JSONata expression: ``"{% ... %}"``."""
    return (
        isinstance(value, str) and value.strip().startswith("{%") and value.strip().endswith("%}")
    )


def _token_uses(value: Any, where: Where) -> Iterator[Where]:
    if isinstance(value, str):
        if any(path in value for path in _TOKEN_PATHS):
            yield where
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _token_uses(item, (*where, key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _token_uses(item, (*where, i))

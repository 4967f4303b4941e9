"""Loading and validating ASL definitions.

CONTRACT (other modules depend on it):

- ``load_definition(source: dict | str) -> StateMachine``: parse (``str`` is
  JSON text) and validate a definition. Returns the typed model, whose
  ``raw`` is the original dict. Refuses an invalid definition by raising
  ``stepq.errors.DefinitionError`` listing EVERY problem found, each a
  ``Problem(path, message)`` with a JSON Pointer path (RFC 6901 escaping),
  e.g. ``/States/Charge/Next: state "Ship" does not exist``.
- ``find_problems(source: dict) -> list[Problem]``: the same checks without
  raising; an empty list means valid.

Two passes: pydantic (types, required and unknown fields, ranges), then the
semantic checks (``_Checker`` below, with the checks of each state type in
``state_checks`` and of single fields in ``field_checks``), which run on the
raw dict so they still report when pydantic has refused something elsewhere.
They only judge values of the right type, so a wrongly typed value is
reported once (by pydantic).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from pydantic import ValidationError

from stepq.errors import DefinitionError, Problem

from . import resources
from .field_checks import Parts, pointer
from .models import JSONATA, JSONPATH, STATE_TYPES, StateMachine
from .state_checks import StateChecks

MAX_STATE_NAME = 80
ALL_ERRORS = "States.ALL"
# Levels of objects and arrays a definition may nest (Jackson's default limit
# too): the checks and the interpreter follow a template level by level.
MAX_NESTING = 1000

# Fields only JSONPath states may use, and only JSONata ones (AWS refuses the
# other language's fields rather than ignoring them).
JSONPATH_ONLY = (
    "InputPath",
    "OutputPath",
    "Parameters",
    "ResultSelector",
    "ResultPath",
    "Result",
    "ItemsPath",
    "SecondsPath",
    "TimestampPath",
    "TimeoutSecondsPath",
    "HeartbeatSecondsPath",
    "ErrorPath",
    "CausePath",
    "MaxConcurrencyPath",
    "ToleratedFailureCountPath",
    "ToleratedFailurePercentagePath",
)
JSONATA_ONLY = ("Arguments", "Output", "Items")

# JSONPath-valued fields of a state (checked with jsonpath.validate_path).
_PATH_FIELDS = (
    "InputPath",
    "OutputPath",
    "ResultPath",
    "ItemsPath",
    "SecondsPath",
    "TimestampPath",
    "TimeoutSecondsPath",
    "HeartbeatSecondsPath",
    "MaxConcurrencyPath",
    "ToleratedFailureCountPath",
    "ToleratedFailurePercentagePath",
)
# Payload templates whose ``key.$`` entries hold a path or an intrinsic.
_TEMPLATE_FIELDS = ("Parameters", "ResultSelector", "ItemSelector", "Assign")
# Fields where JSONata states may write "{% ... %}" anywhere inside.
_JSONATA_FIELDS = (
    "Arguments",
    "Output",
    "Assign",
    "Items",
    "ItemSelector",
    "Seconds",
    "Timestamp",
    "TimeoutSeconds",
    "HeartbeatSeconds",
    "MaxConcurrency",
    "ToleratedFailureCount",
    "ToleratedFailurePercentage",
    "Error",
    "Cause",
)
_NON_TERMINAL = ("Pass", "Task", "Wait", "Parallel", "Map")

# ------------------------------------------------------------------ public API


def load_definition(source: dict[str, Any] | str) -> StateMachine:
    """Parse and validate ``source``; raise ``DefinitionError`` listing all problems."""
    if isinstance(source, str):
        try:
            source = json.loads(source)
        except json.JSONDecodeError as err:
            raise DefinitionError([Problem("", f"not valid JSON: {err}")]) from err
        except RecursionError:
            raise DefinitionError([Problem("", "not valid JSON: nested too deeply")]) from None
    if not isinstance(source, dict):
        raise DefinitionError([Problem("", "a definition must be a JSON object")])
    model, problems = _check(source)
    if problems or model is None:
        raise DefinitionError(problems)
    model._raw = source
    return model


def find_problems(source: dict[str, Any]) -> list[Problem]:
    """Every problem in ``source`` (empty when valid), without raising."""
    if not isinstance(source, dict):
        return [Problem("", "a definition must be a JSON object")]
    return _check(source)[1]


def _check(source: dict[str, Any]) -> tuple[StateMachine | None, list[Problem]]:
    too_deep = _nesting_problem(source)
    if too_deep is not None:
        return None, [too_deep]  # the other checks would recurse as deep
    problems: list[Problem] = []
    model: StateMachine | None = None
    try:
        model = StateMachine.model_validate(source)
    except ValidationError as err:
        problems.extend(_pydantic_problems(source, err))
    problems.extend(_Checker(source).run())
    # Dedupe while keeping order: both passes may notice the same thing.
    seen: set[Problem] = set()
    unique = [p for p in problems if not (p in seen or seen.add(p))]
    return model, unique


def _nesting_problem(source: Any) -> Problem | None:
    """The first object or array nested deeper than ``MAX_NESTING``, found without recursion."""
    # Each entry: a value, how many containers enclose it, and its path as a
    # linked list (key, parent's link) so that no entry copies a long path.
    todo: list[tuple[Any, int, Any]] = [(source, 0, None)]
    while todo:
        value, depth, link = todo.pop()
        if not isinstance(value, dict | list):
            continue
        if depth >= MAX_NESTING:
            parts: list[str | int] = []
            while link is not None:
                key, link = link
                parts.append(key)
            return Problem(pointer(reversed(parts)), f"nested more than {MAX_NESTING} levels deep")
        pairs = value.items() if isinstance(value, dict) else enumerate(value)
        todo.extend((item, depth + 1, (key, link)) for key, item in pairs)
    return None


# ------------------------------------------------------ pydantic -> problems


def _pydantic_problems(raw: dict[str, Any], err: ValidationError) -> list[Problem]:
    out = []
    for error in err.errors(include_url=False):
        parts, state_type = _walk(raw, error["loc"])
        message = _message(error, state_type)
        if error["type"] in ("union_tag_invalid", "union_tag_not_found"):
            parts = (*parts, "Type")
        out.append(Problem(pointer(parts), message))
    return out


def _walk(raw: Any, loc: tuple[str | int, ...]) -> tuple[Parts, str | None]:
    """Map a pydantic location onto the raw document.

    pydantic inserts union tags (the state type, e.g. ``Task``) into ``loc``;
    they are dropped by following only keys/indexes the document has. The
    last element is kept even when absent: it names a missing field.
    """
    parts: list[str | int] = []
    cur = raw
    state_type = None
    for i, el in enumerate(loc):
        last = i == len(loc) - 1
        if (isinstance(cur, dict) and isinstance(el, str) and el in cur) or (
            isinstance(cur, list) and isinstance(el, int) and 0 <= el < len(cur)
        ):
            parts.append(el)
            cur = cur[el]
        elif last:
            parts.append(el)
        elif el in STATE_TYPES and i == len(loc) - 2:
            # The tag right before the field: the error is about a state's own field.
            state_type = str(el)
    return tuple(parts), state_type


def _fmt(n: Any) -> str:
    return str(int(n)) if isinstance(n, float) and n.is_integer() else str(n)


def _message(error: Any, state_type: str | None) -> str:
    kind = error["type"]
    ctx = error.get("ctx") or {}
    if kind == "missing":
        return "required field is missing"
    if kind == "extra_forbidden":
        if state_type:
            return f"field is not supported by {state_type} states"
        return "field is not allowed here"
    if kind == "union_tag_invalid":
        return f'unknown state type "{ctx.get("tag")}"; expected one of {", ".join(STATE_TYPES)}'
    if kind == "union_tag_not_found":
        return "required field is missing"
    if kind == "too_short":
        return "must not be empty"
    if kind in ("model_type", "dict_type", "model_attributes_type"):
        return "must be a JSON object"
    if kind == "list_type":
        return "must be an array"
    if kind == "greater_than_equal":
        return f"must be at least {_fmt(ctx['ge'])}"
    if kind == "less_than_equal":
        return f"must be at most {_fmt(ctx['le'])}"
    msg: str = error["msg"]
    return msg.replace("Input should be", "must be", 1)


class _Checker(StateChecks):
    """Rules pydantic can't express, run over the raw definition."""

    def __init__(self, raw: dict[str, Any]) -> None:
        self.raw = raw
        lang = raw.get("QueryLanguage")
        self.top_language = lang if lang in (JSONPATH, JSONATA) else JSONPATH
        self.problems: list[Problem] = []
        self.names: dict[str, Parts] = {}
        self.labels: dict[str, Parts] = {}

    def run(self) -> list[Problem]:
        version = self.raw.get("Version")
        if isinstance(version, str) and version != "1.0":
            self.add(("Version",), 'must be "1.0"')
        self.scope(self.raw, ())
        return self.problems

    # -- scopes ------------------------------------------------------------

    def scope(self, block: Any, parts: Parts) -> None:
        if not isinstance(block, dict):
            return
        states = block.get("States")
        start = block.get("StartAt")
        if not isinstance(states, dict):
            return
        if isinstance(start, str) and states and start not in states:
            self.add((*parts, "StartAt"), f'state "{start}" does not exist')
        for name, state in states.items():
            sparts = (*parts, "States", name)
            if len(name) > MAX_STATE_NAME:
                self.add(sparts, f"state name is longer than {MAX_STATE_NAME} characters")
            if name in self.names:
                self.add(
                    sparts, f'state name "{name}" is already used at {pointer(self.names[name])}'
                )
            else:
                self.names[name] = sparts
            if isinstance(state, dict):
                self.state(state, sparts, states)
        if isinstance(start, str) and start in states:
            for name in _unreachable(start, states):
                self.add((*parts, "States", name), "state is not reachable from StartAt")

    # -- states ------------------------------------------------------------

    def state(self, state: dict[str, Any], parts: Parts, scope: dict[str, Any]) -> None:
        kind = state.get("Type")
        lang = state.get("QueryLanguage")
        if lang == JSONPATH and self.top_language == JSONATA:
            self.add(
                (*parts, "QueryLanguage"),
                "JSONPath states are not allowed when the state machine's QueryLanguage is JSONata",
            )
        lang = lang if lang in (JSONPATH, JSONATA) else self.top_language

        self.transitions(state, parts, scope, kind)
        self.language_fields(state, parts, lang)
        if lang == JSONPATH:
            self.jsonpath_fields(state, parts)
        else:
            for field in _JSONATA_FIELDS:
                if field in state:
                    self.jsonata_value(state[field], (*parts, field))
        for field in ("Retry", "Catch"):
            if isinstance(state.get(field), list):
                self.error_handlers(state[field], (*parts, field), scope, lang)

        check = getattr(self, f"state_{kind}", None) if kind in STATE_TYPES else None
        if check is not None:
            check(state, parts, lang, scope)
        # Resources stepq cannot run are refused here, not at run time.
        for where, message in resources.problems(state):
            self.add((*parts, *where), message)

    def transitions(
        self, state: dict[str, Any], parts: Parts, scope: dict[str, Any], kind: Any
    ) -> None:
        nxt = state.get("Next")
        if isinstance(nxt, str) and nxt not in scope:
            self.add((*parts, "Next"), f'state "{nxt}" does not exist')
        if kind not in _NON_TERMINAL:
            return  # Choice/Succeed/Fail: pydantic refuses Next/End there.
        end = state.get("End") is True
        if end and "Next" in state:
            self.add(parts, "must have either Next or End: true, not both")
        elif not end and "Next" not in state:
            self.add(parts, "must have either Next or End: true")

    def language_fields(self, state: dict[str, Any], parts: Parts, lang: str) -> None:
        forbidden = JSONPATH_ONLY if lang == JSONATA else JSONATA_ONLY
        for field in forbidden:
            if field in state:
                self.add((*parts, field), f"field is not supported when QueryLanguage is {lang}")

    def jsonpath_fields(self, state: dict[str, Any], parts: Parts) -> None:
        for field in _PATH_FIELDS:
            value = state.get(field)
            if isinstance(value, str) and field == "ResultPath":
                self.result_path(value, (*parts, field))
            elif isinstance(value, str):
                self.path(value, (*parts, field))
        for field in _TEMPLATE_FIELDS:
            if field in state:
                self.template(state[field], (*parts, field))
        for field in ("ItemReader", "ResultWriter"):
            sub = state.get(field)
            if isinstance(sub, dict) and "Parameters" in sub:
                self.template(sub["Parameters"], (*parts, field, "Parameters"))
        # JSONata expressions only work in JSONata states; a number field
        # holding a string is a type error here.
        for field in (
            "Seconds",
            "TimeoutSeconds",
            "HeartbeatSeconds",
            "MaxConcurrency",
            "ToleratedFailureCount",
        ):
            if isinstance(state.get(field), str):
                self.add((*parts, field), "must be an integer")
        if isinstance(state.get("ToleratedFailurePercentage"), str):
            self.add((*parts, "ToleratedFailurePercentage"), "must be a number")

    # -- retry / catch -----------------------------------------------------

    def error_handlers(
        self, handlers: list[Any], parts: Parts, scope: dict[str, Any], lang: str
    ) -> None:
        kind = "retrier" if parts[-1] == "Retry" else "catcher"
        for i, handler in enumerate(handlers):
            if not isinstance(handler, dict):
                continue
            hparts = (*parts, i)
            errors = handler.get("ErrorEquals")
            if isinstance(errors, list) and ALL_ERRORS in errors:
                if len(errors) > 1:
                    self.add(
                        (*hparts, "ErrorEquals"), f'"{ALL_ERRORS}" must appear alone in ErrorEquals'
                    )
                if i != len(handlers) - 1:
                    self.add(
                        (*hparts, "ErrorEquals"),
                        f'a {kind} with "{ALL_ERRORS}" must be the last one',
                    )
            if kind == "retrier":
                continue
            nxt = handler.get("Next")
            if isinstance(nxt, str) and nxt not in scope:
                self.add((*hparts, "Next"), f'state "{nxt}" does not exist')
            if lang == JSONATA:
                if "ResultPath" in handler:
                    self.add(
                        (*hparts, "ResultPath"),
                        "field is not supported when QueryLanguage is JSONata",
                    )
                for field in ("Output", "Assign"):
                    if field in handler:
                        self.jsonata_value(handler[field], (*hparts, field))
            else:
                if "Output" in handler:
                    self.add(
                        (*hparts, "Output"), "field is not supported when QueryLanguage is JSONPath"
                    )
                if isinstance(handler.get("ResultPath"), str):
                    self.result_path(handler["ResultPath"], (*hparts, "ResultPath"))
                if "Assign" in handler:
                    self.template(handler["Assign"], (*hparts, "Assign"))


# ------------------------------------------------------------------ helpers


def _successors(state: dict[str, Any]) -> Iterator[str]:
    for target in (state.get("Next"), state.get("Default")):
        if isinstance(target, str):
            yield target
    for field in ("Choices", "Catch"):
        items = state.get(field)
        if isinstance(items, list):
            for item in items:
                if isinstance(item, dict) and isinstance(item.get("Next"), str):
                    yield item["Next"]


def _unreachable(start: str, states: dict[str, Any]) -> list[str]:
    seen = {start}
    todo = [start]
    while todo:
        state = states.get(todo.pop())
        if not isinstance(state, dict):
            continue
        for nxt in _successors(state):
            if nxt in states and nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return [name for name in states if name not in seen]

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
semantic checks below, which run on the raw dict so they still report when
pydantic has refused something elsewhere. They only judge values of the
right type, so a wrongly typed value is reported once (by pydantic).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from stepq.core import choice as _choice
from stepq.core import intrinsics, jsonata_query, jsonpath
from stepq.errors import DefinitionError, Problem

from .models import COMPARISON_OPERATORS, JSONATA, JSONPATH, STATE_TYPES, StateMachine

MAX_STATE_NAME = 80
ALL_ERRORS = "States.ALL"

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
_VARIABLE_REF = re.compile(r"\$[A-Za-z_][A-Za-z0-9_]*")
# Operators a reference path may not use (ASL: dot and bracket notation only).
_NOT_REFERENCE = re.compile(r"\*|\.\.|\?|@|:|,")

Parts = tuple[str | int, ...]


# ------------------------------------------------------------------ public API


def load_definition(source: dict[str, Any] | str) -> StateMachine:
    """Parse and validate ``source``; raise ``DefinitionError`` listing all problems."""
    if isinstance(source, str):
        try:
            source = json.loads(source)
        except json.JSONDecodeError as err:
            raise DefinitionError([Problem("", f"not valid JSON: {err}")]) from err
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


# ------------------------------------------------------------- path helpers


def pointer(parts: Iterable[str | int]) -> str:
    """A JSON Pointer (RFC 6901) for ``parts``."""
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in parts)


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


# ---------------------------------------------------------- semantic checks


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def _tolerant(check: Callable[[str], str | None], text: str) -> str | None:
    # Sibling modules may still be stubs; a stub must not block validation.
    try:
        return check(text)
    except NotImplementedError:
        return None


def _operators() -> frozenset[str]:
    # The union: an operator either list knows counts as an operator.
    return frozenset(_choice.OPERATORS) | COMPARISON_OPERATORS


class _Checker:
    """Rules pydantic can't express, run over the raw definition."""

    def __init__(self, raw: dict[str, Any]) -> None:
        self.raw = raw
        lang = raw.get("QueryLanguage")
        self.top_language = lang if lang in (JSONPATH, JSONATA) else JSONPATH
        self.problems: list[Problem] = []
        self.names: dict[str, Parts] = {}

    def add(self, parts: Parts, message: str) -> None:
        self.problems.append(Problem(pointer(parts), message))

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

    def result_path(self, value: str, parts: Parts) -> None:
        """ResultPath is a reference path: it names one place in the state input."""
        if value.startswith("$$") or _VARIABLE_REF.match(value):
            self.add(
                parts, f'"{value}" must point into the state input ($), not context or a variable'
            )
        elif _NOT_REFERENCE.search(re.sub(r"'[^']*'", "", value)):
            self.add(
                parts, f'"{value}" must be a reference path, without wildcards, filters or slices'
            )
        else:
            self.path(value, parts)

    def path(self, value: str, parts: Parts, *, intrinsic: bool = False) -> None:
        """A JSONPath (``$``, ``$$`` context, ``$var`` variable) or, if allowed, an intrinsic."""
        if intrinsic and value.startswith("States."):
            reason = _tolerant(intrinsics.validate, value)
            if reason:
                self.add(parts, f"invalid intrinsic function: {reason}")
            return
        reason = _tolerant(jsonpath.validate_path, _as_data_path(value))
        if reason:
            self.add(parts, f'invalid JSONPath "{value}": {reason}')

    def template(self, value: Any, parts: Parts) -> None:
        if isinstance(value, dict):
            for key, item in value.items():
                kparts = (*parts, key)
                if isinstance(key, str) and key.endswith(".$"):
                    if not isinstance(item, str):
                        self.add(
                            kparts, "must be a string holding a JSONPath or an intrinsic function"
                        )
                    elif item.startswith("$") or item.startswith("States."):
                        self.path(item, kparts, intrinsic=True)
                    else:
                        self.add(
                            kparts, f'"{item}" is neither a JSONPath nor an intrinsic function'
                        )
                else:
                    self.template(item, kparts)
        elif isinstance(value, list):
            for i, item in enumerate(value):
                self.template(item, (*parts, i))

    def jsonata_value(self, value: Any, parts: Parts) -> None:
        if isinstance(value, dict):
            for key, item in value.items():
                self.jsonata_value(item, (*parts, key))
        elif isinstance(value, list):
            for i, item in enumerate(value):
                self.jsonata_value(item, (*parts, i))
        elif jsonata_query.is_expression(value):
            reason = _tolerant(jsonata_query.check_syntax, value[2:-2])
            if reason:
                self.add(parts, f"invalid JSONata expression: {reason}")

    def int_or_expr(
        self, state: dict[str, Any], field: str, parts: Parts, lang: str, low: int
    ) -> None:
        """Range-check a number field; in JSONata it may also be an expression."""
        value = state.get(field)
        if _is_int(value) and value < low:
            self.add((*parts, field), f"must be at least {low}")
        elif lang == JSONATA and isinstance(value, str) and not jsonata_query.is_expression(value):
            self.add((*parts, field), "must be an integer or a JSONata expression string")

    def exclusive(self, state: dict[str, Any], parts: Parts, fields: tuple[str, ...]) -> list[str]:
        present = [f for f in fields if f in state]
        if len(present) > 1:
            self.add(parts, f"{' and '.join(present)} are mutually exclusive")
        return present

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

    # -- per state type ----------------------------------------------------

    def state_Task(
        self, state: dict[str, Any], parts: Parts, lang: str, scope: dict[str, Any]
    ) -> None:
        resource = state.get("Resource")
        if isinstance(resource, str) and jsonata_query.is_expression(resource):
            self.add((*parts, "Resource"), "must be a literal ARN, not a JSONata expression")
        elif isinstance(resource, str) and not resource.startswith("arn:"):
            self.add((*parts, "Resource"), f'"{resource}" is not an ARN')
        self.exclusive(state, parts, ("TimeoutSeconds", "TimeoutSecondsPath"))
        self.exclusive(state, parts, ("HeartbeatSeconds", "HeartbeatSecondsPath"))
        self.int_or_expr(state, "TimeoutSeconds", parts, lang, 1)
        self.int_or_expr(state, "HeartbeatSeconds", parts, lang, 1)
        timeout, heartbeat = state.get("TimeoutSeconds"), state.get("HeartbeatSeconds")
        if _is_int(timeout) and _is_int(heartbeat) and 0 < timeout <= heartbeat:
            self.add((*parts, "HeartbeatSeconds"), "must be smaller than TimeoutSeconds")

    def state_Wait(
        self, state: dict[str, Any], parts: Parts, lang: str, scope: dict[str, Any]
    ) -> None:
        present = self.exclusive(
            state, parts, ("Seconds", "SecondsPath", "Timestamp", "TimestampPath")
        )
        if not present:
            self.add(parts, "must have one of Seconds, SecondsPath, Timestamp or TimestampPath")
        self.int_or_expr(state, "Seconds", parts, lang, 0)
        stamp = state.get("Timestamp")
        is_expr = lang == JSONATA and jsonata_query.is_expression(stamp)
        if isinstance(stamp, str) and not is_expr and not _is_timestamp(stamp):
            self.add((*parts, "Timestamp"), f'"{stamp}" is not an ISO-8601 timestamp')

    def state_Fail(
        self, state: dict[str, Any], parts: Parts, lang: str, scope: dict[str, Any]
    ) -> None:
        self.exclusive(state, parts, ("Error", "ErrorPath"))
        self.exclusive(state, parts, ("Cause", "CausePath"))
        if lang == JSONPATH:
            for field in ("ErrorPath", "CausePath"):
                if isinstance(state.get(field), str):
                    self.path(state[field], (*parts, field), intrinsic=True)

    def state_Parallel(
        self, state: dict[str, Any], parts: Parts, lang: str, scope: dict[str, Any]
    ) -> None:
        branches = state.get("Branches")
        if isinstance(branches, list):
            for i, branch in enumerate(branches):
                self.scope(branch, (*parts, "Branches", i))

    def state_Map(
        self, state: dict[str, Any], parts: Parts, lang: str, scope: dict[str, Any]
    ) -> None:
        present = self.exclusive(state, parts, ("ItemProcessor", "Iterator"))
        if not present:
            self.add(parts, "must have an ItemProcessor (or Iterator)")
        for field in present:
            self.scope(state[field], (*parts, field))
        self.exclusive(state, parts, ("ItemSelector", "Parameters"))
        self.exclusive(state, parts, ("MaxConcurrency", "MaxConcurrencyPath"))
        self.exclusive(state, parts, ("ToleratedFailureCount", "ToleratedFailureCountPath"))
        self.exclusive(
            state, parts, ("ToleratedFailurePercentage", "ToleratedFailurePercentagePath")
        )
        self.int_or_expr(state, "MaxConcurrency", parts, lang, 0)
        self.int_or_expr(state, "ToleratedFailureCount", parts, lang, 0)
        pct = state.get("ToleratedFailurePercentage")
        if _is_number(pct) and not 0 <= pct <= 100:
            self.add((*parts, "ToleratedFailurePercentage"), "must be between 0 and 100")
        items = state.get("Items")
        if (
            lang == JSONATA
            and "Items" in state
            and not (isinstance(items, list) or jsonata_query.is_expression(items))
        ):
            self.add((*parts, "Items"), "must be an array or a JSONata expression string")

    def state_Choice(
        self, state: dict[str, Any], parts: Parts, lang: str, scope: dict[str, Any]
    ) -> None:
        default = state.get("Default")
        if isinstance(default, str) and default not in scope:
            self.add((*parts, "Default"), f'state "{default}" does not exist')
        rules = state.get("Choices")
        if not isinstance(rules, list):
            return
        for i, rule in enumerate(rules):
            if not isinstance(rule, dict):
                continue
            rparts = (*parts, "Choices", i)
            nxt = rule.get("Next")
            if "Next" not in rule:
                self.add((*rparts, "Next"), "required field is missing")
            elif isinstance(nxt, str) and nxt not in scope:
                self.add((*rparts, "Next"), f'state "{nxt}" does not exist')
            if lang == JSONATA:
                self.jsonata_rule(rule, rparts)
            else:
                self.jsonpath_rule(rule, rparts, top=True)

    def jsonata_rule(self, rule: dict[str, Any], parts: Parts) -> None:
        for field in ("Variable", "And", "Or", "Not", *sorted(_operators() & rule.keys())):
            if field in rule:
                self.add((*parts, field), "field is not supported when QueryLanguage is JSONata")
        if "Condition" not in rule:
            self.add((*parts, "Condition"), "required field is missing")
            return
        cond = rule["Condition"]
        if isinstance(cond, bool):
            return
        if not jsonata_query.is_expression(cond):
            self.add((*parts, "Condition"), "must be a boolean or a JSONata expression string")
        for field in ("Condition", "Output", "Assign"):
            if field in rule:
                self.jsonata_value(rule[field], (*parts, field))

    def jsonpath_rule(self, rule: dict[str, Any], parts: Parts, *, top: bool) -> None:
        for field in ("Condition", "Output"):
            if field in rule:
                self.add((*parts, field), "field is not supported when QueryLanguage is JSONPath")
        if not top:
            for field in ("Next", "Assign"):
                if field in rule:
                    self.add((*parts, field), "field is only allowed in a top-level Choice rule")
        elif "Assign" in rule:
            self.template(rule["Assign"], (*parts, "Assign"))
        combinators = [c for c in ("And", "Or", "Not") if c in rule]
        operators = sorted(_operators() & rule.keys())
        if combinators:
            if len(combinators) > 1 or operators or "Variable" in rule:
                extra = [*combinators, *(["Variable"] if "Variable" in rule else []), *operators]
                self.add(
                    parts,
                    f"a rule must be one comparison or one of And/Or/Not, not {', '.join(extra)}",
                )
            for c in combinators:
                value = rule[c]
                subs = [(value, (*parts, c))] if c == "Not" else []
                if c != "Not" and isinstance(value, list):
                    subs = [(r, (*parts, c, i)) for i, r in enumerate(value)]
                for sub, sparts in subs:
                    if isinstance(sub, dict):
                        self.jsonpath_rule(sub, sparts, top=False)
            return
        if not operators:
            self.add(parts, "must have a comparison operator (or And/Or/Not)")
        elif len(operators) > 1:
            self.add(
                parts, f"must have exactly one comparison operator, found {', '.join(operators)}"
            )
        if "Variable" not in rule:
            self.add((*parts, "Variable"), "required field is missing")
        elif isinstance(rule["Variable"], str):
            self.path(rule["Variable"], (*parts, "Variable"))
        for op in operators:
            value = rule[op]
            if op.endswith("Path") and isinstance(value, str):
                self.path(value, (*parts, op))
            elif op.startswith("Timestamp") and isinstance(value, str) and not _is_timestamp(value):
                self.add((*parts, op), f'"{value}" is not an ISO-8601 timestamp')


# ------------------------------------------------------------------ helpers


def _as_data_path(value: str) -> str:
    """``$$.x`` (context) and ``$var.x`` (variable) as a plain ``$.x`` path."""
    if value.startswith("$$"):
        return value[1:]
    match = _VARIABLE_REF.match(value)
    if match:
        return "$" + value[match.end() :]
    return value


def _is_timestamp(text: str) -> bool:
    # AWS wants RFC 3339 (date, 'T', time, offset); Python parses a superset,
    # so require the 'T' and an offset explicitly.
    if "T" not in text or not (text.endswith("Z") or re.search(r"[+-]\d\d:?\d\d$", text)):
        return False
    try:
        datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return False
    return True


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

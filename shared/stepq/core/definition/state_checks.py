"""The checks particular to each state type (``state_<Type>``) and Choice rules."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from stepq.core import choice as _choice
from stepq.core import jsonata_query

from .field_checks import FieldChecks, Parts, is_int, pointer
from .models import COMPARISON_OPERATORS, JSONATA, JSONPATH


def _is_number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def _operators() -> frozenset[str]:
    # The union: an operator either list knows counts as an operator.
    return frozenset(_choice.OPERATORS) | COMPARISON_OPERATORS


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


# Step Functions' rule for a Map's Label (it names the Map Run in its ARN): at
# most 40 characters, none of these, unique in the machine.
MAX_LABEL = 40
_LABEL_FORBIDDEN = re.compile(r"[\s?*<>{}\[\]:;,\\|^~$#%&`\"\u0000-\u001f\u007f-\u009f]")


class StateChecks(FieldChecks):
    """Per state type: ``state_<Type>(state, parts, lang, scope)``."""

    labels: dict[str, Parts]  # Map Label -> where it was first used

    def scope(self, block: Any, parts: Parts) -> None:
        """Check a nested ``{StartAt, States}`` block (Parallel branches, Map processors)."""
        raise NotImplementedError

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
        if is_int(timeout) and is_int(heartbeat) and 0 < timeout <= heartbeat:
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
        if isinstance(state.get("Label"), str):
            self.label(state["Label"], (*parts, "Label"))
        items = state.get("Items")
        if (
            lang == JSONATA
            and "Items" in state
            and not (isinstance(items, list) or jsonata_query.is_expression(items))
        ):
            self.add((*parts, "Items"), "must be an array or a JSONata expression string")

    def label(self, label: str, parts: Parts) -> None:
        if not label or len(label) > MAX_LABEL:
            self.add(parts, f"a Label must be 1 to {MAX_LABEL} characters long")
        bad = _LABEL_FORBIDDEN.search(label)
        if bad:
            self.add(parts, f"a Label may not contain {bad.group()!r}")
        if label in self.labels:
            self.add(parts, f'Label "{label}" is already used at {pointer(self.labels[label])}')
        else:
            self.labels[label] = parts

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

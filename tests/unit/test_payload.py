"""Payload templates (Parameters, ResultSelector, ItemSelector, Assign)."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from stepq.core import intrinsics
from stepq.core.failures import RUNTIME, StatesFailure
from stepq.core.payload import render, resolve, validate_template

CONTEXT: dict[str, Any] = {
    "Execution": {"Id": "arn:aws:states:us-east-1:1:execution:sm:run", "Name": "run"},
    "Map": {"Item": {"Index": 2, "Value": {"innerJobs": [1, 2]}}},
}


def test_literals_are_copied_and_dollar_keys_resolved() -> None:
    template = {
        "constant": "HelloWorld",
        "num": 0.1,
        "nothing": None,
        "list": [1, {"x.$": "$.a"}, "$.not_a_path"],
        "nested": {"v.$": "$.a", "keep": {"deep": True}},
        "all.$": "$",
        "ctx.$": "$$.Execution.Name",
        "ctxAll.$": "$$.Map.Item.Value.innerJobs",
    }
    data = {"a": [1, 2]}
    before = copy.deepcopy(template)
    out = render(template, data, CONTEXT, {})
    assert out == {
        "constant": "HelloWorld",
        "num": 0.1,
        "nothing": None,
        "list": [1, {"x": [1, 2]}, "$.not_a_path"],
        "nested": {"v": [1, 2], "keep": {"deep": True}},
        "all": {"a": [1, 2]},
        "ctx": "run",
        "ctxAll": [1, 2],
    }
    assert template == before
    assert out["nested"]["keep"] is not template["nested"]["keep"]


def test_whole_context_and_indefinite_paths() -> None:
    out = render({"c.$": "$$", "items.$": "$.items[*].v"}, {"items": []}, CONTEXT, {})
    assert out == {"c": CONTEXT, "items": []}


def test_variables() -> None:
    variables = {"bucket": "b1", "cfg": {"limits": [10, 20]}, "_x1": 7}
    template = {"b.$": "$bucket", "l.$": "$cfg.limits[1]", "u.$": "$_x1", "plain": "$bucket"}
    out = render(template, {}, CONTEXT, variables)
    assert out == {"b": "b1", "l": 20, "u": 7, "plain": "$bucket"}


def test_missing_path_names_field_and_input() -> None:
    # scenarios/test_invalid_jsonpath_INVALID_JSONPATH_IN_STRING_EXPR_JSONPATH
    data = {"int-literal": 0, "text": "é"}
    with pytest.raises(StatesFailure) as info:
        render({"value.$": "$.no_such_jsonpath"}, data, CONTEXT, {})
    err = info.value
    assert err.error == RUNTIME
    assert err.state_scoped
    assert err.cause == (
        "The JSONPath '$.no_such_jsonpath' specified for the field 'value.$' could not be "
        """found in the input '{"int-literal":0,"text":"é"}'"""
    )


def test_missing_nested_field_is_reported_by_its_own_key() -> None:
    with pytest.raises(StatesFailure) as info:
        render({"outer": [{"inner.$": "$.a.b"}]}, {"a": {}}, CONTEXT, {})
    assert "for the field 'inner.$'" in (info.value.cause or "")


def test_missing_variable_fails() -> None:
    with pytest.raises(StatesFailure) as info:
        render({"v.$": "$nope"}, {}, CONTEXT, {})
    assert info.value.error == RUNTIME
    assert "'$nope'" in (info.value.cause or "")


def test_intrinsics_are_delegated(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[Any, ...]] = []

    def fake(expr: str, data: Any, context: Any, variables: Any) -> str:
        calls.append((expr, data, context, variables))
        return "formatted"

    monkeypatch.setattr(intrinsics, "evaluate", fake)
    data = {"n": 1}
    out = render({"f.$": "States.Format('{}', $.n)"}, data, CONTEXT, {"v": 1})
    assert out == {"f": "formatted"}
    assert calls == [("States.Format('{}', $.n)", data, CONTEXT, {"v": 1})]


def test_resolve_without_a_field_uses_the_path_error_text() -> None:
    assert resolve("$.a", {"a": 3}, CONTEXT, {}) == 3
    assert resolve("$$.Map.Item.Index", {}, CONTEXT, {}) == 2
    with pytest.raises(StatesFailure) as info:
        resolve("$.x", {}, CONTEXT, {})
    assert info.value.cause == "Invalid path '$.x' : No results for path: $['x']"


@pytest.mark.parametrize("bad", [3, None, "not a path", "$.a[", "$9x"])
def test_render_rejects_invalid_references(bad: Any) -> None:
    with pytest.raises(StatesFailure):
        render({"x.$": bad}, {"a": 1}, CONTEXT, {})


def test_validate_template_points_at_problems(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(intrinsics, "validate", lambda expr: None)
    template = {
        "ok.$": "$.a",
        "ctx.$": "$$.Execution.Id",
        "var.$": "$v.x[0]",
        "fn.$": "States.UUID()",
        "literal": "$.anything",
        "nested": {"bad.$": "nope", "list": [{"n.$": 5}, {"a/b~.$": "$["}]},
        "dup": 1,
        "dup.$": "$",
    }
    problems = validate_template(template)
    pointers = [p for p, _ in problems]
    assert pointers == ["/nested/bad.$", "/nested/list/0/n.$", "/nested/list/1/a~1b~0.$", "/dup.$"]
    assert all(msg for _, msg in problems)


def test_validate_template_reports_intrinsic_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(intrinsics, "validate", lambda expr: "unknown function")
    problems = validate_template({"f.$": "States.Nope()"})
    assert problems and problems[0][0] == "/f.$" and "unknown function" in problems[0][1]


_keys = st.text(alphabet="abc", min_size=1, max_size=3)
_literal = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(alphabet="$.ab", max_size=4),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_keys, inner, max_size=3),
    max_leaves=10,
)


@given(_literal)
def test_templates_without_dollar_keys_render_unchanged(template: Any) -> None:
    assert render(template, {"a": 1}, CONTEXT, {}) == template
    assert validate_template(template) == []

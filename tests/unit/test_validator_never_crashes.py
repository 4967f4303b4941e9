"""The definition validator never crashes, whatever it is given.

A regex with a huge repeat count, filters nested 1,500 deep, JSON nested
5,000 deep, an index with 5,000 digits: each is a ``Problem`` with its JSON
path in the ``DefinitionError`` (or the definition is accepted when it is
valid), never a ``RecursionError``, ``OverflowError`` or ``re.error``. And
``stepq validate FILE`` prints problems, not a traceback.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from stepq.core import intrinsics, jsonpath
from stepq.core.definition import find_problems, load_definition
from stepq.errors import DefinitionError, Problem
from typer.testing import CliRunner

LAMBDA = "arn:aws:lambda:us-east-1:111111111111:function:a"
HUGE_REPEAT = "/a{99999999999}/"  # over the regex engine's limit: OverflowError in re


def nested_list(depth: int, leaf: Any = 1) -> Any:
    for _ in range(depth):
        leaf = [leaf]
    return leaf


def nested_dict(depth: int, leaf: Any = 1) -> Any:
    for _ in range(depth):
        leaf = {"a": leaf}
    return leaf


def nested_filters(depth: int) -> str:
    return "$" + "[?(@" * depth + ".a" + ")]" * depth


def pass_state(**fields: Any) -> dict[str, Any]:
    return {"StartAt": "A", "States": {"A": {"Type": "Pass", "End": True, **fields}}}


def choice(rule: dict[str, Any]) -> dict[str, Any]:
    return {
        "StartAt": "C",
        "States": {
            "C": {"Type": "Choice", "Choices": [{**rule, "Next": "E"}], "Default": "E"},
            "E": {"Type": "Succeed"},
        },
    }


def jsonata(**fields: Any) -> dict[str, Any]:
    return {"QueryLanguage": "JSONata", **pass_state(**fields)}


def not_rules(depth: int) -> dict[str, Any]:
    rule: dict[str, Any] = {"Variable": "$.a", "IsNull": True}
    for _ in range(depth):
        rule = {"Not": rule}
    return rule


def parallels(depth: int) -> dict[str, Any]:
    block: dict[str, Any] = {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}
    for i in range(depth):
        name = f"P{i}"
        block = {
            "StartAt": name,
            "States": {name: {"Type": "Parallel", "Branches": [block], "End": True}},
        }
    return block


def _cycle() -> dict[str, Any]:
    loop: dict[str, Any] = {}
    loop["again"] = loop
    return pass_state(Parameters=loop)


def refused(source: Any) -> list[Problem]:
    """The problems ``load_definition`` reports; it must refuse, and find_problems agree."""
    with pytest.raises(DefinitionError) as info:
        load_definition(source)
    problems = info.value.problems
    assert problems
    if isinstance(source, dict):
        assert find_problems(source) == problems
    return problems


# (name, definition, the path of a problem, a fragment of its message)
# fmt: off
REFUSED = [
    ("regex in InputPath", pass_state(InputPath=f"$[?(@.a =~ {HUGE_REPEAT})]"), "/States/A/InputPath", "Invalid regular expression"),
    ("regex in Parameters", pass_state(Parameters={"x.$": f"$.items[?(@ =~ {HUGE_REPEAT}i)]"}), "/States/A/Parameters/x.$", "Invalid regular expression"),
    ("regex in Assign", pass_state(Assign={"x.$": f"$[?(@.a =~ {HUGE_REPEAT})]"}), "/States/A/Assign/x.$", "Invalid regular expression"),
    ("regex in an intrinsic", pass_state(Parameters={"x.$": f"States.Format('{{}}', $[?(@.a =~ {HUGE_REPEAT})])"}), "/States/A/Parameters/x.$", "Invalid regular expression"),
    ("regex in a Choice Variable", choice({"Variable": f"$[?(@.a =~ {HUGE_REPEAT})]", "IsNull": True}), "/States/C/Choices/0/Variable", "Invalid regular expression"),
    ("regex in a Choice ...Path", choice({"Variable": "$.a", "StringEqualsPath": f"$[?(@ =~ {HUGE_REPEAT})]"}), "/States/C/Choices/0/StringEqualsPath", "Invalid regular expression"),
    ("regex nested 20,000 groups", pass_state(InputPath="$[?(@.a =~ /" + "(" * 20000 + "a" + ")" * 20000 + "/)]"), "/States/A/InputPath", "Invalid regular expression"),
    ("1,500 nested filters", pass_state(Parameters={"x.$": nested_filters(1500)}), "/States/A/Parameters/x.$", "nested more than"),
    ("1,500 nested filters in OutputPath", pass_state(OutputPath=nested_filters(1500)), "/States/A/OutputPath", "nested more than"),
    ("20,000 parentheses in a filter", pass_state(InputPath="$[?(" + "(" * 20000 + "@.a" + ")" * 20000 + ")]"), "/States/A/InputPath", "nested more than"),
    ("20,000 negations in a filter", pass_state(InputPath="$[?(" + "!" * 20000 + "@.a)]"), "/States/A/InputPath", "nested more than"),
    ("a JSON literal nested 20,000 deep", pass_state(InputPath="$[?(@.a in " + "[" * 20000 + "]" * 20000 + ")]"), "/States/A/InputPath", "Invalid JSON literal"),
    ("an index of 5,000 digits", pass_state(InputPath="$[" + "9" * 5000 + "]"), "/States/A/InputPath", "Invalid array index"),
    ("a number of 5,000 digits in a filter", pass_state(InputPath="$[?(@.a > " + "9" * 5000 + ")]"), "/States/A/InputPath", "Invalid number"),
    ("1,500 nested intrinsics", pass_state(Parameters={"x.$": "States.Array(" * 1500 + "1" + ")" * 1500}), "/States/A/Parameters/x.$", "nested more than"),
    ("5,000 nested lists in Parameters", pass_state(Parameters={"x": nested_list(5000)}), "/States/A/Parameters/x/0/0", "nested more than 1000 levels"),
    ("5,000 nested lists in Result", pass_state(Result=nested_list(5000)), "/States/A/Result/0/0", "nested more than 1000 levels"),
    ("5,000 nested objects in Result", pass_state(Result=nested_dict(5000)), "/States/A/Result/a/a", "nested more than 1000 levels"),
    ("5,000 nested lists in Assign", pass_state(Assign={"v": nested_list(5000)}), "/States/A/Assign/v/0", "nested more than 1000 levels"),
    ("5,000 nested lists in JSONata Output", jsonata(Output=nested_list(5000, "{% 1 %}")), "/States/A/Output/0/0", "nested more than 1000 levels"),
    ("5,000 nested Not rules", choice(not_rules(5000)), "/States/C/Choices/0/Not/Not", "nested more than 1000 levels"),
    ("a Parameters object that contains itself", _cycle(), "/States/A/Parameters/again/again", "nested more than 1000 levels"),
]
# fmt: on


@pytest.mark.parametrize(
    ("definition", "path", "message"),
    [pytest.param(d, p, m, id=name) for name, d, p, m in REFUSED],
)
def test_hostile_input_is_a_problem_with_its_path(
    definition: dict[str, Any], path: str, message: str
) -> None:
    problems = refused(definition)
    assert any(p.path.startswith(path) and message in p.message for p in problems), problems


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"StartAt": "A", "States": ' + "[" * 20000 + "]" * 20000 + "}", "nested too deeply"),
        ("[" * 100_000, "not valid JSON"),
        ('{"StartAt": "A", "States": {"A": {"Type": "Pass", "End": true}', "not valid JSON"),
    ],
)
def test_json_text_nested_too_deeply_is_a_problem(text: str, message: str) -> None:
    (problem,) = refused(text)
    assert problem.path == ""
    assert message in problem.message


@pytest.mark.parametrize(
    "definition",
    [
        pytest.param(pass_state(InputPath="$[?(@.a =~ /a{3}b/i)]"), id="a small repeat"),
        pytest.param(pass_state(Parameters={"x.$": nested_filters(5)}), id="5 nested filters"),
        pytest.param(pass_state(InputPath="$[?(((!(@.a))))]"), id="some parentheses"),
        pytest.param(pass_state(Result=nested_list(100)), id="100 nested lists"),
        pytest.param(
            pass_state(Parameters={"x.$": "States.Array(" * 10 + "1" + ")" * 10}),
            id="10 nested intrinsics",
        ),
        pytest.param(choice(not_rules(20)), id="20 nested Not rules"),
        pytest.param(parallels(10), id="10 nested Parallels"),
        pytest.param(pass_state(InputPath="$[" + "9" * 30 + "]"), id="a long index"),
    ],
)
def test_deep_but_reasonable_definitions_are_accepted(definition: dict[str, Any]) -> None:
    assert find_problems(definition) == []
    load_definition(definition)


def test_deeply_nested_parallels_are_refused_not_crashed() -> None:
    problems = refused(parallels(1000))
    assert all(p.path.startswith("/States/P999/Branches/0") for p in problems)


def test_lone_surrogates_in_names_are_reported() -> None:
    definition = {"StartAt": "A\ud800", "States": {"B\udfff": {"Type": "Pass", "End": True}}}
    paths = {p.path for p in refused(definition)}
    assert "/StartAt" in paths


# --- properties ---------------------------------------------------------------------

_PATH_BITS = [
    *"$@.[]?()'\"*:,=~/!<>&| -019aS{}\\",
    "States.",
    "States.Format(",
    "States.Array(",
    "in ",
    "size",
    "=~ /",
    "length()",
    "..",
    "[?(@",
    ")]",
    "9" * 30,
    "{99999999999}",
    "\ud800",
]
_path_text = st.lists(st.sampled_from(_PATH_BITS), min_size=1, max_size=30).map("".join)


@settings(max_examples=500, deadline=None)
@given(_path_text)
def test_path_and_intrinsic_checks_never_raise(text: str) -> None:
    for result in (
        jsonpath.validate_path("$" + text),
        jsonpath.validate_path("$[?(" + text + ")]"),
        intrinsics.validate("States." + text),
        intrinsics.validate("States.Format(" + text + ")"),
    ):
        assert result is None or isinstance(result, str)


_FIELDS = [
    "Type",
    "Next",
    "End",
    "InputPath",
    "OutputPath",
    "ResultPath",
    "ItemsPath",
    "Parameters",
    "ResultSelector",
    "Result",
    "Assign",
    "Arguments",
    "Output",
    "Choices",
    "Default",
    "Variable",
    "Not",
    "And",
    "StringMatches",
    "StringEqualsPath",
    "TimestampEquals",
    "Seconds",
    "Timestamp",
    "TimeoutSeconds",
    "HeartbeatSeconds",
    "Retry",
    "Catch",
    "ErrorEquals",
    "Branches",
    "ItemProcessor",
    "Iterator",
    "ItemSelector",
    "StartAt",
    "States",
    "QueryLanguage",
    "Condition",
    "Resource",
    "MaxConcurrency",
    "ToleratedFailurePercentage",
    "Error",
    "Cause",
    "x.$",
]
_TYPES = ["Pass", "Task", "Choice", "Wait", "Succeed", "Fail", "Parallel", "Map", "Nope"]
_leaf = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(),
    st.sampled_from([*_TYPES, "JSONata", "JSONPath", LAMBDA, "{% $x %}", "{% ( %}", "A", "B"]),
    _path_text,
    st.text(max_size=6),
)
_value = st.recursive(
    _leaf,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from(_FIELDS), inner, max_size=4)
    ),
    max_leaves=12,
)
_state = st.fixed_dictionaries(
    {"Type": st.sampled_from(_TYPES)},
    optional={name: _value for name in _FIELDS if name != "Type"},
)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.dictionaries(st.sampled_from(["A", "B", "C\ud800"]), _state, min_size=1, max_size=3),
    st.sampled_from(["A", "B", "Z"]),
    st.sampled_from([None, "JSONPath", "JSONata", 5]),
)
def test_random_state_machines_never_crash_the_validator(
    states: dict[str, Any], start: str, language: Any
) -> None:
    definition: dict[str, Any] = {"StartAt": start, "States": states}
    if language is not None:
        definition["QueryLanguage"] = language
    problems = find_problems(definition)
    assert all(isinstance(p, Problem) for p in problems)
    try:
        load_definition(json.dumps(definition))
    except DefinitionError as err:
        assert err.problems


@settings(max_examples=200, deadline=None)
@given(_value)
def test_any_json_value_never_crashes_the_validator(value: Any) -> None:
    assert isinstance(find_problems(value if isinstance(value, dict) else {"x": value}), list)


# --- the command line ---------------------------------------------------------------


def _validate(tmp_path: Path, text: str) -> Any:
    from stepq.cli.commands import app

    path = tmp_path / "machine.asl.json"
    path.write_text(text, encoding="utf-8")
    return CliRunner().invoke(app, ["validate", str(path)])


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            '{"StartAt": "A", "States": ' + "[" * 20000 + "]" * 20000 + "}",
            ":: not valid JSON: nested too deeply",
        ),
        ("{not json", ":: not valid JSON"),
        (json.dumps(pass_state(Result=nested_list(5000))), ":/States/A/Result/0/0/0"),
        (
            json.dumps(pass_state(InputPath=f"$[?(@.a =~ {HUGE_REPEAT})]")),
            ":/States/A/InputPath: invalid JSONPath",
        ),
        (
            json.dumps(pass_state(Parameters={"x.$": nested_filters(1500)})),
            ":/States/A/Parameters/x.$: invalid JSONPath",
        ),
        (
            '{"StartAt": "A\\ud800", "States": {"B": {"Type": "Pass", "End": true}}}',
            '/StartAt: state "A\\ud800" does not exist',
        ),
    ],
)
def test_the_validate_command_prints_problems_not_tracebacks(
    tmp_path: Path, text: str, expected: str
) -> None:
    result = _validate(tmp_path, text)
    assert result.exit_code == 1, result.output
    assert not isinstance(result.exception, Exception) or isinstance(result.exception, SystemExit)
    assert expected in result.output


def test_the_validate_command_accepts_a_valid_file(tmp_path: Path) -> None:
    result = _validate(tmp_path, json.dumps(pass_state(Result=nested_list(100))))
    assert result.exit_code == 0, result.output
    assert "valid" in result.output

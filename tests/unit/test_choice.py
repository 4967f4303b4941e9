"""Choice rules in JSONPath mode (values taken from AWS-recorded behaviour)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from stepq.core.choice import OPERATORS, evaluate_rule
from stepq.core.failures import RUNTIME, StatesFailure

T0 = "2012-10-09T19:00:55Z"
T1 = "2012-10-09T19:00:56Z"


def ev(rule: dict[str, Any], data: Any, context: Any = None, variables: Any = None) -> bool:
    return evaluate_rule(rule, data, context or {}, variables or {})


def var(op: str, operand: Any, value: Any) -> bool:
    """``{"Variable": "$.v", op: operand}`` against ``{"v": value}``."""
    return ev({"Variable": "$.v", op: operand}, {"v": value})


def var_path(op: str, value: Any, other: Any) -> bool:
    return ev({"Variable": "$.v", f"{op}Path": "$.o"}, {"v": value, "o": other})


# --- type strictness --------------------------------------------------------

NON_BOOLS = [None, "", " ", "true", "HelloWorld", [], [""], {}, {"A": 0}, 0, 0.0, 1, 1.1]


@pytest.mark.parametrize("value", NON_BOOLS)
def test_boolean_equals_only_matches_booleans(value: Any) -> None:
    assert var("BooleanEquals", True, value) is False
    assert var("BooleanEquals", False, value) is False
    assert var_path("BooleanEquals", value, False) is False


def test_boolean_equals() -> None:
    assert var("BooleanEquals", True, True) is True
    assert var("BooleanEquals", False, False) is True
    assert var("BooleanEquals", True, False) is False
    assert var_path("BooleanEquals", True, True) is True
    assert var_path("BooleanEquals", False, True) is False


@pytest.mark.parametrize("value", [None, "", " ", "0", [], [""], {}, {"A": 0}, False, True])
def test_numeric_never_matches_non_numbers(value: Any) -> None:
    assert var("NumericEquals", 0, value) is False
    assert var("NumericEquals", 1, value) is False
    assert var("NumericLessThanEquals", 1, value) is False
    assert var_path("NumericEquals", value, 1.0) is False


def test_numeric_int_and_float_compare_by_value() -> None:
    assert var("NumericEquals", 0, 0.0) is True
    assert var("NumericEquals", 0.0, 0) is True
    assert var_path("NumericEquals", 1, 1.0) is True
    assert var_path("NumericEquals", 2.22, 2.22) is True
    assert var("NumericEquals", 1, 1.1) is False
    assert var("NumericGreaterThan", 0, 0.0) is False
    assert var("NumericGreaterThanEquals", 0, 0.0) is True
    assert var("NumericLessThan", 1, 0) is True
    assert var("NumericLessThanEquals", 0, 1) is False
    assert var_path("NumericLessThanEquals", 0, 1) is True
    assert var_path("NumericGreaterThan", 1, 1) is False


def test_numeric_path_operand_must_be_number() -> None:
    assert var_path("NumericEquals", 1, "1") is False
    assert var_path("NumericEquals", 1, True) is False


@pytest.mark.parametrize("value", [None, {"A": 0}, True, 0.0, 1.1, [], ["HelloWorld"]])
def test_string_ops_never_match_non_strings(value: Any) -> None:
    assert var("StringEquals", "HelloWorld", value) is False
    assert var("StringLessThan", "zzz", value) is False
    assert var("StringMatches", "*", value) is False


def test_string_comparisons() -> None:
    assert var("StringEquals", "\t\r\n", "\t\n") is False
    assert var_path("StringEquals", "Hello", "Hello") is True
    assert var("StringGreaterThan", "A\t\n\r", "A") is False
    assert var("StringGreaterThanEquals", "A", "AB") is True
    assert var_path("StringGreaterThanEquals", "", "") is True
    assert var_path("StringGreaterThanEquals", "A", "AB") is False
    assert var_path("StringGreaterThan", "A", "A ") is False
    assert var("StringLessThan", "", "") is False
    assert var("StringLessThanEquals", "", "") is True
    assert var_path("StringLessThan", "A", "AB") is True


def test_string_order_is_utf16_code_units() -> None:
    # U+FF5E (one unit 0xFF5E) sorts after U+1F600 (surrogates 0xD83D...) in Java.
    assert var("StringGreaterThan", "\U0001f600", "\uff5e") is True
    assert var("StringLessThan", "\uff5e", "\U0001f600") is True


# --- type tests -----------------------------------------------------------------

VALUES = [None, 0, 0.0, 1, 1.1, "", " ", "HelloWorld", T0, [], [""], {}, {"A": 0}, True, False]


@pytest.mark.parametrize("value", VALUES)
def test_type_tests(value: Any) -> None:
    expected = {
        "IsNull": value is None,
        "IsBoolean": isinstance(value, bool),
        "IsNumeric": isinstance(value, int | float) and not isinstance(value, bool),
        "IsString": isinstance(value, str),
        "IsTimestamp": value == T0,
        "IsPresent": True,
    }
    for op, truth in expected.items():
        assert var(op, True, value) is truth, op
        assert var(op, False, value) is (not truth), op


def test_is_present_on_missing_path() -> None:
    assert ev({"Variable": "$.missing", "IsPresent": False}, {}) is True
    assert ev({"Variable": "$.missing", "IsPresent": True}, {}) is False
    assert ev({"Variable": "$.a.b", "IsPresent": False}, {"a": "str"}) is True
    assert ev({"Variable": "$.v", "IsPresent": True}, {"v": None}) is True


@pytest.mark.parametrize(
    "text",
    [
        "2012-10-09T19:00:55",  # no offset
        "2023-02-24",
        "2023-02-24 12:15:56.832957",
        "2012-10-09t19:00:55Z",
        "2012-10-09T19:00:55z",
        "2012-13-09T19:00:55Z",
        "2012-02-30T19:00:55Z",
        "2012-10-09T24:00:00Z",
        "2012-10-09T19:00:60Z",
        "2012-10-09T19:00:55.Z",
        "2012-10-09T19:00:55+0100",
        " 2012-10-09T19:00:55Z",
    ],
)
def test_not_timestamps(text: str) -> None:
    assert var("IsTimestamp", True, text) is False
    assert var("TimestampEquals", text, text) is False


@pytest.mark.parametrize(
    "text",
    [T0, "2012-10-09T19:00:55+01:00", "2012-10-09T19:00:55.123Z", "2016-02-29T00:00:00-08:30"],
)
def test_timestamps(text: str) -> None:
    assert var("IsTimestamp", True, text) is True


# --- timestamps -------------------------------------------------------------------


@pytest.mark.parametrize("value", [None, 0, 0.0, 1.1, "", " ", [], [""], {}, {"A": 0}, False, True])
def test_timestamp_equals_non_timestamps(value: Any) -> None:
    assert var("TimestampEquals", T0, value) is False


def test_timestamp_comparisons() -> None:
    assert var("TimestampEquals", T0, T0) is True
    assert var("TimestampEquals", T1, T0) is False
    assert var("TimestampGreaterThan", T0, T1) is True
    assert var("TimestampGreaterThan", T1, T0) is False
    assert var("TimestampGreaterThanEquals", T0, T0) is True
    assert var("TimestampLessThan", T1, T0) is True
    assert var("TimestampLessThanEquals", T0, T1) is False
    assert var_path("TimestampEquals", T0, T0) is True
    assert var_path("TimestampLessThanEquals", T1, T0) is False
    assert var_path("TimestampGreaterThan", T0, T1) is False


def test_timestamps_compare_as_instants() -> None:
    assert var("TimestampEquals", "2012-10-09T20:00:55+01:00", T0) is True
    assert var("TimestampEquals", "2012-10-09T19:00:55.000Z", T0) is True
    assert var("TimestampLessThan", "2012-10-09T19:00:55.5Z", "2012-10-09T19:00:55.45Z") is True
    # Precision beyond microseconds still orders correctly.
    assert var("TimestampGreaterThan", T0.replace("Z", ".0000001Z"), T0.replace("Z", ".0000002Z"))
    assert var("TimestampLessThan", "2012-10-09T19:00:55Z", "2012-10-10T00:00:00+05:00") is True


_aware = st.datetimes(min_value=datetime(1900, 1, 2), max_value=datetime(2200, 1, 1)).flatmap(
    lambda d: st.sampled_from(
        [UTC, timezone(timedelta(hours=5, minutes=30)), timezone(-timedelta(hours=8))]
    ).map(lambda tz: d.replace(tzinfo=tz))
)


def _iso(d: datetime) -> str:
    text = d.isoformat()
    return text.replace("+00:00", "Z")


@given(_aware, _aware)
def test_timestamp_order_matches_datetime_order(a: datetime, b: datetime) -> None:
    assert var("TimestampEquals", _iso(b), _iso(a)) is (a == b)
    assert var("TimestampLessThan", _iso(b), _iso(a)) is (a < b)
    assert var("TimestampGreaterThanEquals", _iso(b), _iso(a)) is (a >= b)


# --- StringMatches ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pattern", "value", "expected"),
    [
        ("log-*.txt", "log-2024.txt", True),
        ("log-*.txt", "log-.txt", True),
        ("log-*.txt", "log-2024.csv", False),
        ("*", "", True),
        ("a*b*c", "aXXbYYc", True),
        ("a*b*c", "acb", False),
        ("a.c", "abc", False),  # regex characters are literal
        ("a?c", "abc", False),
        ("a\\*c", "a*c", True),
        ("a\\*c", "abc", False),
        ("a\\\\*", "a\\anything", True),
        ("a\\\\*", "a/anything", False),
        ("line*", "line1\nline2", True),
    ],
)
def test_string_matches(pattern: str, value: str, expected: bool) -> None:
    assert var("StringMatches", pattern, value) is expected


@given(st.text())
def test_string_matches_without_wildcards_is_equality(text: str) -> None:
    literal = text.replace("\\", "\\\\").replace("*", "\\*")
    assert var("StringMatches", literal, text) is True
    assert var("StringMatches", literal, text + "x") is False


# --- composites ------------------------------------------------------------------------


def test_and_or_not() -> None:
    data = {"a": 1, "s": "x"}
    one = {"Variable": "$.a", "NumericEquals": 1}
    two = {"Variable": "$.a", "NumericEquals": 2}
    assert ev({"And": [one, {"Variable": "$.s", "StringEquals": "x"}]}, data) is True
    assert ev({"And": [one, two]}, data) is False
    assert ev({"Or": [two, one]}, data) is True
    assert ev({"Or": [two, two]}, data) is False
    assert ev({"Not": two}, data) is True
    assert ev({"Not": {"Or": [one, two]}}, data) is False
    assert ev({"And": [{"Not": two}, {"Or": [two, {"Not": {"Not": one}}]}]}, data) is True


def test_composite_short_circuits_before_a_missing_path() -> None:
    missing = {"Variable": "$.missing", "NumericEquals": 1}
    assert ev({"Or": [{"Variable": "$.a", "IsPresent": True}, missing]}, {"a": 1}) is True
    assert ev({"And": [{"Variable": "$.a", "IsPresent": False}, missing]}, {"a": 1}) is False


def test_next_and_assign_are_ignored() -> None:
    rule = {"Variable": "$.a", "NumericEquals": 1, "Next": "X", "Assign": {"y": 1}, "Comment": "c"}
    assert ev(rule, {"a": 1}) is True


# --- missing paths -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rule", "path"),
    [
        ({"Variable": "$.missing", "NumericEquals": 1}, "$.missing"),
        ({"Variable": "$.missing", "IsNull": True}, "$.missing"),
        ({"Variable": "$.missing", "StringMatches": "*"}, "$.missing"),
        ({"Variable": "$.a", "StringEqualsPath": "$.nope"}, "$.nope"),
        ({"Variable": "$$.Execution.Nope", "StringEquals": "x"}, "$$.Execution.Nope"),
        ({"Variable": "$undefinedVariable", "IsString": True}, "$undefinedVariable"),
        ({"Not": {"Variable": "$.missing", "BooleanEquals": True}}, "$.missing"),
    ],
)
def test_missing_path_is_a_runtime_error(rule: dict[str, Any], path: str) -> None:
    with pytest.raises(StatesFailure) as info:
        ev(rule, {"a": "x"}, {"Execution": {"Id": "e"}}, {})
    assert info.value.error == RUNTIME
    assert info.value.state_scoped is True
    assert info.value.cause == (
        f"Invalid path '{path}': The choice state's condition path references an invalid value."
    )


# --- where values come from ------------------------------------------------------------------


def test_variable_sources() -> None:
    context = {"Execution": {"Input": {"k": "ctx"}}}
    variables = {"limit": 10, "cfg": {"names": ["a", "b"]}}
    data = {"n": 5}
    assert ev({"Variable": "$$.Execution.Input.k", "StringEquals": "ctx"}, data, context) is True
    assert ev({"Variable": "$limit", "NumericEquals": 10}, data, context, variables) is True
    assert ev({"Variable": "$cfg.names[1]", "StringEquals": "b"}, data, context, variables) is True
    assert (
        ev({"Variable": "$.n", "NumericLessThanPath": "$limit"}, data, context, variables) is True
    )
    assert (
        ev(
            {"Variable": "$limit", "NumericEqualsPath": "$$.Execution.Input.k"},
            data,
            context,
            variables,
        )
        is False
    )
    assert ev({"Variable": "$", "IsNumeric": True}, 3) is True
    assert ev({"Variable": "$nope", "IsPresent": False}, data, context, variables) is True
    assert ev({"Variable": "$cfg.other", "IsPresent": True}, data, context, variables) is False


def test_operators_set() -> None:
    assert "StringEquals" in OPERATORS
    assert "TimestampLessThanEqualsPath" in OPERATORS
    assert "BooleanEqualsPath" in OPERATORS
    assert {"IsNull", "IsPresent", "IsNumeric", "IsString", "IsBoolean", "IsTimestamp"} <= OPERATORS
    assert "StringMatches" in OPERATORS
    assert "BooleanLessThan" not in OPERATORS
    assert "And" not in OPERATORS
    assert len(OPERATORS) == 2 + 3 * 5 * 2 + 6 + 1

"""Unit tests for stepq.core.intrinsics (expected values as AWS records them)."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from stepq.core.failures import INTRINSIC_FAILURE, RUNTIME, StatesFailure
from stepq.core.intrinsics import (
    IntrinsicPathError,
    evaluate,
    java_double,
    to_json_string,
    validate,
)

CONTEXT: dict[str, Any] = {
    "Execution": {"Id": "arn:aws:states:us-east-1:1:execution:sm:ex1", "Name": "ex1"},
    "StateMachine": {"Id": "arn:aws:states:us-east-1:1:stateMachine:sm", "Name": "sm"},
    "__seed__": "seed-1",
}


def ev(expr: str, data: Any = None, variables: dict[str, Any] | None = None) -> Any:
    return evaluate(expr, data, CONTEXT, variables or {})


def fails(expr: str, data: Any = None) -> StatesFailure:
    with pytest.raises(StatesFailure) as info:
        ev(expr, data)
    return info.value


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)


# ------------------------------------------------------------------ parsing


class TestParsing:
    def test_string_escapes(self) -> None:
        assert ev(r"States.Array('it\'s', 'a\\b', '\{\}', 'keep \" and \n')") == [
            "it's",
            "a\\b",
            "{}",
            'keep \\" and \\n',
        ]

    def test_literals(self) -> None:
        assert ev("States.Array(1, -2, 3.5, -0.25, 1e3, true, false, null)") == [
            1,
            -2,
            3.5,
            -0.25,
            1000.0,
            True,
            False,
            None,
        ]

    def test_whitespace_and_empty_args(self) -> None:
        assert ev("  States.Array(  1 ,2  )  ") == [1, 2]
        assert ev("States.Array()") == []

    def test_paths(self) -> None:
        data = {"a": {"b": [10, 20]}, "s": "x"}
        assert ev("States.Array($, $.a.b[1], $.s)", data) == [data, 20, "x"]

    def test_context_and_variable_paths(self) -> None:
        got = ev("States.Array($$.Execution.Name, $v.k[0], $v)", None, {"v": {"k": [7]}})
        assert got == ["ex1", 7, {"k": [7]}]

    def test_whole_context_hides_seed(self) -> None:
        assert "__seed__" not in ev("States.Array($$)")[0]

    def test_nested_calls(self) -> None:
        expr = 'States.JsonMerge(States.StringToJson(\'{"a": "1"}\'), $.x, false)'
        assert ev(expr, {"x": {"b": 2}}) == {"a": "1", "b": 2}

    def test_path_with_filter_keeps_commas_and_parens(self) -> None:
        assert validate("States.Array($.a[?(@.b == 'x, y')], 2)") is None

    @pytest.mark.parametrize(
        ("expr", "needle"),
        [
            ("States.Array(", "expected an argument"),
            ("States.Array(1 2)", "expected ',' or ')'"),
            ("States.Array('open)", "unterminated string"),
            ("States.Nope()", "unknown intrinsic function 'States.Nope'"),
            ("States.MathAdd(1)", "takes 2 argument(s), but got 1"),
            ("States.MathRandom(1)", "takes 2 to 3 argument(s)"),
            ("States.Format()", "takes at least 1 argument(s)"),
            ("States.UUID(1)", "takes 0 argument(s)"),
            ("States.Array(States.Length(1))", "unknown intrinsic function"),
            ("Array(1)", "expected a function call"),
            ("States.Array(1) extra", "unexpected text"),
            ("States.Array(1.2.3)", "invalid number"),
        ],
    )
    def test_validate_reasons(self, expr: str, needle: str) -> None:
        reason = validate(expr)
        assert reason is not None and needle in reason
        with pytest.raises(StatesFailure) as info:
            ev(expr)
        assert info.value.error == INTRINSIC_FAILURE

    def test_validate_accepts_all_functions(self) -> None:
        for expr in [
            "States.Format('{}', $.a)",
            "States.StringToJson($.a)",
            "States.JsonToString($.a)",
            "States.ArrayPartition($.a, 2)",
            "States.ArrayContains($.a, 1)",
            "States.ArrayRange(1, 9, 2)",
            "States.ArrayGetItem($.a, 0)",
            "States.ArrayLength($.a)",
            "States.ArrayUnique($.a)",
            "States.Base64Encode($.a)",
            "States.Base64Decode($.a)",
            "States.Hash($.a, 'MD5')",
            "States.JsonMerge($.a, $.b, false)",
            "States.MathRandom(1, 2)",
            "States.MathRandom(1, 2, 3)",
            "States.MathAdd(1, 2)",
            "States.StringSplit($.a, ',')",
            "States.UUID()",
        ]:
            assert validate(expr) is None, expr


class TestPathFailures:
    def test_missing_property(self) -> None:
        err = fails("States.Array($.missing)", {"a": 1})
        assert isinstance(err, IntrinsicPathError)
        assert err.error == RUNTIME and err.path == "$.missing"
        assert err.cause == "Invalid path '$.missing' : No results for path: $['missing']"

    def test_undefined_variable(self) -> None:
        err = fails("States.Array($nope.x)")
        assert isinstance(err, IntrinsicPathError) and "$nope" in (err.cause or "")


# ------------------------------------------------------------------ Format


class TestFormat:
    @pytest.mark.parametrize(
        ("value", "text"),
        [
            ("", ""),
            (" ", " "),
            ("HelloWorld", "HelloWorld"),
            (None, "null"),
            (1, "1"),
            (1.1, "1.1"),
            (True, "true"),
            ('{"Arg1": 1, "Arg2": []}', '{"Arg1": 1, "Arg2": []}'),
            ({"Arg1": 1, "Arg2": []}, "{Arg1=1, Arg2=[]}"),
            ([1, "a", None, {"k": [2.0]}], "[1, a, null, {k=[2.0]}]"),
            (1e20, "1.0E20"),
        ],
    )
    def test_renders_like_java(self, value: Any, text: str) -> None:
        assert ev("States.Format('arg {}.', $.v)", {"v": value}) == f"arg {text}."

    def test_two_args(self) -> None:
        got = ev("States.Format('fst={} and snd={}.', $.a, $.b)", {"a": "x", "b": None})
        assert got == "fst=x and snd=null."

    def test_context_object(self) -> None:
        got = ev("States.Format('{} {}', $$.Execution.Name, $$.StateMachine)")
        assert got == "ex1 {Id=arn:aws:states:us-east-1:1:stateMachine:sm, Name=sm}"

    def test_escaped_braces_are_literal(self) -> None:
        assert ev(r"States.Format('\{\} {} \{x\}', 1)") == "{} 1 {x}"

    def test_template_from_path(self) -> None:
        data = {"t": "It's {}!", "v": "Pikachu"}
        assert ev("States.Format($.t, $.v)", data) == "It's Pikachu!"

    def test_argument_text_is_not_reformatted(self) -> None:
        assert ev("States.Format('{}', '{}')") == "{}"

    @pytest.mark.parametrize("expr", ["States.Format('{} {}', 1)", "States.Format('{}', 1, 2)"])
    def test_placeholder_count_must_match(self, expr: str) -> None:
        assert fails(expr).error == INTRINSIC_FAILURE

    def test_template_must_be_string(self) -> None:
        assert fails("States.Format(1)").error == INTRINSIC_FAILURE


# ------------------------------------------------------------------ JSON


class TestJson:
    @pytest.mark.parametrize(
        ("text", "value"),
        [
            ("", None),
            (" ", None),
            ("null", None),
            ("-0", 0),
            ("1.1", 1.1),
            ("true", True),
            ('"HelloWorld"', "HelloWorld"),
            ('[1, 2, "HelloWorld"]', [1, 2, "HelloWorld"]),
            ('{"Arg1": 1, "Arg2": []}', {"Arg1": 1, "Arg2": []}),
        ],
    )
    def test_string_to_json(self, text: str, value: Any) -> None:
        assert ev("States.StringToJson($.s)", {"s": text}) == value

    @pytest.mark.parametrize("text", ["{", "NaN", "[1,]", "abc"])
    def test_string_to_json_rejects_invalid(self, text: str) -> None:
        assert fails("States.StringToJson($.s)", {"s": text}).error == INTRINSIC_FAILURE

    def test_string_to_json_needs_string(self) -> None:
        assert fails("States.StringToJson($.s)", {"s": 1}).error == INTRINSIC_FAILURE

    def test_string_literal_with_escaped_json_quotes(self) -> None:
        got = ev(r"""States.StringToJson('{"t":"An \"x\" here"}')""")
        assert got == {"t": 'An "x" here'}

    @pytest.mark.parametrize(
        ("value", "text"),
        [
            (0, "0"),
            (1, "1"),
            (1.1, "1.1"),
            ({"Arg1": 1, "Arg2": []}, '{"Arg1":1,"Arg2":[]}'),
            ("é\x01\n", '"é\\u0001\\n"'),
            ([None, True, 1e20], "[null,true,1.0E20]"),
        ],
    )
    def test_json_to_string(self, value: Any, text: str) -> None:
        assert ev("States.JsonToString($.v)", {"v": value}) == text

    def test_json_merge_is_shallow_and_right_wins(self) -> None:
        data = {"a": {"x": {"a1": 1}, "b": 2}, "b": {"x": {"a3": 1}, "c": 3}}
        got = ev("States.JsonMerge($.a, $.b, false)", data)
        assert got == {"x": {"a3": 1}, "b": 2, "c": 3}
        assert data["a"] == {"x": {"a1": 1}, "b": 2}  # inputs untouched

    @pytest.mark.parametrize(
        "expr",
        [
            "States.JsonMerge($.a, $.a, true)",
            "States.JsonMerge($.a, $.a, 'false')",
            "States.JsonMerge($.a, 1, false)",
            "States.JsonMerge(States.Array(), $.a, false)",
        ],
    )
    def test_json_merge_failures(self, expr: str) -> None:
        assert fails(expr, {"a": {}}).error == INTRINSIC_FAILURE

    @given(json_values)
    def test_json_to_string_round_trips(self, value: Any) -> None:
        text = ev("States.JsonToString($.v)", {"v": value})
        assert json.loads(text) == value
        assert ev("States.StringToJson($.s)", {"s": text}) == value


# ------------------------------------------------------------------ arrays


class TestArrays:
    def test_array_keeps_values(self) -> None:
        data = {"a": "", "b": None, "c": 1.1}
        assert ev("States.Array($.a, $.b, $.c)", data) == ["", None, 1.1]

    @pytest.mark.parametrize(
        ("array", "size", "out"),
        [
            ([], 1, []),
            ([0], 5, [[0]]),
            ([0, 1, 2, 3], 1, [[0], [1], [2], [3]]),
            ([0, 1, 2, 3], 3, [[0, 1, 2], [3]]),
            ([0, 1, 2, 3], 4, [[0, 1, 2, 3]]),
        ],
    )
    def test_partition(self, array: list[Any], size: int, out: list[Any]) -> None:
        assert ev("States.ArrayPartition($.a, $.n)", {"a": array, "n": size}) == out

    @pytest.mark.parametrize("size", [0, -1, 1.5, "2"])
    def test_partition_bad_size(self, size: Any) -> None:
        err = fails("States.ArrayPartition($.a, $.n)", {"a": [1], "n": size})
        assert err.error == INTRINSIC_FAILURE

    @given(st.lists(st.integers()), st.integers(1, 10))
    def test_partition_concatenates_back(self, array: list[int], size: int) -> None:
        parts = ev("States.ArrayPartition($.a, $.n)", {"a": array, "n": size})
        assert [x for p in parts for x in p] == array
        assert all(len(p) == size for p in parts[:-1])

    @pytest.mark.parametrize(
        ("array", "value", "found"),
        [
            ([], None, False),
            ([], [], False),
            ([[1, 2, 3], 2], None, False),
            ([[1, 2, 3], 2], [1, 2, 3], True),
            ([{"1": 2, "2": []}], [], False),
            ([{"1": 2, "2": []}], {"2": [], "1": 2}, True),
            ([True, False], False, True),
            ([1, 0], True, False),  # booleans are not numbers
            ([1], 1.0, True),
        ],
    )
    def test_contains(self, array: list[Any], value: Any, found: bool) -> None:
        assert ev("States.ArrayContains($.a, $.v)", {"a": array, "v": value}) is found

    @pytest.mark.parametrize(
        ("args", "out"),
        [
            ((0, 9, 3), [0, 3, 6, 9]),
            ((0, 10, 3), [0, 3, 6, 9]),
            ((1, 9, 2), [1, 3, 5, 7, 9]),
            ((1, 9, 9), [1]),
            ((5, 1, -2), [5, 3, 1]),
            ((5, 1, 2), []),
            ((0, 999, 1), list(range(1000))),
        ],
    )
    def test_range(self, args: tuple[int, int, int], out: list[int]) -> None:
        assert ev("States.ArrayRange({}, {}, {})".format(*args)) == out

    @pytest.mark.parametrize(
        "expr",
        [
            "States.ArrayRange(0, 1000, 1)",
            "States.ArrayRange(0, 10, 0)",
            "States.ArrayRange(0, 1.5, 1)",
            "States.ArrayRange('0', 1, 1)",
        ],
    )
    def test_range_failures(self, expr: str) -> None:
        assert fails(expr).error == INTRINSIC_FAILURE

    def test_get_item_and_length(self) -> None:
        data = {"a": [1, 2, 3, 4, 5, 6, 7, 8, 9], "i": 5}
        assert ev("States.ArrayGetItem($.a, $.i)", data) == 6
        assert ev("States.ArrayLength($.a)", data) == 9

    @pytest.mark.parametrize("index", [9, -1, 0.5, "1"])
    def test_get_item_bad_index(self, index: Any) -> None:
        err = fails("States.ArrayGetItem($.a, $.i)", {"a": list(range(9)), "i": index})
        assert err.error == INTRINSIC_FAILURE

    def test_length_needs_array(self) -> None:
        assert fails("States.ArrayLength($.a)", {"a": "abc"}).error == INTRINSIC_FAILURE

    def test_unique_keeps_first_occurrence(self) -> None:
        data = {"a": [1, 2, 2, 3, 3, 4, {"k": 1}, {"k": 1}, True, 1.0, "1"]}
        assert ev("States.ArrayUnique($.a)", data) == [1, 2, 3, 4, {"k": 1}, True, "1"]


# ------------------------------------------------------------------ encoding / hash


class TestEncoding:
    def test_base64(self) -> None:
        assert ev("States.Base64Encode('Data to encode')") == "RGF0YSB0byBlbmNvZGU="
        assert ev("States.Base64Decode('RGF0YSB0byBlbmNvZGU=')") == "Data to encode"
        assert ev("States.Base64Decode('')") == ""
        assert ev("States.Base64Decode('SGk')") == "Hi"  # padding optional, as in Java

    def test_base64_failures(self) -> None:
        assert fails("States.Base64Decode('@@@@')").error == INTRINSIC_FAILURE
        assert fails("States.Base64Encode($.s)", {"s": "x" * 10_001}).error == INTRINSIC_FAILURE
        assert fails("States.Base64Encode(1)").error == INTRINSIC_FAILURE

    @given(st.text(max_size=200))
    def test_base64_round_trip(self, text: str) -> None:
        encoded = ev("States.Base64Encode($.s)", {"s": text})
        assert ev("States.Base64Decode($.s)", {"s": encoded}) == text

    @pytest.mark.parametrize(
        ("data", "algorithm", "digest"),
        [
            (
                "input data",
                "SHA-256",
                "b4a697a057313163aee33cd8d40c66e9f0f177e00cac2de32475ffff6169c3e3",
            ),
            ("hello", "MD5", "5d41402abc4b2a76b9719d911017c592"),
            ("hello", "SHA-1", "aaf4c61ddcc5e8a2dabede0f3b482cd9aea9434d"),
        ],
    )
    def test_hash(self, data: str, algorithm: str, digest: str) -> None:
        assert ev("States.Hash($.d, $.a)", {"d": data, "a": algorithm}) == digest

    def test_hash_lengths(self) -> None:
        for algorithm, size in [("SHA-384", 96), ("SHA-512", 128), ("MD5", 32)]:
            assert re.fullmatch(f"[0-9a-f]{{{size}}}", ev(f"States.Hash('x', '{algorithm}')"))

    def test_hash_unknown_algorithm(self) -> None:
        err = fails("States.Hash('x', 'SHA-3')")
        assert err.error == INTRINSIC_FAILURE and "SHA-3" in (err.cause or "")


# ------------------------------------------------------------------ math / strings


class TestMath:
    @pytest.mark.parametrize(
        ("a", "b", "total"),
        [
            (-9, 3, -6),
            (-1.51, 0, -2),
            (0.5, 0, 1),
            (1.5, 0, 2),
            (2.5, 0, 3),
            (3.5, 0, 4),
            (-0.5, 0.5, 1),
            (-0.5, 0, 0),
            (1.5, 1.51, 4),
            (-1.49, -1.5, -2),
            (-1.5, -1.51, -3),
            (-1.49, 0, -1),
        ],
    )
    def test_add_rounds_like_java(self, a: float, b: float, total: int) -> None:
        got = ev("States.MathAdd($.a, $.b)", {"a": a, "b": b})
        assert got == total and isinstance(got, int)

    @pytest.mark.parametrize("value", ["1", None, True, 2**31])
    def test_add_rejects(self, value: Any) -> None:
        assert fails("States.MathAdd($.a, 1)", {"a": value}).error == INTRINSIC_FAILURE

    @pytest.mark.parametrize(("low", "high"), [(12.5, 44.51), (9999, 99999), (-99999, -9999)])
    def test_random_in_range(self, low: float, high: float) -> None:
        got = ev("States.MathRandom($.a, $.b)", {"a": low, "b": high})
        assert isinstance(got, int) and round(low) <= got < round(high) + 1

    def test_random_with_seed_matches_java_util_random(self) -> None:
        # new java.util.Random(3).nextInt(999) == 239
        assert ev("States.MathRandom(0, 999, 3)") == 239
        assert ev("States.MathRandom(10, 20, 42)") == 10  # Random(42).nextInt(10) == 0

    def test_random_is_replayable(self) -> None:
        assert ev("States.MathRandom(0, 1000000)") == ev("States.MathRandom(0, 1000000)")
        other = evaluate("States.MathRandom(0, 1000000)", None, {"__seed__": "other"}, {})
        assert isinstance(other, int)

    def test_random_empty_range(self) -> None:
        assert fails("States.MathRandom(5, 5)").error == INTRINSIC_FAILURE


class TestStrings:
    @pytest.mark.parametrize(
        ("text", "delims", "out"),
        [
            (",,,,", ",", []),
            ("1,2,3,4,5", ",", ["1", "2", "3", "4", "5"]),
            ("split on T and \nnew line", "T\n", ["split on ", " and ", "new line"]),
            ("a,,b\n,", ",", ["a", "b\n"]),
            ("abc", "", ["abc"]),
        ],
    )
    def test_split(self, text: str, delims: str, out: list[str]) -> None:
        assert ev("States.StringSplit($.s, $.d)", {"s": text, "d": delims}) == out

    @given(st.text(alphabet="ab,;", max_size=30), st.text(alphabet=",;", min_size=1, max_size=2))
    def test_split_tokens(self, text: str, delims: str) -> None:
        tokens = ev("States.StringSplit($.s, $.d)", {"s": text, "d": delims})
        assert all(tok and not set(tok) & set(delims) for tok in tokens)
        assert "".join(tokens) == "".join(c for c in text if c not in delims)

    def test_split_needs_strings(self) -> None:
        assert fails("States.StringSplit(1, ',')").error == INTRINSIC_FAILURE


class TestUuid:
    def test_uuid_v4_and_replayable(self) -> None:
        first = ev("States.UUID()")
        assert re.fullmatch(
            r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}", first
        )
        assert ev("States.UUID()") == first
        assert evaluate("States.UUID()", None, {"__seed__": "seed-2"}, {}) != first

    def test_two_calls_in_one_expression_differ(self) -> None:
        a, b = ev("States.Array(States.UUID(), States.UUID())")
        assert a != b

    def test_unseeded_is_random(self) -> None:
        assert evaluate("States.UUID()", None, {}, {}) != evaluate("States.UUID()", None, {}, {})


# ------------------------------------------------------------------ rendering helpers


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (1e20, "1.0E20"),
        (1e7, "1.0E7"),
        (9999999.0, "9999999.0"),
        (0.001, "0.001"),
        (0.0001, "1.0E-4"),
        (100.0, "100.0"),
        (-2.5e-10, "-2.5E-10"),
        (0.0, "0.0"),
        (-0.0, "-0.0"),
        (0.1 + 0.2, "0.30000000000000004"),
    ],
)
def test_java_double(value: float, text: str) -> None:
    assert java_double(value) == text


@given(st.floats(allow_nan=False, allow_infinity=False))
def test_java_double_round_trips(value: float) -> None:
    assert float(java_double(value).replace("E", "e")) == value


def test_to_json_string_rejects_non_json() -> None:
    with pytest.raises(TypeError):
        to_json_string(object())

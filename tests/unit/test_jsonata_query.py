"""Unit tests for the JSONata query language (stepq.core.jsonata_query).

Expected values and cause texts are hand-written from what AWS returns.
"""

from __future__ import annotations

import hashlib
import re
import threading
import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st
from stepq.core import jsonata_query as q
from stepq.core.failures import QUERY_EVALUATION_ERROR, StatesFailure


def states(input_: object = None, **extra: object) -> dict[str, object]:
    return {"states": {"input": input_, "context": {}, **extra}}


def fail(expr: str, bindings: dict[str, object] | None = None, field: str = "Output") -> str:
    with pytest.raises(StatesFailure) as info:
        q.evaluate(expr, bindings or {}, field)
    assert info.value.error == QUERY_EVALUATION_ERROR
    assert info.value.state_scoped is True
    assert info.value.cause is not None
    return info.value.cause


# ---------------------------------------------------------------- basics


def test_is_expression() -> None:
    assert q.is_expression("{% $x %}")
    assert q.is_expression("{%%}")
    assert not q.is_expression(" {% $x %}")
    assert not q.is_expression("{% $x %} ")
    assert not q.is_expression("$x")
    assert not q.is_expression(5)
    assert not q.is_expression(None)


def test_expression_text_strips_delimiters_and_space() -> None:
    assert q.expression_text("{% $states.input %}") == "$states.input"
    assert q.expression_text("  1 + 2 ") == "1 + 2"


def test_reads_states_and_user_variables() -> None:
    b = {**states({"a": {"b": [1, 2, 3]}}), "var_constant_1": 10}
    assert q.evaluate("$states.input.a.b[1]", b, "Output") == 2
    assert q.evaluate("$sum($states.input.a.b) + $var_constant_1", b, "Output") == 16
    assert q.evaluate("$states.input", b, "Output") == {"a": {"b": [1, 2, 3]}}


def test_accepts_expression_with_delimiters() -> None:
    assert q.evaluate("{% 1 + 2 %}", {}, "Output") == 3


def test_whole_numbers_come_back_as_ints() -> None:
    r = q.evaluate("$number('2')", {}, "Output")
    assert r == 2 and type(r) is int
    r = q.evaluate("2.0 * 3", {}, "Output")
    assert r == 6 and type(r) is int
    assert q.evaluate("10 / 4", {}, "Output") == 2.5
    assert q.evaluate("$states.input", states(0.1), "Output") == 0.1


def test_results_are_plain_json_types() -> None:
    r = q.evaluate("[1..3]", {}, "Output")
    assert r == [1, 2, 3] and type(r) is list
    r = q.evaluate("$states.input.items.{'v': $}", states({"items": [1, 2]}), "Output")
    assert r == [{"v": 1}, {"v": 2}] and type(r) is list


def test_singleton_array_literals_stay_arrays() -> None:
    assert q.evaluate("[0]", {}, "Items") == [0]
    assert q.evaluate("[]", {}, "Items") == []
    assert q.evaluate("[1, 'two', 3]", {}, "Items") == [1, "two", 3]


def test_literal_values() -> None:
    assert q.evaluate("'string literal'", {}, "Output") == "string literal"
    assert q.evaluate("{'foo': 'bar'}", {}, "Output") == {"foo": "bar"}
    assert q.evaluate("true", {}, "Output") is True
    assert q.evaluate("null", {}, "Output") is None


def test_regular_expression_with_escaped_dollar() -> None:
    assert q.evaluate("$contains('hello$world', /^hello\\$/)", {}, "Output") is True


def test_merge_of_input_parts() -> None:
    b = states({"part1": {"hello": "world"}, "part2": {"foo": "bar"}})
    assert q.evaluate("$merge([$states.input.part1, $states.input.part2])", b, "Output") == {
        "hello": "world",
        "foo": "bar",
    }


def test_variable_assignment_inside_expression() -> None:
    assert q.evaluate("($v := 3; $v * 2)", {}, "Output") == 6
    assert q.evaluate("$variable := 1", {}, "Assign/x") == 1


def test_bindings_are_not_mutated() -> None:
    data = {"a": None, "b": [1, None]}
    b = states(data)
    q.evaluate("$states.input ~> | $ | {'c': 1} |", b, "Output")
    assert data == {"a": None, "b": [1, None]}


# ---------------------------------------------------------------- null vs undefined


def test_json_null_is_a_value_not_undefined() -> None:
    b = {**states({"bar": None, "list": [1, None, 3]}), "nullVar": None}
    assert q.evaluate("$states.input.bar", b, "Output") is None
    assert q.evaluate("$nullVar", b, "Output") is None
    assert q.evaluate("$type($nullVar)", b, "Output") == "null"
    assert q.evaluate("$exists($states.input.bar)", b, "Output") is True
    assert q.evaluate("$states.input.list", b, "Output") == [1, None, 3]
    assert q.evaluate("$states.input.list[1] = null", b, "Output") is True
    assert q.evaluate("$states.input.list.$type($)", b, "Output") == ["number", "null", "number"]


def test_undefined_result_fails_with_aws_text() -> None:
    cause = fail("$doesNotExist", states({}), "Output")
    assert cause == (
        "The JSONata expression '$doesNotExist' specified for the field 'Output' "
        "returned nothing (undefined)."
    )


def test_undefined_text_uses_stripped_expression() -> None:
    cause = fail("{%  $states.input.missing  %}", states({}), "Arguments")
    assert cause.startswith("The JSONata expression '$states.input.missing' specified")


def test_function_valued_result_is_undefined() -> None:
    assert fail("$sum").endswith("returned nothing (undefined).")
    assert fail("function($x){$x}").endswith("returned nothing (undefined).")


def test_function_members_are_dropped_like_json_stringify() -> None:
    assert q.evaluate("{'a': $sum, 'b': 1}", {}, "Output") == {"b": 1}
    assert q.evaluate("[$sum, 1]", {}, "Output") == [None, 1]


# ---------------------------------------------------------------- templates


def test_evaluate_value_replaces_nested_expressions() -> None:
    b = {**states({"input_value": "string literal", "input_values": [1, 2, 3]}), "v": 7}
    template = {
        "constant_null": None,
        "constant_int": 0,
        "constant_not_jsonata": " {% states.input %} ",
        "ja_var_access": "{% $states.input.input_value %}",
        "nested": {"list": ["{% $v %}", "plain", {"x": "{% $sum($states.input.input_values) %}"}]},
    }
    assert q.evaluate_value(template, b, "Output") == {
        "constant_null": None,
        "constant_int": 0,
        "constant_not_jsonata": " {% states.input %} ",
        "ja_var_access": "string literal",
        "nested": {"list": [7, "plain", {"x": 6}]},
    }


def test_evaluate_value_leaves_non_expressions_alone() -> None:
    for value in [1, 0.5, None, True, "text", [], {}, ["$x"], {"a": "$.b"}]:
        assert q.evaluate_value(value, {}, "Output") == value


def test_evaluate_value_top_level_expression() -> None:
    assert q.evaluate_value("{% 3 + 4 %}", {}, "Output") == 7


def test_evaluate_value_undefined_member_fails_naming_its_path() -> None:
    with pytest.raises(StatesFailure) as info:
        q.evaluate_value(
            {"Input": {"pushLocation": "{% $states.input.pushLocation %}"}},
            states({}),
            "Arguments",
        )
    assert info.value.error == QUERY_EVALUATION_ERROR
    assert info.value.cause == (
        "The JSONata expression '$states.input.pushLocation' specified for the field "
        "'Arguments/Input/pushLocation' returned nothing (undefined)."
    )


def test_evaluate_value_array_index_in_field_path() -> None:
    with pytest.raises(StatesFailure) as info:
        q.evaluate_value({"a": {"b": ["x", "{% $nope %}"]}}, {}, "Output")
    assert "'Output/a/b[1]'" in (info.value.cause or "")


def test_evaluate_value_null_member_is_kept() -> None:
    out = q.evaluate_value({"v": "{% $states.input.bar %}"}, states({"bar": None}), "Output")
    assert out == {"v": None}


# ---------------------------------------------------------------- errors


def test_runtime_error_cause_carries_code_and_jsonata_js_text() -> None:
    cause = fail("1 + 'a'")
    assert cause == (
        "The JSONata expression '1 + 'a'' specified for the field 'Output' threw an error "
        'during evaluation. T2002: The right side of the "+" operator must evaluate to a number'
    )


@pytest.mark.parametrize(
    ("expr", "tail"),
    [
        (
            "$split('a','b',-1)",
            "D3020: Third argument of split function must evaluate to a positive number",
        ),
        ("$sqrt(-1)", "D3060: The sqrt function cannot be applied to a negative number: -1"),
        (
            "$each('x', function($v){$v})",
            'T0410: Argument 1 of function "each" does not match function signature',
        ),
        ("$sum(['a'])", 'T0412: Argument 1 of function "sum" must be an array of "numbers"'),
        (
            "1 < 'a'",
            'T2009: The values 1 and "a" either side of the operator must be of the same data type',
        ),
        (
            "$reduce([1,2], function($a){$a})",
            "D3050: The second argument of reduce function must be a function"
            " with at least two arguments",
        ),
        ("$replace('a','','b')", "Second argument of replace function cannot be an empty string"),
        ("$error('boom')", "D3137: boom"),
        ("$parse(null)", 'T0410: Argument 1 of function "parse" does not match function signature'),
    ],
)
def test_error_texts(expr: str, tail: str) -> None:
    cause = fail(expr)
    assert cause.endswith("threw an error during evaluation. " + tail), cause


def test_eval_is_disabled() -> None:
    assert fail("$eval('1 + 1')").endswith("T1006: Attempted to invoke a non-function")


def test_python_level_errors_become_query_evaluation_errors() -> None:
    assert "threw an error during evaluation" in fail("1 / 0")


def test_check_syntax() -> None:
    assert q.check_syntax("$states.input.a") is None
    assert q.check_syntax("{% $x + 1 %}") is None
    assert q.check_syntax("a[1,2)") == 'S0202: Expected "]", got ","'
    assert q.check_syntax("(") == 'S0203: Expected ")" before end of expression'
    assert q.check_syntax("'open") is not None


# ---------------------------------------------------------------- Step Functions functions


@pytest.mark.parametrize(
    ("array", "size", "expected"),
    [
        ([0], 1, [[0]]),
        ([0, 1, 2], 1, [[0], [1], [2]]),
        ([0, 1, 2], 4, [[0, 1, 2]]),
        ([0, 1, 2, 3], 4, [[0, 1, 2, 3]]),
        ([0, 1], 5, [[0, 1]]),
        ([1, 2, 3, 4, 5], 2, [[1, 2], [3, 4], [5]]),
        ([1, 2, 3, 4, 5], 2.9, [[1, 2], [3, 4], [5]]),
    ],
)
def test_partition(array: list[int], size: float, expected: list[list[int]]) -> None:
    b = states({"fst": array, "snd": size})
    assert q.evaluate("$partition($states.input.fst, $states.input.snd)", b, "Output") == expected


def test_partition_undefined_cases() -> None:
    fail("$partition([], 2)")
    fail("$partition([1, 2], 0)")


@given(st.lists(st.integers(), max_size=30), st.integers(min_value=1, max_value=10))
def test_partition_property(items: list[int], size: int) -> None:
    if not items:
        return
    out = q.evaluate("$partition($a, $n)", {"a": items, "n": size}, "Output")
    assert [x for chunk in out for x in chunk] == items
    assert all(len(chunk) == size for chunk in out[:-1])
    assert 1 <= len(out[-1]) <= size


def test_range() -> None:
    assert q.evaluate("$range(0, 9, 3)", {}, "Output") == [0, 3, 6, 9]
    assert q.evaluate("$range(0, 10, 3)", {}, "Output") == [0, 3, 6, 9]
    assert q.evaluate("$range(5, 1, -2)", {}, "Output") == [5, 3, 1]
    assert q.evaluate("$range(-1.7, 2, 1)", {}, "Output") == [-1, 0, 1, 2]
    # A single-element range collapses to the number, as AWS shows.
    assert q.evaluate("$range(1, 9, 9)", {}, "Output") == 1


def test_range_undefined_cases() -> None:
    fail("$range(0, 9)")
    fail("$range(1, 5, -1)")
    fail("$range(1, 5, 0)")


@given(st.integers(-50, 50), st.integers(-50, 50), st.integers(1, 7))
def test_range_property(start: int, end: int, step: int) -> None:
    if start > end:
        step = -step
    expected = list(range(start, end + (1 if step > 0 else -1), step))
    got = q.evaluate("$range($a, $b, $c)", {"a": start, "b": end, "c": step}, "Output")
    assert got == (expected[0] if len(expected) == 1 else expected)


@pytest.mark.parametrize("algorithm", ["MD5", "SHA-1", "SHA-256", "SHA-384", "SHA-512"])
def test_hash(algorithm: str) -> None:
    name = algorithm.replace("-", "").lower()
    expected = hashlib.new(name, b"input data").hexdigest()
    assert q.evaluate(f"$hash('input data', '{algorithm}')", {}, "Output") == expected


def test_hash_known_value_and_errors() -> None:
    assert q.evaluate("$hash('abc', 'SHA-256')", {}, "Output") == (
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    )
    fail("$hash('abc')")
    assert "not supported" in fail("$hash('abc', 'sha-256')")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("-0", 0),
        ("1.1", 1.1),
        ("true", True),
        ('{"Arg1": 1, "Arg2": []}', {"Arg1": 1, "Arg2": []}),
        ('{"a": null}', {"a": None}),
    ],
)
def test_parse(text: str, expected: object) -> None:
    assert q.evaluate("$parse($states.input.s)", states({"s": text}), "Output") == expected


def test_parse_result_nulls_are_values() -> None:
    assert q.evaluate("$type($parse('{\"a\": null}').a)", {}, "Output") == "null"
    assert "threw an error during evaluation" in fail("$parse('{bad')")


def test_uuid_is_v4_and_deterministic_under_seed() -> None:
    first = q.evaluate("$uuid()", {"__seed__": "exec-1"}, "Output")
    again = q.evaluate("$uuid()", {"__seed__": "exec-1"}, "Output")
    other = q.evaluate("$uuid()", {"__seed__": "exec-2"}, "Output")
    assert first == again != other
    assert uuid.UUID(first).version == 4
    assert re.fullmatch(
        r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}", first
    )


def test_seed_is_not_a_variable() -> None:
    fail("$__seed__", {"__seed__": "s"})


def test_seed_in_context_is_hidden_from_states_context() -> None:
    context = {"Execution": {"Name": "e"}, "__seed__": "s"}
    b = {"states": {"input": {}, "context": context}}
    assert q.evaluate("$states.context", b, "Output") == {"Execution": {"Name": "e"}}
    assert context["__seed__"] == "s"


def test_two_uuids_in_one_template_differ() -> None:
    out = q.evaluate_value(
        {"a": "{% $uuid() %}", "b": "{% $uuid() %}"}, {"__seed__": "s"}, "Assign"
    )
    assert out["a"] != out["b"]
    again = q.evaluate_value(
        {"a": "{% $uuid() %}", "b": "{% $uuid() %}"}, {"__seed__": "s"}, "Assign"
    )
    assert out == again


def test_random() -> None:
    r = q.evaluate("$random()", {"__seed__": "x"}, "Output")
    assert 0 <= r < 1
    assert r == q.evaluate("$random()", {"__seed__": "x"}, "Output")
    seeded = q.evaluate("$random(3)", {}, "Output")
    assert seeded == q.evaluate("$random(3)", {"__seed__": "other"}, "Output")
    assert 0 <= seeded < 1


# ---------------------------------------------------------------- caching and threads


def test_compiled_expressions_are_cached() -> None:
    q.evaluate("1 + 41", {}, "Output")
    before = q._compile.cache_info().hits
    q.evaluate("1 + 41", {}, "Output")
    assert q._compile.cache_info().hits == before + 1


def test_concurrent_evaluations_do_not_interfere() -> None:
    exprs = [
        "$map($states.input.xs, function($v){$v * $k})",
        "$reduce($states.input.xs, function($a, $b){$a + $b}) + $k",
        "$states.input.xs[$ > $k]",
    ]
    errors: list[str] = []

    def worker(k: int) -> None:
        try:
            check(k)
        except Exception as err:  # a thread's exception must fail the test
            errors.append(repr(err))

    def check(k: int) -> None:
        xs = list(range(20))
        b = {**states({"xs": xs}), "k": k}
        for _ in range(40):
            for i, e in enumerate(exprs):
                got = q.evaluate(e, b, "Output")
                want = [[v * k for v in xs], sum(xs) + k, [v for v in xs if v > k]][i]
                if isinstance(want, list) and len(want) == 1:
                    want = want[0]
                if got != want:
                    errors.append(f"{e} k={k}: {got!r} != {want!r}")

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(1, 9)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []

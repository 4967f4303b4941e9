"""JSONPath with Jayway semantics, as Step Functions evaluates it."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from stepq.core import jsonpath
from stepq.core.jsonpath import PathNotFoundError, read, validate_path, write

DOC: dict[str, Any] = {
    "items": [{"v": 1, "s": "a"}, {"v": 2, "s": "b"}, {"v": 3}],
    "a": {"b": {"c": 5}},
    "users": [{"year": 1997, "status": 0}, {"year": 1998, "status": 1}],
    "delivery-partner": "UQS",
    "n": None,
}


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("$", DOC),
        ("$.a.b.c", 5),
        ("$['a']['b']", {"c": 5}),
        ('$["a"].b', {"c": 5}),
        ("$.items[0]", {"v": 1, "s": "a"}),
        ("$.items[-1]", {"v": 3}),
        ("$.items[ 1 ].s", "b"),
        ("$.delivery-partner", "UQS"),
        ("$.n", None),
        # Several names at the leaf merge into one object (still definite).
        ("$['a','delivery-partner']", {"a": {"b": {"c": 5}}, "delivery-partner": "UQS"}),
        ("$.items.length()", 3),
    ],
)
def test_definite_paths_return_the_value(path: str, expected: Any) -> None:
    assert read(DOC, path) == expected
    assert jsonpath.is_definite(path)


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("$.items[*].v", [1, 2, 3]),
        ("$.items.*.s", ["a", "b"]),
        ("$.a.*", [{"c": 5}]),
        ("$.items[1:]", [{"v": 2, "s": "b"}, {"v": 3}]),
        ("$.items[:1]", [{"v": 1, "s": "a"}]),
        ("$.items[0:2].v", [1, 2]),
        ("$.items[-2:].v", [2, 3]),
        ("$.items[0,2].v", [1, 3]),
        ("$..v", [1, 2, 3]),
        ("$..c", [5]),
        ("$..[?(@.c)]", [{"c": 5}]),
        ("$.users[?(@.status == 0)]", [{"year": 1997, "status": 0}]),
        ("$.users[?(@.year > 1997)].status", [1]),
        ("$.users[?(@.year >= 1997 && @.status != 0)].year", [1998]),
        ("$.users[?(@.year < 1990 || @.status == 1)].year", [1998]),
        ("$.items[?(@.s)].v", [1, 2]),
        ("$.items[?(!@.s)].v", [3]),
        ("$.items[?(@.s == 'b')].v", [2]),
        ('$.items[?(@.s == "b")].v', [2]),
        ("$.items[?(@.s in ['a', 'x'])].v", [1]),
        ("$.items[?(@.s nin ['a'])].v", [2, 3]),
        ("$.items[?(@.s =~ /B/i)].v", [2]),
        ("$.items[?(@.v == $.a.b.c)]", []),
        ("$.items[?(@.v < $.a.b.c)].v", [1, 2, 3]),
        ("$.users[?(@.year > 1900)].length()", 2),
    ],
)
def test_indefinite_paths_return_lists(path: str, expected: Any) -> None:
    assert read(DOC, path) == expected


@pytest.mark.parametrize(
    "path",
    [
        "$.item.items[*]",
        "$.item.items[:1]",
        "$.item.items[1:5]",
        "$.item.items[1:5].itemValue",
        "$.items[*].itemValue",
        "$.items[1:]",
        "$.items[:1].itemValue",
    ],
)
def test_indefinite_paths_on_missing_input_are_empty(path: str) -> None:
    # base/test_json_path_array_wildcard_or_slice_with_no_input_*
    assert read({}, path) == []


def test_filter_numbers_and_booleans_are_distinct() -> None:
    doc = [{"x": 1}, {"x": True}, {"x": 1.0}, {"x": "1"}]
    assert read(doc, "$[?(@.x == 1)]") == [{"x": 1}, {"x": 1.0}, {"x": "1"}]
    assert read(doc, "$[?(@.x == true)]") == [{"x": True}]


def test_filter_size_empty_and_subsets() -> None:
    doc = [{"t": ["a", "b"]}, {"t": []}, {"t": "xyz"}]
    assert read(doc, "$[?(@.t size 2)]") == [{"t": ["a", "b"]}]
    assert read(doc, "$[?(@.t empty true)]") == [{"t": []}]
    assert read(doc, "$[?(@.t subsetof ['a','b','c'])]") == [{"t": ["a", "b"]}, {"t": []}]
    assert read(doc, "$[?(@.t anyof ['b'])]") == [{"t": ["a", "b"]}]
    assert read(doc, "$[?(@.t contains 'y')]") == [{"t": "xyz"}]


def test_bracket_names_keep_backslashes_verbatim() -> None:
    # scenarios/test_escape_sequence_parsing_ESCAPE_SEQUENCES_JSONPATH
    key = 'Test\\""Name"'
    assert read({key: 'Value"\\'}, '$[\'Test\\""Name"\']') == 'Value"\\'
    assert read({"a.b": 1, "c d": 2}, "$['a.b']") == 1
    assert read({"a.b": 1, "c d": 2}, "$['c d']") == 2


@pytest.mark.parametrize(
    ("doc", "path", "message"),
    [
        # scenarios/test_invalid_jsonpath_ST.INVALID_JSONPATH_IN_INPUTPATH
        ({"int-literal": 0}, "$.NoSuchInputPath", "No results for path: $['NoSuchInputPath']"),
        # scenarios/test_catch_states_runtime
        ({}, "$.no.such.result.path", "Missing property in path $['no']"),
        ({"a": {}}, "$.a.b.c", "Missing property in path $['a']['b']"),
        ({"a": {}}, "$.a.b", "No results for path: $['a']['b']"),
        ({"l": [1]}, "$.l[3]", "No results for path: $['l'][3]"),
        ({"l": None}, "$.l[0]", "The path $['l'] is null"),
        (
            {"l": {"x": 1}},
            "$.l[0]",
            'Filter: [0] can only be applied to arrays. Current context is: {"x":1}',
        ),
    ],
)
def test_missing_paths_raise_jayway_texts(doc: Any, path: str, message: str) -> None:
    with pytest.raises(PathNotFoundError) as info:
        read(doc, path)
    assert str(info.value) == message


def test_property_of_a_scalar_names_the_java_type() -> None:
    with pytest.raises(PathNotFoundError, match=r"property \['b'\] in path \$\['a'\].*String"):
        read({"a": "text"}, "$.a.b")


@pytest.mark.parametrize("path", ["$", "$.a", "$.a[0].b", "$..x", "$.a[?(@.x > 1)]", "$.a.*"])
def test_valid_paths(path: str) -> None:
    assert validate_path(path) is None


@pytest.mark.parametrize(
    "path", ["", "a.b", "$.", "$..", "$[", "$.a[x]", "$.a[?(@.x >)]", "$.a.nope()", "$[1:2:3]"]
)
def test_invalid_paths(path: str) -> None:
    assert validate_path(path) is not None


@pytest.mark.parametrize(
    ("path", "ok"),
    [("$", True), ("$.a['b c'][0]", True), ("$.a[*]", False), ("$..a", False), ("$.a[", False)],
)
def test_reference_paths(path: str, ok: bool) -> None:
    assert jsonpath.is_reference_path(path) is ok


def test_write_root_replaces_the_document() -> None:
    assert write({"a": 1}, "$", [1]) == [1]


def test_write_creates_nested_objects_without_mutating_input() -> None:
    original = {"a": {"x": 1}, "keep": {"deep": [1]}}
    before = copy.deepcopy(original)
    out = write(original, "$.a.b.c", "v")
    assert out == {"a": {"x": 1, "b": {"c": "v"}}, "keep": {"deep": [1]}}
    assert original == before
    assert out["keep"] is original["keep"]  # only the written path is copied


def test_write_into_a_list_element() -> None:
    original = {"l": [{"k": 1}, {"k": 2}]}
    out = write(original, "$.l[1].k", 9)
    assert out == {"l": [{"k": 1}, {"k": 9}]}
    assert original["l"][1] == {"k": 2}


@pytest.mark.parametrize(
    ("doc", "path"),
    [("text", "$.a"), ({"a": 1}, "$.a.b"), ({"l": [1]}, "$.l[4]"), ({}, "$.a[*]")],
)
def test_write_fails_where_no_object_can_hold_the_value(doc: Any, path: str) -> None:
    with pytest.raises(PathNotFoundError):
        write(doc, path, 1)


# --- properties ---------------------------------------------------------------

_names = st.text(alphabet="abcxyz_", min_size=1, max_size=4)
_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_names, inner, max_size=3),
    max_leaves=12,
)


@given(st.dictionaries(_names, _json, max_size=4), st.lists(_names, min_size=1, max_size=4), _json)
def test_written_values_read_back(doc: dict[str, Any], keys: list[str], value: Any) -> None:
    path = "$." + ".".join(keys)
    before = copy.deepcopy(doc)
    try:
        out = write(doc, path, value)
    except PathNotFoundError:
        return  # a scalar sits on the path
    assert read(out, path) == value
    assert doc == before


@given(_json, st.lists(_names | st.integers(-3, 3), max_size=4))
def test_dot_and_bracket_notations_agree(doc: Any, keys: list[Any]) -> None:
    dotted = "$" + "".join(f"[{k}]" if isinstance(k, int) else f".{k}" for k in keys)
    bracketed = "$" + "".join(f"[{k}]" if isinstance(k, int) else f"['{k}']" for k in keys)

    def outcome(path: str) -> tuple[str, Any]:
        try:
            return "ok", read(doc, path)
        except PathNotFoundError as err:
            return "err", str(err)

    assert outcome(dotted) == outcome(bracketed)


@given(st.lists(st.dictionaries(_names, st.integers(-5, 5), max_size=3), max_size=5))
def test_wildcard_equals_per_element_reads(items: list[dict[str, int]]) -> None:
    expected = [item["x"] for item in items if "x" in item]
    assert read({"items": items}, "$.items[*].x") == expected
    assert read({"items": items}, "$.items[?(@.x >= 0)].x") == [v for v in expected if v >= 0]

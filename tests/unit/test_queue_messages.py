"""The queue limits every backend shares: batching, entry ids, body parsing, delays."""

from __future__ import annotations

import itertools
import json
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st
from stepq.runtime.ports import Message
from stepq.runtime.queue_messages import (
    MAX_BATCH_BYTES,
    MAX_BATCH_ENTRIES,
    check_delay,
    clamp_receive,
    dlq_name,
    encode_message,
    entry_id,
    parse_body,
    plan_batches,
    unique_entry_ids,
)

_SQS_ENTRY_ID = re.compile(r"^[A-Za-z0-9_-]{1,80}$")


@given(st.lists(st.integers(min_value=1, max_value=MAX_BATCH_BYTES), max_size=60))
def test_batches_keep_order_and_respect_both_limits(sizes: list[int]) -> None:
    batches = plan_batches(sizes)
    assert [i for batch in batches for i in batch] == list(range(len(sizes)))
    for batch in batches:
        assert 1 <= len(batch) <= MAX_BATCH_ENTRIES
        assert sum(sizes[i] for i in batch) <= MAX_BATCH_BYTES
    # greedy: a batch closes only when the next item would not fit
    for batch, following in itertools.pairwise(batches):
        next_size = sizes[following[0]]
        assert (
            len(batch) == MAX_BATCH_ENTRIES
            or sum(sizes[i] for i in batch) + next_size > MAX_BATCH_BYTES
        )


def test_batches_examples() -> None:
    assert plan_batches([]) == []
    assert plan_batches([1] * 25) == [list(range(10)), list(range(10, 20)), list(range(20, 25))]
    third = 100 * 1024
    assert plan_batches([third, third, third]) == [[0, 1], [2]]


@given(st.text(min_size=1, max_size=300))
def test_entry_ids_are_valid_for_sqs(message_id: str) -> None:
    assert _SQS_ENTRY_ID.match(entry_id(message_id))


def test_entry_ids_keep_valid_ids_and_separate_lookalikes() -> None:
    assert entry_id("exec-1_TaskSucceeded") == "exec-1_TaskSucceeded"
    assert entry_id("a:b") != entry_id("a/b")  # both sanitise to "a_b"
    assert entry_id("x" * 81) != entry_id("x" * 82)


@given(st.lists(st.sampled_from(["a", "a:b", "a/b", "x" * 90, "dup"]), max_size=10))
def test_entry_ids_within_a_batch_are_distinct(ids: list[str]) -> None:
    out = unique_entry_ids(ids)
    assert len(set(out)) == len(out)
    assert all(_SQS_ENTRY_ID.match(i) for i in out)


@given(st.text(max_size=200))
def test_parse_body_never_raises(raw: str) -> None:
    body = parse_body(raw)
    assert body is None or isinstance(body, dict)


def test_parse_body_examples() -> None:
    assert parse_body('{"a": 1}') == {"a": 1}
    for raw in ["", "[]", "1", "null", '"s"', "{", "[" * 100_000]:
        assert parse_body(raw) is None


@given(
    st.dictionaries(
        st.text(max_size=5),
        st.recursive(
            st.none() | st.booleans() | st.integers() | st.text(max_size=10),
            lambda inner: (
                st.lists(inner, max_size=3)
                | st.dictionaries(st.text(max_size=3), inner, max_size=3)
            ),
            max_leaves=10,
        ),
        max_size=5,
    )
)
def test_encoded_bodies_parse_back_and_are_ascii(body: dict) -> None:
    text, attributes = encode_message(Message(id="i", body=body))
    assert text.isascii()
    assert parse_body(text) == body == json.loads(text)
    assert attributes == {"stepq-id": "i"}


@pytest.mark.parametrize("delay", [-1, 901, 1.5, True, "5"])
def test_bad_delays(delay: object) -> None:
    with pytest.raises(ValueError):
        check_delay(delay)  # type: ignore[arg-type]


def test_good_delays_and_clamps() -> None:
    assert check_delay(0) == 0
    assert check_delay(900) == 900
    assert clamp_receive(50, 60) == (10, 20)
    assert clamp_receive(0, -3) == (1, 0)


def test_message_needs_an_id() -> None:
    with pytest.raises(ValueError):
        encode_message(Message(id="", body={}))


def test_dlq_names() -> None:
    assert dlq_name("events") == "events-dlq"
    assert dlq_name("jobs.fifo") == "jobs-dlq.fifo"

"""runtime/signing.py: message MACs and token secrets derived from the table's key."""

from __future__ import annotations

import json
import math
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from stepq.backends.memory.store import MemoryStore
from stepq.backends.queue_wire import encode_body, parse_body
from stepq.runtime.messages import EVENTS_QUEUE, task_queue
from stepq.runtime.ports import Received
from stepq.runtime.signing import MAC_FIELD, Keys, SignedQueues, signed

KEYS = Keys(MemoryStore())
BODY: dict[str, Any] = {"v": 1, "id": "m", "execution_id": "arn", "event": {"type": "X", "n": 1}}


def _received(text: str) -> Received:
    return Received(parse_body(text), text, "r", 1, "m")


def test_a_signed_body_verifies_on_its_channel_only() -> None:
    body = KEYS.sign(EVENTS_QUEUE, BODY)
    assert KEYS.verify(EVENTS_QUEUE, body)
    assert not KEYS.verify(task_queue("f"), body)  # the other kind of queue
    assert not Keys(MemoryStore()).verify(EVENTS_QUEUE, body)  # another table's key
    assert not KEYS.verify(EVENTS_QUEUE, {**body, "id": "other"})
    assert not KEYS.verify(EVENTS_QUEUE, BODY)  # no MAC at all
    for bad in (None, [], "x", {MAC_FIELD: 5}, {MAC_FIELD: "é" * 22}):
        assert not KEYS.verify(EVENTS_QUEUE, bad)


def test_signing_again_replaces_the_mac() -> None:
    once = KEYS.sign(EVENTS_QUEUE, BODY)
    assert KEYS.sign(EVENTS_QUEUE, {**once, MAC_FIELD: "A" * 22}) == once


def test_the_wire_text_is_encoded_once_and_is_what_encode_body_gives() -> None:
    body = KEYS.sign(EVENTS_QUEUE, BODY)
    assert body.wire == json.dumps(dict(body), separators=(",", ":"))
    assert encode_body(body) is body.wire
    empty = KEYS.sign(EVENTS_QUEUE, {})
    assert empty.wire == json.dumps(dict(empty), separators=(",", ":"))


def test_a_received_message_verifies_on_its_raw_text_and_on_its_body() -> None:
    text = encode_body(KEYS.sign(EVENTS_QUEUE, BODY))
    assert KEYS.authentic(EVENTS_QUEUE, _received(text))
    spaced = json.dumps(json.loads(text))  # another encoding of the same body
    assert KEYS.authentic(EVENTS_QUEUE, _received(spaced))
    tampered = text.replace('"n":1', '"n":2')
    assert not KEYS.authentic(EVENTS_QUEUE, _received(tampered))
    assert not KEYS.authentic(EVENTS_QUEUE, Received(None, text, "r", 1, "m"))


def test_a_body_that_cannot_be_sent_can_still_be_signed() -> None:
    body = KEYS.sign(EVENTS_QUEUE, {"x": math.nan})
    assert body.wire is None and KEYS.verify(EVENTS_QUEUE, body)


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=5), children, max_size=4)
    ),
    max_leaves=20,
)


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.text(max_size=8), json_values, max_size=6))
def test_every_json_body_survives_the_wire(body: dict[str, Any]) -> None:
    text = encode_body(KEYS.sign(task_queue("f"), body))
    received = _received(text)
    assert KEYS.authentic(task_queue("f"), received)
    assert KEYS.verify(task_queue("f"), received.body)


def test_token_secrets_differ_per_execution_and_table() -> None:
    a, b = KEYS.token_secret("arn:1"), KEYS.token_secret("arn:2")
    assert a != b and a == KEYS.token_secret("arn:1")
    assert Keys(MemoryStore()).token_secret("arn:1") != a


def test_signed_queues_wrap_once() -> None:
    store = MemoryStore()
    once = signed(object(), store)  # type: ignore[arg-type]
    assert isinstance(once, SignedQueues) and signed(once, store) is once

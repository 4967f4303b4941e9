"""The queue limits every backend shares: batching, entry ids, body parsing, delays,
and the claim check of large bodies."""

from __future__ import annotations

import hashlib
import itertools
import json
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from stepq.backends.memory.blobs import MemoryBlobs
from stepq.backends.queue_wire import (
    CLAIM_KEY,
    DEFAULT_CLAIM_THRESHOLD,
    ID_ATTRIBUTE,
    MAX_BATCH_BYTES,
    MAX_BATCH_ENTRIES,
    MAX_REASON_CHARS,
    REASON_ATTRIBUTE,
    ClaimCheck,
    Pointer,
    Wire,
    check_delay,
    check_fifo_delays,
    check_queue_settings,
    clamp_receive,
    dead_letter_entry,
    dlq_name,
    encode_body,
    encode_message,
    entry_id,
    is_fifo,
    is_pointer,
    parse_body,
    plan_batches,
    pointer_of,
    unique_entry_ids,
    wire_size,
)
from stepq.errors import BlobError, ClaimCheckError, MessageTooLargeError, QueueError, StepqError
from stepq.runtime.ports import Message, Received

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


@pytest.mark.parametrize(
    ("max_receives", "visibility_timeout"), [(0, 60), (1001, 60), (5, -1), (5, 43201)]
)
def test_queue_settings_outside_sqs_ranges_are_refused(
    max_receives: int, visibility_timeout: int
) -> None:
    with pytest.raises(ValueError):
        check_queue_settings(max_receives, visibility_timeout)


def test_queue_settings_at_the_edges_are_accepted() -> None:
    check_queue_settings(1, 0)
    check_queue_settings(1000, 43200)


def test_fifo_queues_take_no_per_message_delay() -> None:
    assert is_fifo("jobs.fifo") and not is_fifo("jobs")
    check_fifo_delays("jobs", [Message("a", {}, delay_seconds=5)])
    check_fifo_delays("jobs.fifo", [Message("a", {}, group="g")])
    with pytest.raises(ValueError, match="FIFO"):
        check_fifo_delays("jobs.fifo", [Message("a", {}), Message("b", {}, delay_seconds=5)])


def test_message_needs_an_id() -> None:
    with pytest.raises(ValueError):
        encode_message(Message(id="", body={}))


def test_dlq_names() -> None:
    assert dlq_name("events") == "events-dlq"
    assert dlq_name("jobs.fifo") == "jobs-dlq.fifo"


# --- claim check -----------------------------------------------------------------


class _RecordingBlobs(MemoryBlobs):
    """MemoryBlobs that counts puts and can fail reads the way S3 throttling does."""

    def __init__(self, bucket: str = "memory") -> None:
        super().__init__(bucket)
        self.puts: list[str] = []
        self.flaky = False

    def put(self, key: str, data: bytes) -> str:
        self.puts.append(key)
        return super().put(key, data)

    def get(self, ref: str) -> bytes:
        if self.flaky:
            raise BlobError(f"get {ref!r} failed: SlowDown", "SlowDown")
        return super().get(ref)


def _big(message_id: str = "big", kib: int = 230) -> Message:
    return Message(id=message_id, body={"execution_id": "e", "pad": "x" * (kib * 1024)})


def _received(wire: Wire, receipt: str = "r-1") -> Received:
    return Received(
        body=parse_body(wire.text),
        raw=wire.text,
        receipt=receipt,
        receive_count=1,
        message_id=wire.id,
    )


def test_default_threshold_is_192_kib_and_configurable() -> None:
    assert DEFAULT_CLAIM_THRESHOLD == 192 * 1024
    assert ClaimCheck().threshold == DEFAULT_CLAIM_THRESHOLD
    assert ClaimCheck(MemoryBlobs(), threshold=1000).threshold == 1000
    assert ClaimCheck(threshold=MAX_BATCH_BYTES).threshold == MAX_BATCH_BYTES


@pytest.mark.parametrize("threshold", [0, -1, MAX_BATCH_BYTES + 1, True, 1.5, "100"])
def test_bad_thresholds_are_refused(threshold: object) -> None:
    with pytest.raises(ValueError, match="claim_threshold"):
        ClaimCheck(MemoryBlobs(), threshold=threshold)  # type: ignore[arg-type]


def test_large_body_is_stored_and_a_pointer_sent() -> None:
    blobs = _RecordingBlobs()
    claims = ClaimCheck(blobs)
    [wire] = claims.check_in("events", claims.encode("events", [_big()]))
    text = encode_body(_big().body)
    digest = hashlib.sha256(text.encode()).hexdigest()
    assert blobs.puts == [f"messages/events/{digest}"]
    assert wire.claim
    assert json.loads(wire.text) == {
        CLAIM_KEY: {
            "v": 1,
            "ref": f"s3://memory/messages/events/{digest}",
            "sha256": digest,
            "bytes": len(text),
        }
    }
    assert wire.attributes == {ID_ATTRIBUTE: "big"}  # the id travels as before
    assert wire.size == wire_size(wire.text, wire.attributes) < 400
    assert blobs.get(f"s3://memory/messages/events/{digest}") == text.encode()


def test_receiving_a_pointer_gives_back_the_original_body() -> None:
    claims = ClaimCheck(MemoryBlobs())
    [wire] = claims.check_in("q", claims.encode("q", [_big()]))
    received = _received(wire)
    opened = claims.open(received)
    assert opened.body == _big().body
    assert opened.raw == wire.text  # raw stays the pointer: a DLQ copy keeps it
    assert (opened.receipt, opened.message_id) == (received.receipt, "big")


def test_threshold_counts_body_and_attributes() -> None:
    # Same body; the attributes (name, type, value of the id) decide.
    body = {"p": "x" * 1000}
    body_bytes = len(encode_body(body))
    threshold = body_bytes + len(ID_ATTRIBUTE) + len("String") + 1  # a one-char id fits
    claims = ClaimCheck(MemoryBlobs(), threshold=threshold)
    [short_id] = claims.encode("q", [Message(id="a", body=body)])
    [long_id] = claims.encode("q", [Message(id="a" * 10, body=body)])
    assert not short_id.claim
    assert long_id.claim
    assert long_id.size == body_bytes + len(ID_ATTRIBUTE) + len("String") + 10


def test_at_the_threshold_the_message_goes_as_is() -> None:
    message = Message(id="i", body={"p": "x" * 500})
    size = wire_size(*encode_message(message))
    assert not ClaimCheck(MemoryBlobs(), threshold=size).encode("q", [message])[0].claim
    assert ClaimCheck(MemoryBlobs(), threshold=size - 1).encode("q", [message])[0].claim


def test_small_messages_are_untouched_and_never_stored() -> None:
    blobs = _RecordingBlobs()
    claims = ClaimCheck(blobs)
    wires = claims.check_in("q", claims.encode("q", [Message("s", {"n": 1})]))
    assert [(w.text, w.claim) for w in wires] == [('{"n":1}', False)]
    assert blobs.puts == []
    received = _received(wires[0])
    assert claims.open(received) is received


def test_without_blobs_a_message_under_the_sqs_limit_goes_as_is() -> None:
    [wire] = ClaimCheck().encode("q", [_big(kib=230)])
    assert not wire.claim
    assert wire.size <= MAX_BATCH_BYTES


def test_without_blobs_an_oversized_message_is_a_clear_error() -> None:
    with pytest.raises(MessageTooLargeError) as caught:
        ClaimCheck().encode("tasks-work", [Message("ok", {}), _big(kib=300)])
    error = caught.value
    assert isinstance(error, QueueError)
    assert isinstance(error, StepqError)
    assert isinstance(error, ValueError)  # refused like any other invalid message
    text = str(error)
    assert "'tasks-work'" in text
    assert "'big'" in text
    assert f"{wire_size(*_encode_unchecked(_big(kib=300))):,} bytes" in text
    assert "STEPQ_BUCKET" in text
    assert "262,144" in text
    assert error.code == "MessageTooLarge"


def _encode_unchecked(message: Message) -> tuple[str, dict[str, str]]:
    return encode_body(message.body), {ID_ATTRIBUTE: message.id}


def test_every_message_is_validated_before_any_body_is_stored() -> None:
    blobs = _RecordingBlobs()
    claims = ClaimCheck(blobs)
    with pytest.raises(ValueError, match="delay_seconds"):
        claims.encode("q", [_big("a"), Message("b", {}, delay_seconds=901)])
    assert blobs.puts == []


def test_the_same_body_is_stored_once() -> None:
    blobs = _RecordingBlobs()
    claims = ClaimCheck(blobs)
    wires = claims.check_in("q", claims.encode("q", [_big("one"), _big("two")]))
    assert len(blobs.puts) == 1
    assert wires[0].text == wires[1].text
    assert [w.attributes[ID_ATTRIBUTE] for w in wires] == ["one", "two"]


def test_a_failing_blob_store_is_a_claim_check_error() -> None:
    class Broken(MemoryBlobs):
        def put(self, key: str, data: bytes) -> str:
            raise BlobError("put failed: AccessDenied", "AccessDenied")

    claims = ClaimCheck(Broken())
    with pytest.raises(ClaimCheckError, match="storing the body of message 'big'") as caught:
        claims.check_in("q", claims.encode("q", [_big()]))
    assert caught.value.code == "AccessDenied"
    assert isinstance(caught.value, QueueError)


def test_claim_checked_messages_batch_far_below_the_limit() -> None:
    # Ten 230 KiB bodies: as is, one per request (and too big for one batch);
    # by claim check, ten small pointers fit one SendMessageBatch.
    claims = ClaimCheck(MemoryBlobs())
    messages = [_big(f"m{i}") for i in range(10)]
    wires = claims.check_in("q", claims.encode("q", messages))
    assert all(w.claim for w in wires)
    assert plan_batches([w.size for w in wires]) == [list(range(10))]
    assert sum(w.size for w in wires) <= MAX_BATCH_BYTES
    as_is = ClaimCheck().encode("q", messages)
    assert plan_batches([w.size for w in as_is]) == [[i] for i in range(10)]


@settings(max_examples=30, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=300), min_size=1, max_size=12))
def test_mixed_batches_round_trip_and_fit(kib: list[int]) -> None:
    blobs = MemoryBlobs()
    claims = ClaimCheck(blobs, threshold=64 * 1024)
    messages = [Message(f"m{i}", {"i": i, "pad": "y" * (k * 1024)}) for i, k in enumerate(kib)]
    wires = claims.check_in("q", claims.encode("q", messages))
    for batch in plan_batches([w.size for w in wires]):
        assert len(batch) <= MAX_BATCH_ENTRIES
        assert sum(wires[i].size for i in batch) <= MAX_BATCH_BYTES
    for message, wire in zip(messages, wires, strict=True):
        assert wire.claim == (wire_size(*_encode_unchecked(message)) > 64 * 1024)
        assert wire.size <= 64 * 1024
        assert claims.open(_received(wire)).body == message.body


def _pointer_wire(claims: ClaimCheck) -> Wire:
    [wire] = claims.check_in("q", claims.encode("q", [_big()]))
    return wire


def test_missing_blob_gives_no_body_and_a_reason_for_the_dlq() -> None:
    producer = ClaimCheck(MemoryBlobs())
    consumer = ClaimCheck(MemoryBlobs())  # same bucket name, but the blob is not in it
    wire = _pointer_wire(producer)
    opened = consumer.open(_received(wire))
    assert opened.body is None
    assert opened.raw == wire.text
    reason = consumer.dead_letter_reason(opened, "the message body is not a JSON object")
    ref = json.loads(wire.text)[CLAIM_KEY]["ref"]
    assert reason == (
        f"claim check: the blob {ref} does not exist; the message body is not a JSON object"
    )
    assert len(reason) <= MAX_REASON_CHARS


def test_pointer_without_a_blob_store_names_the_setting() -> None:
    wire = _pointer_wire(ClaimCheck(MemoryBlobs()))
    consumer = ClaimCheck()
    opened = consumer.open(_received(wire))
    assert opened.body is None
    assert "STEPQ_BUCKET" in consumer.dead_letter_reason(opened, "x")


def test_corrupt_blob_is_refused() -> None:
    blobs = MemoryBlobs()
    claims = ClaimCheck(blobs)
    wire = _pointer_wire(claims)
    ref = json.loads(wire.text)[CLAIM_KEY]["ref"]
    blobs.put(ref.removeprefix("s3://memory/"), b'{"tampered":true}')
    opened = claims.open(_received(wire))
    assert opened.body is None
    assert "does not match its digest" in claims.dead_letter_reason(opened, "x")


def test_blob_that_is_not_a_json_object_is_refused() -> None:
    blobs = MemoryBlobs()
    data = b"[1, 2]"
    digest = hashlib.sha256(data).hexdigest()
    ref = blobs.put(f"messages/q/{digest}", data)
    text = encode_body(Pointer(ref, digest, len(data)).body())
    claims = ClaimCheck(blobs)
    opened = claims.open(_received(Wire("p", text, {}, 0)))
    assert opened.body is None
    assert "is not a JSON object" in claims.dead_letter_reason(opened, "x")


@pytest.mark.parametrize(
    "pointer",
    [
        {"v": 2, "ref": "s3://memory/messages/q/" + "0" * 64, "sha256": "0" * 64, "bytes": 1},
        {"v": 1, "ref": "s3://memory/messages/q/" + "0" * 64, "sha256": "nothex", "bytes": 1},
        {"v": 1, "ref": "https://example.com/x", "sha256": "0" * 64, "bytes": 1},
        {"v": 1, "ref": "s3://memory/executions/x/" + "0" * 64, "sha256": "0" * 64, "bytes": 1},
        {"v": 1, "ref": "s3://memory/messages/q/" + "1" * 64, "sha256": "0" * 64, "bytes": 1},
        {"v": 1, "ref": "s3://memory/messages/q/" + "0" * 64, "sha256": "0" * 64, "bytes": -1},
        "not an object",
    ],
)
def test_malformed_pointers_give_no_body(pointer: object) -> None:
    claims = ClaimCheck(MemoryBlobs())
    text = json.dumps({CLAIM_KEY: pointer})
    opened = claims.open(_received(Wire("p", text, {}, 0)))
    assert opened.body is None
    assert "malformed pointer" in claims.dead_letter_reason(opened, "x")


def test_pointer_into_another_bucket_is_not_followed() -> None:
    elsewhere = MemoryBlobs(bucket="elsewhere")
    wire = _pointer_wire(ClaimCheck(elsewhere))
    claims = ClaimCheck(MemoryBlobs(bucket="ours"))
    opened = claims.open(_received(wire))
    assert opened.body is None
    assert "outside this blob store's bucket" in claims.dead_letter_reason(opened, "x")


def test_a_blob_store_failing_just_now_leaves_the_message_for_redelivery() -> None:
    blobs = _RecordingBlobs()
    claims = ClaimCheck(blobs)
    wire = _pointer_wire(claims)
    blobs.flaky = True
    with pytest.raises(ClaimCheckError, match="SlowDown") as caught:
        claims.open(_received(wire))
    assert caught.value.code == "SlowDown"
    small = Received({"n": 1}, '{"n":1}', "r-2", 1, "small")
    assert claims.open_all("q", [_received(wire), small]) == [small]  # the pointer stays in flight
    blobs.flaky = False
    assert claims.open_all("q", [_received(wire)])[0].body == _big().body


def test_dead_letter_reason_for_an_unopened_pointer_says_so() -> None:
    # e.g. a Received built from a Lambda record that nobody opened
    wire = _pointer_wire(ClaimCheck(MemoryBlobs()))
    reason = ClaimCheck().dead_letter_reason(_received(wire), "field 'id' is missing")
    assert reason.startswith("claim check: the consumer got the pointer, not the body")
    assert reason.endswith("; field 'id' is missing")


def test_dead_letter_reason_of_ordinary_messages_is_unchanged() -> None:
    claims = ClaimCheck(MemoryBlobs())
    ordinary = Received({"n": 1}, '{"n":1}', "r", 1, "m")
    assert claims.dead_letter_reason(ordinary, "bad") == "bad"
    assert claims.dead_letter_reason(ordinary, "") == "unspecified"
    opened = claims.open(_received(_pointer_wire(claims)))
    assert claims.dead_letter_reason(opened, "bad") == "bad"  # read fine: only the reason


def test_pointer_detection() -> None:
    wire = _pointer_wire(ClaimCheck(MemoryBlobs()))
    assert is_pointer(json.loads(wire.text))
    assert pointer_of(wire.text) is not None
    assert not is_pointer({CLAIM_KEY: {}, "other": 1})
    assert not is_pointer(None)
    assert pointer_of('{"n":1}') is None
    assert pointer_of("not json") is None
    assert pointer_of(wire.text + " " * 5000) is None  # too long to be one of ours


def test_dead_letter_entry_keeps_raw_and_fits_the_limit() -> None:
    received = Received({"n": 1}, '{"n":1}', "r", 1, "m-1")
    raw, attributes = dead_letter_entry(received, "why")
    assert raw == '{"n":1}'
    assert attributes == {ID_ATTRIBUTE: "m-1", REASON_ATTRIBUTE: "why"}
    empty = Received(None, "", "r", 1, "m-2")
    assert dead_letter_entry(empty, "")[0] == "(empty)"
    # A message that arrived just under the limit has no room for a long reason.
    pad = "x" * (MAX_BATCH_BYTES - 100)
    near = Received(None, pad, "r", 1, "m-3")
    raw, attributes = dead_letter_entry(near, "r" * 1000)
    assert wire_size(raw, attributes) == MAX_BATCH_BYTES
    assert attributes[REASON_ATTRIBUTE].startswith("rrr")

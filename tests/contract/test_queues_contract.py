"""One contract for the ``Queues`` port, run against every backend.

To add a backend (moto server, ElasticMQ, ...): write a context manager
yielding a factory of isolated ``QueueBackend``s and register it in
``QUEUE_BACKENDS``.
``advance(seconds)`` must make that much (simulated or real) time pass;
``inject_raw`` enqueues text as a foreign producer would; ``dlq_messages``
reads raw bodies and attributes of a queue without the port (the port's
``Received`` carries no attributes). ``make(blobs=True)`` gives the adapter a
blob store of the same backend (memory, S3 on moto, S3 on the moto server),
for the claim check of large bodies.
"""

from __future__ import annotations

import functools
import hashlib
import itertools
import json
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pytest
from stepq.backends.aws.s3_blobs import S3Blobs
from stepq.backends.memory.blobs import MemoryBlobs
from stepq.backends.memory.queues import MemoryQueues
from stepq.backends.queue_wire import (
    CLAIM_KEY,
    ID_ATTRIBUTE,
    REASON_ATTRIBUTE,
    Pointer,
    encode_body,
    pointer_of,
)
from stepq.clock import ManualClock
from stepq.errors import MessageTooLargeError, QueueError, QueueNotFoundError, StepqError
from stepq.runtime.ports import Message, Received


@dataclass
class QueueBackend:
    name: str
    queues: Any  # MemoryQueues | SqsQueues: the port plus ensure()
    advance: Callable[[float], None]
    inject_raw: Callable[[str, str], None]
    read_all: Callable[[str], list[tuple[str, dict[str, str]]]]
    # queues.depth(queue) counts held messages, visible or not, on every backend
    blobs: Any = None  # the adapter's blob store (make(blobs=True)), else None
    client: Any = None  # the boto3 SQS client; None in memory


# make(blobs=False, **adapter_options) -> QueueBackend
MakeBackend = Callable[..., QueueBackend]
_buckets = itertools.count(1)


@contextmanager
def memory_backend() -> Iterator[MakeBackend]:
    def make(*, blobs: bool = False, **options: Any) -> QueueBackend:
        clock = ManualClock()
        store = MemoryBlobs(bucket=f"memory-queues-{next(_buckets)}") if blobs else None
        queues = MemoryQueues(clock=clock, blobs=store, **options)
        return QueueBackend(
            "memory", queues, clock.advance, queues.send_raw, queues.peek, blobs=store
        )

    yield make


def _sqs_backend(
    name: str, client: Any, prefix: str, blobs: Any, options: dict[str, Any]
) -> QueueBackend:
    from stepq.backends.aws.sqs_queues import SqsQueues

    queues = SqsQueues(client=client, prefix=prefix, blobs=blobs, **options)

    def inject_raw(queue: str, text: str) -> None:
        client.send_message(QueueUrl=queues.url(queue), MessageBody=text)

    def read_all(queue: str) -> list[tuple[str, dict[str, str]]]:
        reply = client.receive_message(
            QueueUrl=queues.url(queue),
            MaxNumberOfMessages=10,
            MessageAttributeNames=["All"],
            VisibilityTimeout=0,
        )
        return [
            (
                m["Body"],
                {k: v["StringValue"] for k, v in (m.get("MessageAttributes") or {}).items()},
            )
            for m in reply.get("Messages", [])
        ]

    return QueueBackend(name, queues, time.sleep, inject_raw, read_all, blobs=blobs, client=client)


@contextmanager
def moto_backend(direct: bool = False) -> Iterator[MakeBackend]:
    """moto in-process behind boto3, or (``direct``) through ``MotoClient`` and
    ``backends.moto.speedups`` as the embedded backend calls it."""
    import boto3
    from moto import mock_aws
    from stepq.backends.aws.sqs_queues import default_client_config
    from stepq.backends.moto import speedups
    from stepq.backends.moto.client import MotoClient

    if direct:
        speedups.apply()
    with mock_aws():
        # One mock and client per module (setting them up is most of a test's cost);
        # each backend gets its own name prefix, so tests never see each other's queues.
        client: Any = (
            MotoClient("sqs")
            if direct
            else boto3.client("sqs", region_name="us-east-1", config=default_client_config())
        )
        prefixes = itertools.count(1)

        def make(*, blobs: bool = False, **options: Any) -> QueueBackend:
            store = None
            if blobs:
                s3 = boto3.client("s3", region_name="us-east-1")
                store = S3Blobs(f"stepq-queues-{next(_buckets)}", client=s3)
                store.ensure_bucket()
            return _sqs_backend("moto", client, f"contract{next(prefixes)}", store, options)

        yield make


@contextmanager
def moto_server_backend() -> Iterator[MakeBackend]:
    """SQS (and S3) over the wire on the session's moto server (started by tests/integration)."""
    import importlib
    import uuid

    import boto3
    from botocore.config import Config
    from stepq.backends.aws.sqs_queues import default_client_config

    # on sys.path through tests/contract/conftest.py; started once per test process
    server = importlib.import_module("stepq_test_servers").need("moto-server")
    client = boto3.client(
        "sqs", region_name="us-east-1", endpoint_url=server.url, config=default_client_config()
    )
    run = uuid.uuid4().hex[:8]  # the server outlives this module: prefixes must not repeat
    prefixes = itertools.count(1)

    def make(*, blobs: bool = False, **options: Any) -> QueueBackend:
        store = None
        if blobs:
            s3 = boto3.client(
                "s3",
                region_name="us-east-1",
                endpoint_url=server.url,
                config=Config(s3={"addressing_style": "path"}),  # no bucket.127.0.0.1 hosts
            )
            store = S3Blobs(f"stepq-wire-queues-{run}-{next(_buckets)}", client=s3)
            store.ensure_bucket()
        return _sqs_backend("moto-server", client, f"wire{run}{next(prefixes)}", store, options)

    yield make


# Each entry: a context manager, entered once per module, yielding a factory of
# isolated backends (a server may be shared; its queues must not be).
QUEUE_BACKENDS: dict[str, Callable[[], AbstractContextManager[MakeBackend]]] = {
    "memory": memory_backend,
    "moto": moto_backend,
    "moto-direct": functools.partial(moto_backend, direct=True),
    "moto-server": moto_server_backend,
}


@pytest.fixture(scope="module")
def module_aws_env() -> Iterator[None]:
    """Dummy credentials, no profile or endpoint: nothing can reach real AWS."""
    with pytest.MonkeyPatch.context() as mp:
        for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_SQS"):
            mp.delenv(name, raising=False)
        mp.setenv("AWS_ACCESS_KEY_ID", "testing")
        mp.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        mp.setenv("AWS_SESSION_TOKEN", "testing")
        mp.setenv("AWS_DEFAULT_REGION", "us-east-1")
        mp.setenv("AWS_CONFIG_FILE", "/nonexistent/stepq-aws-config")
        mp.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/stepq-aws-credentials")
        yield


@pytest.fixture(scope="module", params=list(QUEUE_BACKENDS))
def make_backend(request: pytest.FixtureRequest, module_aws_env: None) -> Iterator[MakeBackend]:
    with QUEUE_BACKENDS[request.param]() as make:
        yield make


@pytest.fixture
def qb(make_backend: MakeBackend) -> QueueBackend:
    return make_backend()


_names = itertools.count(1)


@pytest.fixture
def queue(qb: QueueBackend) -> str:
    """A fresh queue (with DLQ) whose in-flight messages never come back during a test."""
    name = f"q{next(_names)}"
    qb.queues.ensure(name, max_receives=3, visibility_timeout=60)
    return name


@pytest.fixture
def hot_queue(qb: QueueBackend) -> str:
    """A fresh queue with visibility timeout 0: every receive redelivers."""
    name = f"hot{next(_names)}"
    qb.queues.ensure(name, max_receives=3, visibility_timeout=0)
    return name


def drain(qb: QueueBackend, queue: str, rounds: int = 10) -> list[Received]:
    out: list[Received] = []
    for _ in range(rounds):
        got = qb.queues.receive(queue, max_messages=10)
        if not got:
            break
        out.extend(got)
    return out


def msg(i: int | str, **body: Any) -> Message:
    return Message(id=f"m-{i}", body={"n": i, **body})


# --- send and receive ------------------------------------------------------------


def test_batch_send_of_more_than_ten_delivers_every_message(qb: QueueBackend, queue: str) -> None:
    qb.queues.send(queue, [msg(i) for i in range(25)])
    got = drain(qb, queue)
    assert sorted(r.message_id for r in got) == sorted(f"m-{i}" for i in range(25))
    assert {r.body["n"] for r in got if r.body} == set(range(25))
    assert all(r.receive_count == 1 for r in got)


def test_receive_returns_at_most_ten(qb: QueueBackend, queue: str) -> None:
    qb.queues.send(queue, [msg(i) for i in range(15)])
    assert 1 <= len(qb.queues.receive(queue, max_messages=50)) <= 10


def test_body_round_trips_with_raw_json(qb: QueueBackend, queue: str) -> None:
    body = {"text": "héllo ✓ \U0001f600", "nested": {"list": [1, 2.5, None, True]}, "zero": 0}
    qb.queues.send(queue, [Message(id="one", body=body)])
    [r] = qb.queues.receive(queue)
    assert r.body == body
    assert r.message_id == "one"
    assert r.raw and r.receipt


def test_empty_send_is_a_no_op(qb: QueueBackend, queue: str) -> None:
    qb.queues.send(queue, [])
    assert qb.queues.receive(queue) == []


def test_large_messages_are_split_across_requests(qb: QueueBackend, queue: str) -> None:
    # three ~100 KiB messages exceed one 256 KiB batch
    pad = "x" * (100 * 1024)
    qb.queues.send(queue, [msg(i, pad=pad) for i in range(3)])
    got = drain(qb, queue)
    assert sorted(r.message_id for r in got) == ["m-0", "m-1", "m-2"]
    assert all(r.body and r.body["pad"] == pad for r in got)


def test_oversized_message_is_refused_before_sending_anything(qb: QueueBackend, queue: str) -> None:
    with pytest.raises(MessageTooLargeError, match="limit"):  # a ValueError too
        qb.queues.send(queue, [msg(0), msg(1, pad="x" * (257 * 1024))])
    assert qb.queues.receive(queue) == []


def test_odd_and_long_ids_reach_the_consumer_unchanged(qb: QueueBackend, queue: str) -> None:
    ids = [
        "arn:aws:states:us-east-1:123456789012:execution:m:e#17/TaskSucceeded",
        "x" * 200,
        "with space and ünïcode",
        "x" * 79 + "?",
    ]
    qb.queues.send(queue, [Message(id=i, body={"i": i}) for i in ids])
    got = drain(qb, queue)
    assert sorted(r.message_id for r in got) == sorted(ids)
    assert all(r.body == {"i": r.message_id} for r in got)


def test_duplicate_ids_are_all_delivered_with_the_same_id(qb: QueueBackend, queue: str) -> None:
    # Standard queues do not deduplicate; the consumer drops repeats by message_id.
    qb.queues.send(queue, [Message("dup", {"copy": 1}), Message("dup", {"copy": 2})])
    qb.queues.send(queue, [Message("dup", {"copy": 3})])
    got = drain(qb, queue)
    assert [r.message_id for r in got] == ["dup"] * 3
    assert sorted(r.body["copy"] for r in got if r.body) == [1, 2, 3]


def test_non_object_bodies_are_refused(qb: QueueBackend, queue: str) -> None:
    with pytest.raises(ValueError):
        qb.queues.send(queue, [Message("a", [1, 2])])  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        qb.queues.send(queue, [Message("b", {"x": float("nan")})])


# --- delays ----------------------------------------------------------------------


def test_delay_is_honoured(qb: QueueBackend, queue: str) -> None:
    qb.queues.send(queue, [Message("later", {"x": 1}, delay_seconds=1), msg("now")])
    first = qb.queues.receive(queue)
    assert [r.message_id for r in first] == ["m-now"]
    qb.advance(1.2)
    assert [r.message_id for r in drain(qb, queue)] == ["later"]


@pytest.mark.parametrize("delay", [-1, 901, 3600])
def test_delay_out_of_range_raises_and_sends_nothing(
    qb: QueueBackend, queue: str, delay: int
) -> None:
    with pytest.raises(ValueError, match="delay_seconds"):
        qb.queues.send(queue, [msg(1), Message("bad", {}, delay_seconds=delay)])
    assert qb.queues.receive(queue) == []


def test_largest_delay_is_accepted(qb: QueueBackend, queue: str) -> None:
    qb.queues.send(queue, [Message("max", {}, delay_seconds=900)])
    assert qb.queues.receive(queue) == []


# --- malformed bodies ------------------------------------------------------------


@pytest.mark.parametrize("raw", ["not json", "{broken", "[1, 2]", "42", '"text"', "null"])
def test_body_that_is_not_a_json_object_is_none(qb: QueueBackend, queue: str, raw: str) -> None:
    qb.inject_raw(queue, raw)
    [r] = qb.queues.receive(queue)
    assert r.body is None
    assert r.raw == raw
    assert r.message_id  # falls back to the backend's own id
    qb.queues.delete(queue, [r.receipt])


# --- visibility, redelivery, DLQ -------------------------------------------------


def test_in_flight_message_is_hidden(qb: QueueBackend, queue: str) -> None:
    qb.queues.send(queue, [msg(1)])
    assert len(qb.queues.receive(queue)) == 1
    assert qb.queues.receive(queue) == []


def test_receive_count_grows_on_redelivery(qb: QueueBackend, hot_queue: str) -> None:
    qb.queues.send(hot_queue, [msg(1)])
    counts = []
    for _ in range(3):
        [r] = qb.queues.receive(hot_queue)
        counts.append(r.receive_count)
        assert r.message_id == "m-1"
    assert counts == [1, 2, 3]


def test_message_moves_to_dlq_after_max_receives(qb: QueueBackend, hot_queue: str) -> None:
    qb.queues.send(hot_queue, [msg(1)])
    for expected in (1, 2, 3):  # max_receives=3 deliveries
        [r] = qb.queues.receive(hot_queue)
        assert r.receive_count == expected
    assert qb.queues.receive(hot_queue) == []  # this receive redrives it
    assert qb.queues.receive(hot_queue) == []
    [dead] = qb.queues.receive(f"{hot_queue}-dlq")
    assert dead.message_id == "m-1"
    assert dead.body == {"n": 1}


def test_delete_removes_messages_in_batches(qb: QueueBackend, queue: str) -> None:
    qb.queues.send(queue, [msg(i) for i in range(23)])
    got = drain(qb, queue)
    assert len(got) == 23
    assert qb.queues.depth(queue) == 23  # in flight, still held
    qb.queues.delete(queue, [r.receipt for r in got])
    assert qb.queues.depth(queue) == 0


def test_delete_twice_is_harmless(qb: QueueBackend, hot_queue: str) -> None:
    qb.queues.send(hot_queue, [msg(1)])
    [r] = qb.queues.receive(hot_queue)
    qb.queues.delete(hot_queue, [r.receipt])
    qb.queues.delete(hot_queue, [r.receipt])
    qb.queues.delete(hot_queue, [])
    assert qb.queues.receive(hot_queue) == []


def test_change_visibility_keeps_a_message_hidden_past_its_timeout(qb: QueueBackend) -> None:
    name = f"slow{next(_names)}"
    qb.queues.ensure(name, max_receives=3, visibility_timeout=1)
    qb.queues.send(name, [msg(1)])
    [r] = qb.queues.receive(name)
    qb.queues.change_visibility(name, r.receipt, 60)
    qb.advance(1.5)  # past the queue's own timeout
    assert qb.queues.receive(name) == []
    qb.queues.change_visibility(name, r.receipt, 60)  # extending again is fine
    qb.queues.delete(name, [r.receipt])
    assert qb.queues.depth(name) == 0


def test_change_visibility_to_zero_makes_the_message_visible_at_once(
    qb: QueueBackend, queue: str
) -> None:
    qb.queues.send(queue, [msg(1)])
    [r] = qb.queues.receive(queue)
    assert qb.queues.receive(queue) == []
    qb.queues.change_visibility(queue, r.receipt, 0)
    [again] = qb.queues.receive(queue)
    assert again.message_id == "m-1"
    assert again.receive_count == 2


@pytest.mark.parametrize("seconds", [-1, 43201, 1.5, True, "60"])
def test_change_visibility_refuses_bad_values_before_any_request(
    qb: QueueBackend, queue: str, seconds: Any
) -> None:
    qb.queues.send(queue, [msg(1)])
    [r] = qb.queues.receive(queue)
    with (
        sqs_calls(qb, "ChangeMessageVisibility") as calls,
        pytest.raises(ValueError, match="visibility"),
    ):
        qb.queues.change_visibility(queue, r.receipt, seconds)
    assert calls == []
    assert qb.queues.receive(queue) == []  # still in flight, untouched


def test_change_visibility_with_a_garbage_receipt_is_a_queue_error(
    qb: QueueBackend, queue: str
) -> None:
    with pytest.raises(QueueError) as caught:
        qb.queues.change_visibility(queue, "not-a-receipt", 30)
    assert not isinstance(caught.value, QueueNotFoundError)


def test_change_visibility_of_a_deleted_message_is_a_queue_error(
    qb: QueueBackend, queue: str
) -> None:
    qb.queues.send(queue, [msg(1)])
    [r] = qb.queues.receive(queue)
    qb.queues.delete(queue, [r.receipt])
    with pytest.raises(QueueError):
        qb.queues.change_visibility(queue, r.receipt, 30)


def test_dead_letter_moves_raw_body_with_reason(qb: QueueBackend, hot_queue: str) -> None:
    qb.inject_raw(hot_queue, "{garbage")
    qb.queues.send(hot_queue, [msg(1)])
    got = drain(qb, hot_queue, rounds=1)
    for r in got:
        qb.queues.dead_letter(hot_queue, r, f"cannot process {r.message_id}: " + "y" * 5000)
    assert qb.queues.receive(hot_queue) == []  # deleted at the source
    dead = qb.read_all(f"{hot_queue}-dlq")
    assert sorted(raw for raw, _ in dead) == sorted(["{garbage", '{"n":1}'])
    by_raw = {raw: attributes for raw, attributes in dead}
    reason = by_raw['{"n":1}'][REASON_ATTRIBUTE]
    assert reason.startswith("cannot process m-1: ")
    assert len(reason) <= 1024  # bounded so DLQ copies stay small
    assert by_raw['{"n":1}'][ID_ATTRIBUTE] == "m-1"


# --- setup -----------------------------------------------------------------------


def test_ensure_is_idempotent_and_keeps_messages(qb: QueueBackend, queue: str) -> None:
    qb.queues.send(queue, [msg(1)])
    qb.queues.ensure(queue, max_receives=3, visibility_timeout=60)
    qb.queues.ensure(queue, max_receives=4, visibility_timeout=0)  # settings may change
    [r] = qb.queues.receive(queue)
    assert r.message_id == "m-1"
    assert len(qb.queues.receive(queue)) == 1  # visibility 0 now: redelivered


def test_ensure_without_dlq(qb: QueueBackend) -> None:
    name = f"plain{next(_names)}"
    qb.queues.ensure(name, dlq=False)
    qb.queues.send(name, [msg(1)])
    with pytest.raises(QueueNotFoundError):
        qb.queues.receive(f"{name}-dlq")


@pytest.mark.parametrize("kwargs", [{"max_receives": 0}, {"visibility_timeout": -1}])
def test_ensure_refuses_bad_settings(qb: QueueBackend, kwargs: dict[str, int]) -> None:
    with pytest.raises(ValueError):
        qb.queues.ensure(f"bad{next(_names)}", **kwargs)


def test_fifo_queue_keeps_order_and_drops_repeated_ids(qb: QueueBackend) -> None:
    name = f"ordered{next(_names)}.fifo"
    qb.queues.ensure(name)
    qb.queues.send(name, [Message(f"f{i}", {"i": i}, group="g") for i in range(5)])
    qb.queues.send(name, [Message("f0", {"i": 0}, group="g")])  # within the dedup window
    got = qb.queues.receive(name)
    assert [r.message_id for r in got] == [f"f{i}" for i in range(5)]
    with pytest.raises(ValueError):
        qb.queues.send(name, [Message("late", {}, delay_seconds=5, group="g")])


# --- errors ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "call",
    [
        lambda q: q.send("missing", [msg(1)]),
        lambda q: q.receive("missing"),
        lambda q: q.delete("missing", ["whatever"]),
        lambda q: q.change_visibility("missing", "whatever", 30),
    ],
    ids=["send", "receive", "delete", "change_visibility"],
)
def test_missing_queue_is_a_queue_not_found_error(
    qb: QueueBackend, call: Callable[[Any], object]
) -> None:
    with pytest.raises(QueueNotFoundError) as caught:
        call(qb.queues)
    assert isinstance(caught.value, QueueError)
    assert isinstance(caught.value, StepqError)
    assert caught.value.code


def test_dead_letter_without_dlq_is_an_error_and_keeps_the_message(qb: QueueBackend) -> None:
    name = f"nodlq{next(_names)}"
    qb.queues.ensure(name, dlq=False, visibility_timeout=0)
    qb.queues.send(name, [msg(1)])
    [r] = qb.queues.receive(name)
    with pytest.raises(QueueNotFoundError):
        qb.queues.dead_letter(name, r, "nowhere to go")
    assert [x.message_id for x in qb.queues.receive(name)] == ["m-1"]


def test_garbage_receipt_is_a_queue_error(qb: QueueBackend, queue: str) -> None:
    with pytest.raises(QueueError) as caught:
        qb.queues.delete(queue, ["not-a-receipt"])
    assert not isinstance(caught.value, QueueNotFoundError)


# --- QueueAdmin: what the operator tools use ----------------------------------------


def test_queue_names_are_the_logical_names_of_each_queue_and_its_dlq(qb: QueueBackend) -> None:
    name = f"named{next(_names)}"
    qb.queues.ensure(name)
    names = qb.queues.queue_names()
    assert {name, f"{name}-dlq"} <= set(names)
    assert names == sorted(names)


def test_hold_shows_the_raw_text_attributes_and_send_time_and_hides_it(
    qb: QueueBackend, hot_queue: str
) -> None:
    qb.queues.send(hot_queue, [msg(1)])
    [r] = qb.queues.receive(hot_queue)
    qb.queues.dead_letter(hot_queue, r, "cannot process it")
    dlq = f"{hot_queue}-dlq"
    [held] = qb.queues.hold(dlq, 10, seconds=60)
    assert held.raw == '{"n":1}'
    assert held.message_id == "m-1"
    assert held.attributes[ID_ATTRIBUTE] == "m-1"
    assert held.attributes[REASON_ATTRIBUTE] == "cannot process it"
    assert held.receive_count >= 1
    assert datetime.fromisoformat(held.sent_at).tzinfo is not None
    assert qb.queues.hold(dlq, 10, seconds=60) == []  # invisible while held
    qb.queues.change_visibility(dlq, held.receipt, 0)  # released: visible again
    [again] = qb.queues.hold(dlq, 10, seconds=60)
    assert again.message_id == "m-1" and again.receive_count > held.receive_count - 1
    qb.queues.delete(dlq, [again.receipt])
    assert qb.queues.depth(dlq) == 0


def test_hold_refuses_a_bad_visibility_and_a_missing_queue(qb: QueueBackend, queue: str) -> None:
    with pytest.raises(ValueError):
        qb.queues.hold(queue, 10, seconds=-1)
    with pytest.raises(QueueNotFoundError):
        qb.queues.hold("missing", 10, seconds=30)


def test_send_raw_sends_the_text_and_attributes_unchanged(qb: QueueBackend, queue: str) -> None:
    qb.queues.send_raw(queue, "{not json", {ID_ATTRIBUTE: "kept-id", "other": "x"})
    [held] = qb.queues.hold(queue, 10, seconds=0)
    assert (held.raw, held.message_id) == ("{not json", "kept-id")
    assert held.attributes == {ID_ATTRIBUTE: "kept-id", "other": "x"}
    [r] = qb.queues.receive(queue)  # the roles see it as any other message
    assert (r.raw, r.body, r.message_id) == ("{not json", None, "kept-id")


# --- claim check of large bodies ---------------------------------------------------

LARGE_KIB = 230  # over the 192 KiB claim threshold, under SQS's 256 KiB


def large(i: int, kib: int = LARGE_KIB) -> Message:
    return Message(id=f"big-{i}", body={"n": i, "pad": str(i) + "x" * (kib * 1024)})


@pytest.fixture
def cqb(make_backend: MakeBackend) -> QueueBackend:
    """A backend whose adapter has a blob store (of the same backend) for claim checks."""
    return make_backend(blobs=True)


@pytest.fixture
def cqueue(cqb: QueueBackend) -> str:
    name = f"claim{next(_names)}"
    cqb.queues.ensure(name, max_receives=3, visibility_timeout=60)
    return name


@contextmanager
def sqs_calls(qb: QueueBackend, operation: str) -> Iterator[list[str]]:
    """The ``operation`` requests the backend's SQS client makes inside the block."""
    calls: list[str] = []
    if qb.client is None:  # in memory: there are no requests to count
        yield calls
        return

    def record(**_: Any) -> None:
        calls.append(operation)

    if not hasattr(qb.client, "meta"):  # MotoClient: no botocore, so no hooks
        original = qb.client._call

        def counted(name: str, params: dict[str, Any]) -> Any:
            if name == operation:
                record()
            return original(name, params)

        qb.client._call = counted
        try:
            yield calls
        finally:
            del qb.client._call
        return

    event = f"before-call.sqs.{operation}"
    qb.client.meta.events.register(event, record)
    try:
        yield calls
    finally:
        qb.client.meta.events.unregister(event, record)


def test_large_body_round_trips_by_claim_check(cqb: QueueBackend, cqueue: str) -> None:
    message = large(1)
    text = encode_body(message.body)
    cqb.queues.send(cqueue, [message])
    [(raw, attributes)] = cqb.read_all(cqueue)
    assert attributes[ID_ATTRIBUTE] == "big-1"
    pointer = pointer_of(raw)
    assert pointer is not None and len(raw) < 400  # the queue holds only the pointer
    digest = hashlib.sha256(text.encode()).hexdigest()
    assert pointer.ref == f"s3://{cqb.blobs.bucket}/messages/{cqueue}/{digest}"
    assert (pointer.sha256, pointer.size) == (digest, len(text))
    assert cqb.blobs.get(pointer.ref) == text.encode()
    [r] = cqb.queues.receive(cqueue)
    assert r.body == message.body
    assert r.message_id == "big-1"
    assert r.raw == raw
    cqb.queues.delete(cqueue, [r.receipt])
    assert cqb.queues.depth(cqueue) == 0


def test_many_large_bodies_go_in_few_requests(cqb: QueueBackend, cqueue: str) -> None:
    messages = [large(i) for i in range(12)] + [msg(i) for i in range(3)]
    with sqs_calls(cqb, "SendMessageBatch") as calls:
        cqb.queues.send(cqueue, messages)
    if cqb.client is not None:
        assert len(calls) == 2  # 15 small entries: batches of 10 + 5, far below 256 KiB
    got = drain(cqb, cqueue)
    assert sorted(r.message_id for r in got) == sorted(m.id for m in messages)
    bodies = {m.id: m.body for m in messages}
    assert all(r.body == bodies[r.message_id] for r in got)


def test_body_under_the_threshold_is_sent_as_is(cqb: QueueBackend, cqueue: str) -> None:
    message = large(2, kib=100)
    cqb.queues.send(cqueue, [message])
    [r] = cqb.queues.receive(cqueue)
    assert r.raw == encode_body(message.body)
    assert r.body == message.body


def test_without_blobs_a_large_body_under_the_sqs_limit_is_sent_as_is(
    qb: QueueBackend, queue: str
) -> None:
    message = large(3)
    qb.queues.send(queue, [message])
    [r] = qb.queues.receive(queue)
    assert (r.raw, r.body) == (encode_body(message.body), message.body)


def test_without_blobs_an_oversized_body_is_a_clear_error_before_any_request(
    qb: QueueBackend, queue: str
) -> None:
    with sqs_calls(qb, "SendMessageBatch") as calls, pytest.raises(MessageTooLargeError) as caught:
        qb.queues.send(queue, [msg(0), large(4, kib=300)])
    assert calls == []  # refused before anything went out
    assert isinstance(caught.value, QueueError) and isinstance(caught.value, StepqError)
    text = str(caught.value)
    assert f"{queue!r}" in text and "'big-4'" in text
    assert " bytes" in text and "STEPQ_BUCKET" in text
    assert qb.queues.receive(queue) == []


def test_dead_letter_keeps_the_pointer_and_the_dlq_reads_the_body(
    cqb: QueueBackend, cqueue: str
) -> None:
    message = large(5)
    cqb.queues.send(cqueue, [message])
    [r] = cqb.queues.receive(cqueue)
    cqb.queues.dead_letter(cqueue, r, "cannot process big-5")
    assert cqb.queues.receive(cqueue) == []
    [(raw, attributes)] = cqb.read_all(f"{cqueue}-dlq")
    assert raw == r.raw and pointer_of(raw) is not None  # the copy is the pointer
    assert attributes[REASON_ATTRIBUTE] == "cannot process big-5"
    assert attributes[ID_ATTRIBUTE] == "big-5"
    [dead] = cqb.queues.receive(f"{cqueue}-dlq")
    assert (dead.message_id, dead.body) == ("big-5", message.body)


def test_claim_checked_message_redriven_after_max_receives_is_read_from_the_dlq(
    cqb: QueueBackend,
) -> None:
    name = f"hotclaim{next(_names)}"
    cqb.queues.ensure(name, max_receives=2, visibility_timeout=0)
    message = large(6)
    cqb.queues.send(name, [message])
    for _ in range(2):
        [r] = cqb.queues.receive(name)
        assert r.body == message.body
    assert cqb.queues.receive(name) == []  # this receive redrives it
    [dead] = cqb.queues.receive(f"{name}-dlq")
    assert (dead.message_id, dead.body) == ("big-6", message.body)


def test_pointer_to_a_missing_blob_is_dead_lettered_with_the_reason(
    cqb: QueueBackend, cqueue: str
) -> None:
    digest = hashlib.sha256(b"never stored").hexdigest()
    ref = f"s3://{cqb.blobs.bucket}/messages/{cqueue}/{digest}"
    pointer = encode_body(Pointer(ref, digest, 12).body())
    cqb.inject_raw(cqueue, pointer)
    [r] = cqb.queues.receive(cqueue)
    assert r.body is None  # consumers dead-letter a None body
    assert r.raw == pointer
    cqb.queues.dead_letter(cqueue, r, "the message body is not a JSON object")
    [(raw, attributes)] = cqb.read_all(f"{cqueue}-dlq")
    assert raw == pointer
    assert attributes[REASON_ATTRIBUTE] == (
        f"claim check: the blob {ref} does not exist; the message body is not a JSON object"
    )


def test_consumer_without_blobs_dead_letters_a_pointer_naming_the_setting(
    cqb: QueueBackend, cqueue: str, qb: QueueBackend, queue: str
) -> None:
    cqb.queues.send(cqueue, [large(7)])
    [(pointer, _)] = cqb.read_all(cqueue)
    assert json.loads(pointer).keys() == {CLAIM_KEY}
    qb.inject_raw(queue, pointer)  # reaches a consumer configured without a bucket
    [r] = qb.queues.receive(queue)
    assert r.body is None
    qb.queues.dead_letter(queue, r, "the message body is not a JSON object")
    [(raw, attributes)] = qb.read_all(f"{queue}-dlq")
    assert raw == pointer
    assert "no blob store is configured here (set STEPQ_BUCKET)" in attributes[REASON_ATTRIBUTE]


# --- SQS only: partial batch failures, botocore errors, client config -------------


class _FlakyBatches:
    """A real (moto) client whose batch calls report some entries as failed."""

    def __init__(self, client: Any, failures: list[dict[str, Any]]) -> None:
        self._client = client
        self._failures = failures  # consumed one per batch call
        self.batch_calls: list[list[str]] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    def send_message_batch(self, QueueUrl: str, Entries: list[dict[str, Any]]) -> dict[str, Any]:
        self.batch_calls.append([e["Id"] for e in Entries])
        if self._failures:
            failure = self._failures.pop(0)
            failing = [e for e in Entries if e["Id"] in failure["ids"]]
            ok = [e for e in Entries if e["Id"] not in failure["ids"]]
            if ok:
                self._client.send_message_batch(QueueUrl=QueueUrl, Entries=ok)
            return {
                "Successful": [{"Id": e["Id"]} for e in ok],
                "Failed": [
                    {"Id": e["Id"], "SenderFault": failure["sender"], "Code": failure["code"]}
                    for e in failing
                ],
            }
        return self._client.send_message_batch(QueueUrl=QueueUrl, Entries=Entries)


@pytest.fixture
def sqs_client(module_aws_env: None) -> Iterator[Any]:
    import boto3
    from moto import mock_aws

    with mock_aws():
        yield boto3.client("sqs", region_name="us-east-1")


def test_sqs_partial_batch_failure_is_retried(sqs_client: Any) -> None:
    from stepq.backends.aws.sqs_queues import SqsQueues

    flaky = _FlakyBatches(
        sqs_client, [{"ids": {"m-1", "m-3"}, "sender": False, "code": "InternalError"}]
    )
    clock = ManualClock()
    queues = SqsQueues(client=flaky, prefix="flaky", clock=clock)
    queues.ensure("q")
    queues.send("q", [msg(i) for i in range(5)])
    assert flaky.batch_calls == [["m-0", "m-1", "m-2", "m-3", "m-4"], ["m-1", "m-3"]]
    assert sorted(r.message_id for r in drain_queues(queues, "q")) == [f"m-{i}" for i in range(5)]
    assert clock.now() > ManualClock().now()  # backed off through the injected clock


def test_sqs_persistent_batch_failure_raises(sqs_client: Any) -> None:
    from stepq.backends.aws.sqs_queues import SqsQueues

    down = {"ids": {"m-0"}, "sender": False, "code": "ServiceUnavailable"}
    flaky = _FlakyBatches(sqs_client, [dict(down) for _ in range(10)])
    queues = SqsQueues(client=flaky, prefix="down", clock=ManualClock(), batch_attempts=3)
    queues.ensure("q")
    with pytest.raises(QueueError, match="after 3 attempts") as caught:
        queues.send("q", [msg(0), msg(1)])
    assert caught.value.code == "ServiceUnavailable"
    assert len(flaky.batch_calls) == 3


def test_sqs_sender_fault_is_not_retried(sqs_client: Any) -> None:
    from stepq.backends.aws.sqs_queues import SqsQueues

    bad = {"ids": {"m-0"}, "sender": True, "code": "InvalidParameterValue"}
    flaky = _FlakyBatches(sqs_client, [bad])
    queues = SqsQueues(client=flaky, prefix="bad", clock=ManualClock())
    queues.ensure("q")
    with pytest.raises(QueueError) as caught:
        queues.send("q", [msg(0)])
    assert caught.value.code == "InvalidParameterValue"
    assert len(flaky.batch_calls) == 1


def test_sqs_resolves_each_url_once(sqs_client: Any) -> None:
    from stepq.backends.aws.sqs_queues import SqsQueues

    calls: list[str] = []
    sqs_client.meta.events.register(
        "provide-client-params.sqs.GetQueueUrl",
        lambda **kw: calls.append(kw["params"]["QueueName"]),
    )
    SqsQueues(client=sqs_client, prefix="cache").ensure("q")
    queues = SqsQueues(client=sqs_client, prefix="cache")
    for _ in range(3):
        queues.send("q", [msg(1)])
        queues.receive("q")
    assert calls == ["cache-q"]


def test_sqs_connection_failure_is_a_queue_error(module_aws_env: None) -> None:
    import boto3
    from botocore.config import Config
    from stepq.backends.aws.sqs_queues import SqsQueues

    # Port 9 on loopback: nothing listens; no request leaves the machine.
    client = boto3.client(
        "sqs",
        region_name="us-east-1",
        endpoint_url="http://127.0.0.1:9",
        config=Config(retries={"max_attempts": 1, "mode": "standard"}, connect_timeout=1),
    )
    with pytest.raises(QueueError):
        SqsQueues(client=client).receive("events")


def test_build_gives_the_queues_the_bucket_for_claim_checks(sqs_client: Any) -> None:
    import boto3
    from stepq.backends.aws.settings import Settings, build

    s3 = boto3.client("s3", region_name="us-east-1")
    clients = {"dynamodb": object(), "sqs": sqs_client, "s3": s3}  # the store is not used
    _, queues, blobs = build(Settings(STEPQ_BUCKET="stepq-claims"), clients)
    assert isinstance(blobs, S3Blobs)
    blobs.ensure_bucket()
    queues.ensure("events")
    queues.send("events", [large(8)])
    [r] = queues.receive("events")
    assert pointer_of(r.raw) is not None and r.body == large(8).body
    _, plain, none = build(Settings(), clients)
    assert none is None
    with pytest.raises(MessageTooLargeError, match="STEPQ_BUCKET"):
        plain.send("events", [large(9, kib=300)])


def test_default_client_config_uses_adaptive_retries() -> None:
    from stepq.backends.aws.sqs_queues import default_client_config

    config = default_client_config()
    assert config.retries == {"mode": "adaptive", "max_attempts": 10}


def drain_queues(queues: Any, queue: str) -> list[Received]:
    out: list[Received] = []
    while got := queues.receive(queue):
        out.extend(got)
    return out

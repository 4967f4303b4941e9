"""What every ``Queues`` backend agrees on: limits, body encoding, ids, errors.

Shared by ``aws.sqs_queues`` and ``memory.queues`` so the in-process reference
refuses exactly what SQS refuses (and nothing here imports boto3, so the
memory backend works without the ``aws`` extra).

Claim check (``ClaimCheck``): with a blob store, a message whose wire size
(body + attributes, as SQS counts them) is over ``claim_threshold`` (192 KiB
by default) is put in the blob store under ``messages/<queue>/<sha256>`` and
the queue carries a pointer body instead::

    {"stepq-claim-check": {"v": 1, "ref": "s3://<bucket>/messages/<queue>/<sha256>",
                           "sha256": "<hex digest of the stored text>", "bytes": <size>}}

Receiving fetches the body back, so consumers see the original dict. Without
a blob store a message over SQS's limit is refused (``MessageTooLargeError``)
before anything is sent.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from stepq.errors import BlobNotFoundError, ClaimCheckError, MessageTooLargeError
from stepq.runtime.ports import Blobs, Message, Received, parse_ref

log = logging.getLogger(__name__)

# SQS limits. 256 KiB is the classic per-request cap; SQS now takes 1 MiB, but
# SQS-compatible endpoints may not, and large payloads belong in Blobs anyway.
MAX_DELAY_SECONDS = 900
MAX_BATCH_ENTRIES = 10
MAX_BATCH_BYTES = 256 * 1024
MAX_RECEIVE_MESSAGES = 10
MAX_WAIT_SECONDS = 20
MAX_ENTRY_ID = 80
MAX_RECEIVES = 1000  # a redrive policy's maxReceiveCount
MAX_VISIBILITY_TIMEOUT = 43200  # 12 hours
FIFO_SUFFIX = ".fifo"

ID_ATTRIBUTE = "stepq-id"
REASON_ATTRIBUTE = "stepq-reason"
MAX_REASON_CHARS = 1024  # a reason is for humans; keep DLQ messages far below the size cap

# Claim check: bodies over the threshold travel through the blob store.
DEFAULT_CLAIM_THRESHOLD = 192 * 1024
CLAIM_KEY = "stepq-claim-check"
CLAIM_PREFIX = "messages"
CLAIM_VERSION = 1
_MAX_POINTER_CHARS = 4096  # a pointer is ~250 bytes; longer text is never parsed as one
_MAX_PROBLEMS = 1024  # unread-pointer reasons kept for dead_letter, oldest dropped first
_SHA256 = re.compile(r"^[0-9a-f]{64}$")

_ENTRY_ID_OK = re.compile(r"^[A-Za-z0-9_-]{1,80}$")
_ENTRY_ID_BAD_CHARS = re.compile(r"[^A-Za-z0-9_-]")


def encode_body(body: dict[str, Any]) -> str:
    """The wire text of a message body: compact JSON, ASCII-only.

    ASCII escapes keep every body inside the characters SQS accepts (lone
    surrogates, U+FFFE...) at the cost of a few bytes for non-ASCII text.
    """
    if not isinstance(body, dict):
        raise ValueError(f"a message body must be a JSON object, got {type(body).__name__}")
    wire = getattr(body, "wire", None)  # runtime.signing.SignedBody: encoded when signed
    if isinstance(wire, str):
        return wire
    return json.dumps(body, separators=(",", ":"), ensure_ascii=True, allow_nan=False)


def parse_body(raw: str) -> dict[str, Any] | None:
    """The body as a JSON object, or None when ``raw`` is anything else. Never raises."""
    try:
        value = json.loads(raw)
    except (ValueError, RecursionError, TypeError):
        return None
    return value if isinstance(value, dict) else None


def check_delay(delay_seconds: int) -> int:
    """SQS takes 0..900 s; longer waits are the scheduler's durable timers."""
    if isinstance(delay_seconds, bool) or not isinstance(delay_seconds, int):
        raise ValueError(f"delay_seconds must be an int, got {delay_seconds!r}")
    if not 0 <= delay_seconds <= MAX_DELAY_SECONDS:
        raise ValueError(
            f"delay_seconds must be within 0..{MAX_DELAY_SECONDS}, got {delay_seconds} "
            "(use a durable timer for longer waits)"
        )
    return delay_seconds


def check_visibility(seconds: int) -> int:
    """SQS's range for ChangeMessageVisibility: 0..43200 s (0: visible at once)."""
    if isinstance(seconds, bool) or not isinstance(seconds, int):
        raise ValueError(f"visibility seconds must be an int, got {seconds!r}")
    if not 0 <= seconds <= MAX_VISIBILITY_TIMEOUT:
        raise ValueError(
            f"visibility seconds must be within 0..{MAX_VISIBILITY_TIMEOUT}, got {seconds}"
        )
    return seconds


def check_queue_settings(max_receives: int, visibility_timeout: int) -> None:
    """SQS's ranges for a queue: 1..1000 receives before the DLQ, 0..43200 s invisible."""
    if not 1 <= max_receives <= MAX_RECEIVES:
        raise ValueError(f"max_receives must be within 1..{MAX_RECEIVES}, got {max_receives}")
    if not 0 <= visibility_timeout <= MAX_VISIBILITY_TIMEOUT:
        raise ValueError(
            f"visibility_timeout must be within 0..{MAX_VISIBILITY_TIMEOUT}, got {visibility_timeout}"
        )


def is_fifo(queue: str) -> bool:
    """A name ending in ``.fifo`` is a FIFO queue (SQS's rule for physical names too)."""
    return queue.endswith(FIFO_SUFFIX)


def check_fifo_delays(queue: str, messages: Sequence[Message]) -> None:
    """SQS refuses a per-message delay on a FIFO queue (the delay is the queue's)."""
    if is_fifo(queue) and any(m.delay_seconds for m in messages):
        raise ValueError("FIFO queues take no per-message delay")


def wire_size(text: str, attributes: dict[str, str]) -> int:
    """Bytes SQS counts for a message: body plus each attribute's name, type and value."""
    size = len(text.encode("utf-8"))
    for name, value in attributes.items():
        size += len(name.encode("utf-8")) + len("String") + len(value.encode("utf-8"))
    return size


def _encode(message: Message) -> tuple[str, dict[str, str]]:
    if not message.id:
        raise ValueError("a message needs a non-empty id")
    check_delay(message.delay_seconds)
    return encode_body(message.body), {ID_ATTRIBUTE: message.id}


def too_large(message_id: str, size: int, queue: str | None = None) -> MessageTooLargeError:
    """The error for a message over SQS's limit with no blob store to hold it."""
    where = f" for queue {queue!r}" if queue else ""
    return MessageTooLargeError(
        f"message {message_id!r}{where} is {size:,} bytes (body + attributes); "
        f"the SQS limit is {MAX_BATCH_BYTES:,}. Set STEPQ_BUCKET (a blob store) so large "
        "messages are sent by claim check, or put large payloads in Blobs and send the ref",
        "MessageTooLarge",
    )


def encode_message(message: Message, queue: str | None = None) -> tuple[str, dict[str, str]]:
    """Validate ``message`` and return its wire text and string attributes.

    Raises ValueError for anything SQS would refuse, before anything is sent
    (``MessageTooLargeError`` for a message over the size limit).
    """
    text, attributes = _encode(message)
    size = wire_size(text, attributes)
    if size > MAX_BATCH_BYTES:
        raise too_large(message.id, size, queue)
    return text, attributes


def entry_id(message_id: str) -> str:
    """A batch entry Id for ``message_id``: SQS allows [A-Za-z0-9_-]{1,80}.

    Ids that already fit are kept, so failures name the caller's id; others
    are sanitised and suffixed with a hash so distinct ids stay distinct.
    """
    if _ENTRY_ID_OK.match(message_id):
        return message_id
    digest = hashlib.sha256(message_id.encode("utf-8")).hexdigest()[:16]
    head = _ENTRY_ID_BAD_CHARS.sub("_", message_id)[: MAX_ENTRY_ID - len(digest) - 1]
    return f"{head}-{digest}" if head else digest


def unique_entry_ids(message_ids: Sequence[str]) -> list[str]:
    """Entry Ids for one batch; SQS refuses repeats, so repeated ids get ``-<n>`` suffixes."""
    seen: set[str] = set()
    out: list[str] = []
    for index, message_id in enumerate(message_ids):
        candidate = entry_id(message_id)
        if candidate in seen:
            suffix = f"-{index}"
            candidate = candidate[: MAX_ENTRY_ID - len(suffix)] + suffix
        seen.add(candidate)
        out.append(candidate)
    return out


def plan_batches(sizes: Sequence[int]) -> list[list[int]]:
    """Split item indexes, in order, into batches of <= 10 items and <= 256 KiB.

    Each size must already be <= MAX_BATCH_BYTES (``encode_message`` checks).
    """
    batches: list[list[int]] = []
    current: list[int] = []
    total = 0
    for index, size in enumerate(sizes):
        if current and (len(current) == MAX_BATCH_ENTRIES or total + size > MAX_BATCH_BYTES):
            batches.append(current)
            current, total = [], 0
        current.append(index)
        total += size
    if current:
        batches.append(current)
    return batches


def clamp_receive(max_messages: int, wait_seconds: int) -> tuple[int, int]:
    """SQS's ranges: 1..10 messages, 0..20 s of long polling."""
    return (
        max(1, min(MAX_RECEIVE_MESSAGES, max_messages)),
        max(0, min(MAX_WAIT_SECONDS, wait_seconds)),
    )


def dlq_name(queue: str) -> str:
    """``<queue>-dlq``; a FIFO queue's DLQ must be FIFO too, so the suffix stays last."""
    if is_fifo(queue):
        return queue[: -len(FIFO_SUFFIX)] + "-dlq" + FIFO_SUFFIX
    return queue + "-dlq"


def reason_text(reason: str) -> str:
    """A non-empty reason of bounded length (SQS refuses empty attribute values)."""
    return (reason or "unspecified")[:MAX_REASON_CHARS]


def dead_letter_entry(received: Received, reason: str) -> tuple[str, dict[str, str]]:
    """The DLQ copy of ``received``: its raw text (a pointer stays a pointer), id and reason.

    The reason is shortened further when the copy would not fit SQS's limit
    (a message that arrived close to it has no room for 1 KiB of reason).
    """
    raw = received.raw or "(empty)"  # SQS refuses empty bodies
    attributes = {ID_ATTRIBUTE: received.message_id, REASON_ATTRIBUTE: reason_text(reason)}
    over = wire_size(raw, attributes) - MAX_BATCH_BYTES
    if over > 0:
        text = attributes[REASON_ATTRIBUTE]
        attributes[REASON_ATTRIBUTE] = text[: max(1, len(text) - over)]
    return raw, attributes


# --- claim check -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Pointer:
    """Where a claim-checked body is: ``ref`` in the blob store, its digest and size."""

    ref: str
    sha256: str
    size: int

    def body(self) -> dict[str, Any]:
        return {
            CLAIM_KEY: {
                "v": CLAIM_VERSION,
                "ref": self.ref,
                "sha256": self.sha256,
                "bytes": self.size,
            }
        }


@dataclass(frozen=True, slots=True)
class Wire:
    """One message as it goes on the queue: text, attributes and the size SQS counts."""

    id: str
    text: str
    attributes: dict[str, str]
    size: int
    claim: bool = False  # over the threshold: the text goes to the blob store


def claim_key(queue: str, digest: str) -> str:
    """The blob key of a claim-checked body: content-addressed, so resends share one blob."""
    return f"{CLAIM_PREFIX}/{queue}/{digest}"


def is_pointer(body: Any) -> bool:
    """True for a claim-check pointer body (a JSON object with the one key ``CLAIM_KEY``)."""
    return isinstance(body, dict) and len(body) == 1 and CLAIM_KEY in body


def parse_pointer(body: dict[str, Any]) -> Pointer:
    """The pointer in a pointer body; ValueError saying what is wrong with it."""
    value = body.get(CLAIM_KEY)
    if not isinstance(value, dict) or value.get("v") != CLAIM_VERSION:
        raise ValueError(f"not a version {CLAIM_VERSION} claim-check pointer")
    ref, digest, size = value.get("ref"), value.get("sha256"), value.get("bytes")
    if not isinstance(digest, str) or not _SHA256.match(digest):
        raise ValueError("the pointer's sha256 is not a hex SHA-256 digest")
    if isinstance(size, bool) or not isinstance(size, int) or size < 0:
        raise ValueError("the pointer's size is not a non-negative int")
    _, key = parse_ref(ref)  # ValueError for anything but s3://bucket/key
    if not key.startswith(CLAIM_PREFIX + "/") or not key.endswith("/" + digest):
        raise ValueError(f"the pointer's ref {ref!r} is not a claim-check key")
    return Pointer(ref, digest, size)


def pointer_of(raw: str) -> Pointer | None:
    """The pointer in a raw message text, or None when it is not a (well-formed) pointer."""
    if len(raw) > _MAX_POINTER_CHARS:
        return None
    body = parse_body(raw)
    if not is_pointer(body):
        return None
    try:
        return parse_pointer(body)  # type: ignore[arg-type]
    except ValueError:
        return None


def check_claim_threshold(threshold: int) -> int:
    if isinstance(threshold, bool) or not isinstance(threshold, int):
        raise ValueError(f"claim_threshold must be an int, got {threshold!r}")
    if not 1 <= threshold <= MAX_BATCH_BYTES:
        raise ValueError(f"claim_threshold must be within 1..{MAX_BATCH_BYTES}, got {threshold}")
    return threshold


class ClaimCheck:
    """The claim check both ``Queues`` backends share: encode, check in, open, explain.

    ``blobs`` None: no claim check; a message over SQS's limit is refused.
    Thread-safe (the blob store must be too).
    """

    def __init__(self, blobs: Blobs | None = None, threshold: int = DEFAULT_CLAIM_THRESHOLD):
        self.blobs = blobs
        self.threshold = check_claim_threshold(threshold)
        self._problems: OrderedDict[str, str] = OrderedDict()  # receipt -> why unreadable
        self._lock = threading.Lock()

    # --- sending -----------------------------------------------------------------

    def encode(self, queue: str, messages: Sequence[Message]) -> list[Wire]:
        """Validate every message; nothing is stored or sent yet.

        Raises ValueError for anything SQS would refuse, ``MessageTooLargeError``
        for a message over SQS's limit when there is no blob store.
        """
        out: list[Wire] = []
        for message in messages:
            text, attributes = _encode(message)
            size = wire_size(text, attributes)
            claim = self.blobs is not None and size > self.threshold
            if size > MAX_BATCH_BYTES and not claim:
                raise too_large(message.id, size, queue)
            if claim:  # the pointer must fit too (it carries the id attribute)
                sample = Pointer(f"s3://{'b' * 63}/{claim_key(queue, '0' * 64)}", "0" * 64, size)
                pointer_size = wire_size(encode_body(sample.body()), attributes)
                if pointer_size > MAX_BATCH_BYTES:
                    raise too_large(message.id, pointer_size, queue)
            out.append(Wire(message.id, text, attributes, size, claim))
        return out

    def check_in(self, queue: str, wires: Sequence[Wire]) -> list[Wire]:
        """``wires`` as sent: each body over the threshold stored, a pointer in its place.

        Raises ``ClaimCheckError`` when the blob store fails (nothing is sent then;
        bodies stored by then are left unreferenced, for a lifecycle rule to expire).
        """
        out: list[Wire] = []
        stored: dict[str, Pointer] = {}  # one put per distinct body
        for wire in wires:
            if not wire.claim or self.blobs is None:
                out.append(wire)
                continue
            data = wire.text.encode("utf-8")  # ASCII (encode_body), so bytes == chars
            digest = hashlib.sha256(data).hexdigest()
            pointer = stored.get(digest)
            if pointer is None:
                try:
                    ref = self.blobs.put(claim_key(queue, digest), data)
                except Exception as exc:  # the blob adapter's own failure, or a bug in it
                    raise ClaimCheckError(
                        f"send to {queue!r}: storing the body of message {wire.id!r} "
                        f"({len(data):,} bytes) in the blob store failed: {exc}",
                        getattr(exc, "code", ""),
                    ) from exc
                pointer = stored[digest] = Pointer(ref, digest, len(data))
            text = encode_body(pointer.body())
            out.append(Wire(wire.id, text, wire.attributes, wire_size(text, wire.attributes), True))
        return out

    # --- receiving ---------------------------------------------------------------

    def open(self, received: Received) -> Received:
        """``received`` with the original body when it carries a claim-check pointer.

        A pointer that can never be read (a missing blob, a wrong digest, no
        blob store here, a malformed pointer) gives ``body`` None; the reason is
        logged and kept for ``dead_letter``. ``raw`` stays the pointer text, so a
        dead-lettered copy keeps the pointer. A failure that may pass (throttling,
        network) raises ``ClaimCheckError``: leave the message for redelivery.
        """
        if not is_pointer(received.body):
            return received
        try:
            pointer = parse_pointer(received.body)  # type: ignore[arg-type]
        except ValueError as exc:
            return self._unreadable(received, f"malformed pointer: {exc}")
        if self.blobs is None:
            return self._unreadable(
                received,
                f"the body is in the blob store ({pointer.ref}) but no blob store is "
                "configured here (set STEPQ_BUCKET)",
            )
        bucket = getattr(self.blobs, "bucket", None)
        if bucket is not None and parse_ref(pointer.ref)[0] != bucket:
            return self._unreadable(
                received, f"the pointer names {pointer.ref}, outside this blob store's bucket"
            )
        try:
            data = self.blobs.get(pointer.ref)
        except BlobNotFoundError:
            return self._unreadable(received, f"the blob {pointer.ref} does not exist")
        except Exception as exc:  # may pass: leave the message for redelivery
            raise ClaimCheckError(
                f"reading the body of message {received.message_id!r} from {pointer.ref} "
                f"failed: {exc}",
                getattr(exc, "code", ""),
            ) from exc
        if hashlib.sha256(data).hexdigest() != pointer.sha256:
            return self._unreadable(received, f"the blob {pointer.ref} does not match its digest")
        body = parse_body(data.decode("utf-8", errors="replace"))
        if body is None:
            return self._unreadable(received, f"the blob {pointer.ref} is not a JSON object")
        return replace(received, body=body)

    def open_all(self, queue: str, received: Sequence[Received]) -> list[Received]:
        """``open`` each; a message whose blob cannot be read just now is left in flight
        (it comes back after the visibility timeout, and SQS redrives it in the end)."""
        out: list[Received] = []
        for message in received:
            try:
                out.append(self.open(message))
            except ClaimCheckError as exc:
                log.warning(
                    "claim-checked message left for redelivery: %s",
                    exc,
                    extra={"queue": queue, "message_id": message.message_id},
                )
        return out

    def _unreadable(self, received: Received, problem: str) -> Received:
        log.warning(
            "claim-checked message %r cannot be read: %s",
            received.message_id,
            problem,
            extra={"message_id": received.message_id},
        )
        with self._lock:
            self._problems[received.receipt] = problem
            while len(self._problems) > _MAX_PROBLEMS:
                self._problems.popitem(last=False)
        return replace(received, body=None)

    # --- dead-lettering ----------------------------------------------------------

    def dead_letter_reason(self, received: Received, reason: str) -> str:
        """``reason``, led by why a claim-checked body was unreadable when it was."""
        with self._lock:  # kept, not popped: a failed dead_letter may be retried
            problem = self._problems.get(received.receipt)
        if problem is None and pointer_of(received.raw) is not None:
            if received.body is None:
                problem = "the body behind the pointer could not be read"
            elif is_pointer(received.body):  # e.g. built from a Lambda record, never opened
                problem = "the consumer got the pointer, not the body (it was never opened)"
        if problem is None:
            return reason_text(reason)
        return reason_text(f"claim check: {problem}; {reason or 'unspecified'}")

"""What every ``Queues`` backend agrees on: limits, body encoding, ids, errors.

Shared by ``queues_sqs`` and ``queues_memory`` so the in-process reference
refuses exactly what SQS refuses (and nothing here imports boto3, so the
memory backend works without the ``aws`` extra).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence
from typing import Any

from stepq.errors import StepqError
from stepq.runtime.ports import Message

# SQS limits. 256 KiB is the classic per-request cap; SQS now takes 1 MiB, but
# SQS-compatible endpoints may not, and large payloads belong in Blobs anyway.
MAX_DELAY_SECONDS = 900
MAX_BATCH_ENTRIES = 10
MAX_BATCH_BYTES = 256 * 1024
MAX_RECEIVE_MESSAGES = 10
MAX_WAIT_SECONDS = 20
MAX_ENTRY_ID = 80

ID_ATTRIBUTE = "stepq-id"
REASON_ATTRIBUTE = "stepq-reason"
MAX_REASON_CHARS = 1024  # a reason is for humans; keep DLQ messages far below the size cap

_ENTRY_ID_OK = re.compile(r"^[A-Za-z0-9_-]{1,80}$")
_ENTRY_ID_BAD_CHARS = re.compile(r"[^A-Za-z0-9_-]")


class QueueError(StepqError):
    """A queue call failed (after the retries botocore and the adapter make).

    ``code`` is the backend's error code when there is one
    (e.g. ``AWS.SimpleQueueService.NonExistentQueue``), else ``""``.
    """

    def __init__(self, message: str, code: str = "") -> None:
        super().__init__(message)
        self.code = code


class QueueNotFoundError(QueueError):
    """The named queue does not exist (call ``ensure`` first)."""


def encode_body(body: dict[str, Any]) -> str:
    """The wire text of a message body: compact JSON, ASCII-only.

    ASCII escapes keep every body inside the characters SQS accepts (lone
    surrogates, U+FFFE...) at the cost of a few bytes for non-ASCII text.
    """
    if not isinstance(body, dict):
        raise ValueError(f"a message body must be a JSON object, got {type(body).__name__}")
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


def wire_size(text: str, attributes: dict[str, str]) -> int:
    """Bytes SQS counts for a message: body plus each attribute's name, type and value."""
    size = len(text.encode("utf-8"))
    for name, value in attributes.items():
        size += len(name.encode("utf-8")) + len("String") + len(value.encode("utf-8"))
    return size


def encode_message(message: Message) -> tuple[str, dict[str, str]]:
    """Validate ``message`` and return its wire text and string attributes.

    Raises ValueError for anything SQS would refuse, before anything is sent.
    """
    if not message.id:
        raise ValueError("a message needs a non-empty id")
    check_delay(message.delay_seconds)
    text = encode_body(message.body)
    attributes = {ID_ATTRIBUTE: message.id}
    size = wire_size(text, attributes)
    if size > MAX_BATCH_BYTES:
        raise ValueError(
            f"message {message.id!r} is {size} bytes; the limit is {MAX_BATCH_BYTES} "
            "(put large payloads in Blobs and send the ref)"
        )
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
    if queue.endswith(".fifo"):
        return queue[: -len(".fifo")] + "-dlq.fifo"
    return queue + "-dlq"


def reason_text(reason: str) -> str:
    """A non-empty reason of bounded length (SQS refuses empty attribute values)."""
    return (reason or "unspecified")[:MAX_REASON_CHARS]

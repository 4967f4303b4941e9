"""The ``Queues`` port on Amazon SQS (or any SQS-compatible endpoint).

CONTRACT (others code against these signatures):

    default_client_config() -> botocore.config.Config
    SqsQueues(client, prefix="stepq", *, clock=None, batch_attempts=4,
              blobs=None, claim_threshold=DEFAULT_CLAIM_THRESHOLD)
        .ensure(name, dlq=True, max_receives=5, visibility_timeout=60) -> str  # queue URL
        .url(name) -> str
        .send(queue, messages) -> None
        .receive(queue, max_messages=10, wait_seconds=0) -> list[Received]
        .delete(queue, receipts) -> None
        .dead_letter(queue, received, reason) -> None
        .change_visibility(queue, receipt, seconds) -> None   # 0..43200 s from now
        .resolve(received) -> Received   # a Received built elsewhere (a Lambda record), opened
        .depth(queue) -> int   # approximate: visible + in flight + delayed
        .queue_names() -> list[str]   # QueueAdmin: the logical names under the prefix
        .hold(queue, max_messages=10, seconds=60) -> list[Held]   # QueueAdmin: raw receive
        .send_raw(queue, text, attributes=None) -> None   # QueueAdmin: text as is

Errors are ``stepq.errors``'s: ``QueueError``, ``QueueNotFoundError``,
``MessageTooLargeError`` (also a ValueError) and ``ClaimCheckError``.

Queue names are logical (``events``, ``tasks-<name>``); the physical SQS name
is ``<prefix>-<name>``. A name ending in ``.fifo`` makes a FIFO queue.
Every botocore error leaves as ``QueueError``; throttling and 5xx are retried
by botocore itself (``default_client_config``), partial batch failures by us.

With ``blobs``, a message over ``claim_threshold`` bytes goes by claim check
(``queue_wire.ClaimCheck``): its body is put in the blob store and the
queue carries a small pointer; ``receive`` fetches the body back. Without
``blobs``, a message over SQS's 256 KiB limit raises ``MessageTooLargeError``
before any request is sent.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from stepq.backends.aws.botocore_common import client_config as default_client_config
from stepq.backends.aws.botocore_common import error_code, error_message
from stepq.backends.queue_wire import (
    DEFAULT_CLAIM_THRESHOLD,
    ID_ATTRIBUTE,
    MAX_BATCH_BYTES,
    MAX_BATCH_ENTRIES,
    ClaimCheck,
    check_fifo_delays,
    check_queue_settings,
    check_visibility,
    clamp_receive,
    dead_letter_entry,
    dlq_name,
    is_fifo,
    parse_body,
    plan_batches,
    too_large,
    unique_entry_ids,
    wire_size,
)
from stepq.clock import Clock, SystemClock
from stepq.errors import QueueError, QueueNotFoundError
from stepq.runtime.ports import Blobs, Held, Message, Received

__all__ = ["SqsQueues", "default_client_config"]

_NOT_FOUND = frozenset({"AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist"})
_EXISTS = frozenset({"QueueAlreadyExists", "QueueNameExists"})
_DLQ_RETENTION = str(14 * 24 * 3600)  # the longest SQS keeps a message: time to look at it


def _attr(value: str) -> dict[str, str]:
    return {"DataType": "String", "StringValue": value}


class SqsQueues:
    """``Queues`` over an injected boto3 SQS client."""

    def __init__(
        self,
        client: Any,
        prefix: str = "stepq",
        *,
        clock: Clock | None = None,
        batch_attempts: int = 4,
        blobs: Blobs | None = None,
        claim_threshold: int = DEFAULT_CLAIM_THRESHOLD,
    ) -> None:
        self._client = client
        self._prefix = prefix
        self._clock = clock or SystemClock()  # only used to back off between batch retries
        self._attempts = max(1, batch_attempts)
        self._urls: dict[str, str] = {}
        self._claims = ClaimCheck(blobs, claim_threshold)

    # --- names -------------------------------------------------------------

    def physical_name(self, name: str) -> str:
        return f"{self._prefix}-{name}" if self._prefix else name

    def url(self, name: str) -> str:
        """The queue URL, resolved once and cached."""
        cached = self._urls.get(name)
        if cached is not None:
            return cached
        with self._mapped("resolve", name):
            url = self._client.get_queue_url(QueueName=self.physical_name(name))["QueueUrl"]
        self._urls[name] = url
        return url

    # --- setup -------------------------------------------------------------

    def ensure(
        self,
        name: str,
        dlq: bool = True,
        max_receives: int = 5,
        visibility_timeout: int = 60,
    ) -> str:
        """Create ``name`` (and ``<name>-dlq`` with a RedrivePolicy); safe to repeat.

        An existing queue gets its attributes updated to these values.
        ``dlq=False`` leaves an existing RedrivePolicy in place.
        """
        check_queue_settings(max_receives, visibility_timeout)
        fifo = {"FifoQueue": "true"} if is_fifo(name) else {}
        attributes = {"VisibilityTimeout": str(visibility_timeout), **fifo}
        if dlq:
            dead = dlq_name(name)
            dead_url = self._create(dead, {"MessageRetentionPeriod": _DLQ_RETENTION, **fifo})
            with self._mapped("read attributes of", dead):
                arn = self._client.get_queue_attributes(
                    QueueUrl=dead_url, AttributeNames=["QueueArn"]
                )["Attributes"]["QueueArn"]
            attributes["RedrivePolicy"] = json.dumps(
                {"deadLetterTargetArn": arn, "maxReceiveCount": str(max_receives)}
            )
        return self._create(name, attributes)

    def _create(self, name: str, attributes: dict[str, str]) -> str:
        physical = self.physical_name(name)
        try:
            url = self._client.create_queue(QueueName=physical, Attributes=attributes)["QueueUrl"]
        except ClientError as exc:
            if error_code(exc) not in _EXISTS:
                raise _to_queue_error("create", name, exc) from exc
            # Same name, other attributes: converge instead of failing.
            url = self.url(name)
            mutable = {k: v for k, v in attributes.items() if k != "FifoQueue"}
            with self._mapped("update attributes of", name):
                self._client.set_queue_attributes(QueueUrl=url, Attributes=mutable)
        except BotoCoreError as exc:
            raise QueueError(f"create {name!r} failed: {exc}") from exc
        self._urls[name] = url
        return url

    # --- the port ----------------------------------------------------------

    def send(self, queue: str, messages: list[Message]) -> None:
        """Send in batches of <= 10 entries and <= 256 KiB; all-or-error per call.

        Every message is validated before anything is sent (ValueError;
        ``MessageTooLargeError`` for one over SQS's limit without blobs). Bodies
        over the claim threshold are put in the blob store, then pointers sent.
        Entries SQS fails transiently are retried; what still fails raises
        ``QueueError`` (messages of earlier batches have been sent by then,
        which is fine: consumers drop duplicates by ``stepq-id``).
        """
        if not messages:
            return
        fifo = is_fifo(queue)
        wires = self._claims.encode(queue, messages)
        check_fifo_delays(queue, messages)
        url = self.url(queue)  # a missing queue fails before any body is stored
        wires = self._claims.check_in(queue, wires)
        entries: list[dict[str, Any]] = []
        for message, wire, entry_id in zip(
            messages, wires, unique_entry_ids([m.id for m in messages]), strict=True
        ):
            entry: dict[str, Any] = {
                "Id": entry_id,
                "MessageBody": wire.text,
                "MessageAttributes": {k: _attr(v) for k, v in wire.attributes.items()},
            }
            if fifo:
                entry["MessageGroupId"] = message.group or "default"
                entry["MessageDeduplicationId"] = _dedup_id(message.id)
            else:
                entry["DelaySeconds"] = message.delay_seconds
                if message.group:
                    entry["MessageGroupId"] = message.group
            entries.append(entry)
        for batch in plan_batches([w.size for w in wires]):
            chunk = [entries[i] for i in batch]
            self._batch("send to", queue, chunk, self._client.send_message_batch, url)

    def receive(self, queue: str, max_messages: int = 10, wait_seconds: int = 0) -> list[Received]:
        count, wait = clamp_receive(max_messages, wait_seconds)
        url = self.url(queue)
        with self._mapped("receive from", queue):
            reply = self._client.receive_message(
                QueueUrl=url,
                MaxNumberOfMessages=count,
                WaitTimeSeconds=wait,
                MessageSystemAttributeNames=["ApproximateReceiveCount"],
                MessageAttributeNames=[ID_ATTRIBUTE],
            )
        received = [_received(m) for m in reply.get("Messages", [])]
        return self._claims.open_all(queue, received)

    def resolve(self, received: Received) -> Received:
        """``received`` with a claim-checked body fetched back (e.g. one built from a
        Lambda SQS record); others unchanged. Body None when the blob is gone;
        ``ClaimCheckError`` when the blob store fails just now."""
        return self._claims.open(received)

    def delete(self, queue: str, receipts: list[str]) -> None:
        if not receipts:
            return
        url = self.url(queue)
        for start in range(0, len(receipts), MAX_BATCH_ENTRIES):
            chunk = receipts[start : start + MAX_BATCH_ENTRIES]
            entries = [{"Id": str(i), "ReceiptHandle": r} for i, r in enumerate(chunk)]
            self._batch("delete from", queue, entries, self._client.delete_message_batch, url)

    def change_visibility(self, queue: str, receipt: str, seconds: int) -> None:
        """Keep the in-flight message of ``receipt`` invisible ``seconds`` from now
        (0: visible at once). ValueError outside 0..43200 before any request;
        ``QueueError`` for an expired or invalid receipt."""
        check_visibility(seconds)
        url = self.url(queue)
        with self._mapped("change visibility in", queue):
            self._client.change_message_visibility(
                QueueUrl=url, ReceiptHandle=receipt, VisibilityTimeout=seconds
            )

    def dead_letter(self, queue: str, received: Received, reason: str) -> None:
        """Copy the raw body to ``<queue>-dlq`` with ``stepq-reason``, then delete it here.

        A claim-checked message keeps its pointer (the blob stays); when its body
        could not be read, the reason says why. Send first, delete second: a
        crash in between leaves a duplicate, never a loss.
        """
        dead = dlq_name(queue)
        text, attributes = dead_letter_entry(
            received, self._claims.dead_letter_reason(received, reason)
        )
        request: dict[str, Any] = {
            "QueueUrl": self.url(dead),
            "MessageBody": text,
            "MessageAttributes": {k: _attr(v) for k, v in attributes.items()},
        }
        if is_fifo(dead):
            request["MessageGroupId"] = "dead-letter"
            request["MessageDeduplicationId"] = _dedup_id(received.receipt)
        with self._mapped("dead-letter to", dead):
            self._client.send_message(**request)
        self.delete(queue, [received.receipt])

    def depth(self, queue: str) -> int:
        """Messages held, visible or not (SQS's approximate counts; exact on moto)."""
        names = [
            "ApproximateNumberOfMessages",
            "ApproximateNumberOfMessagesNotVisible",
            "ApproximateNumberOfMessagesDelayed",
        ]
        url = self.url(queue)
        with self._mapped("read attributes of", queue):
            found = self._client.get_queue_attributes(QueueUrl=url, AttributeNames=names)
        return sum(int(found.get("Attributes", {}).get(n, 0)) for n in names)

    # --- QueueAdmin: the operator tools --------------------------------------

    def queue_names(self) -> list[str]:
        """The logical names of the queues under this prefix (ListQueues, page by page)."""
        head = f"{self._prefix}-" if self._prefix else ""
        names: list[str] = []
        params: dict[str, Any] = {"MaxResults": 1000}
        if head:
            params["QueueNamePrefix"] = head
        while True:
            with self._mapped("list", head + "*"):
                reply = self._client.list_queues(**params)
            for url in reply.get("QueueUrls", []):
                physical = url.rstrip("/").rsplit("/", 1)[-1]
                if physical.startswith(head):
                    names.append(physical[len(head) :])
            token = reply.get("NextToken")
            if not token:
                return sorted(names)
            params["NextToken"] = token

    def hold(self, queue: str, max_messages: int = 10, seconds: int = 60) -> list[Held]:
        """Receive up to ``max_messages``, invisible for ``seconds``, with every attribute
        and the send time; bodies raw (a claim-check pointer is not followed)."""
        count, _ = clamp_receive(max_messages, 0)
        check_visibility(seconds)
        url = self.url(queue)
        with self._mapped("receive from", queue):
            reply = self._client.receive_message(
                QueueUrl=url,
                MaxNumberOfMessages=count,
                WaitTimeSeconds=0,
                VisibilityTimeout=seconds,
                MessageSystemAttributeNames=["ApproximateReceiveCount", "SentTimestamp"],
                MessageAttributeNames=["All"],
            )
        return [_held(m) for m in reply.get("Messages", [])]

    def send_raw(self, queue: str, text: str, attributes: dict[str, str] | None = None) -> None:
        """Send ``text`` unchanged with string ``attributes`` (a message moved between
        queues keeps its MAC and its ``stepq-id``, so a copy that arrived twice is
        dropped as a duplicate)."""
        attributes = dict(attributes or {})
        if wire_size(text, attributes) > MAX_BATCH_BYTES:
            raise too_large(attributes.get(ID_ATTRIBUTE, "?"), wire_size(text, attributes), queue)
        request: dict[str, Any] = {
            "QueueUrl": self.url(queue),
            "MessageBody": text or "(empty)",  # SQS refuses empty bodies
            "MessageAttributes": {k: _attr(v) for k, v in attributes.items() if v},
        }
        if is_fifo(queue):
            request["MessageGroupId"] = "redrive"
            request["MessageDeduplicationId"] = _dedup_id(attributes.get(ID_ATTRIBUTE) or text)
        with self._mapped("send to", queue):
            self._client.send_message(**request)

    # --- helpers -----------------------------------------------------------

    def _batch(
        self,
        action: str,
        queue: str,
        entries: list[dict[str, Any]],
        call: Callable[..., dict[str, Any]],
        url: str,
    ) -> None:
        """One batch call; entries failing on SQS's side are retried with backoff."""
        pending = entries
        failed: list[dict[str, Any]] = []
        for attempt in range(self._attempts):
            if attempt:
                self._clock.sleep(min(2.0, 0.05 * 2**attempt))
            with self._mapped(action, queue):
                reply = call(QueueUrl=url, Entries=pending)
            failed = reply.get("Failed") or []
            if not failed:
                return
            ours = [f for f in failed if f.get("SenderFault")]
            if ours:
                raise QueueError(f"{action} {queue!r}: {_describe(ours)}", ours[0].get("Code", ""))
            by_id = {e["Id"]: e for e in pending}
            pending = [by_id[f["Id"]] for f in failed if f["Id"] in by_id]
        raise QueueError(
            f"{action} {queue!r}: {len(failed)} entries still failing after {self._attempts} attempts: {_describe(failed)}",
            failed[0].get("Code", ""),
        )

    @contextmanager
    def _mapped(self, action: str, queue: str) -> Iterator[None]:
        try:
            yield
        except ClientError as exc:
            if error_code(exc) in _NOT_FOUND:
                self._urls.pop(queue, None)
            raise _to_queue_error(action, queue, exc) from exc
        except BotoCoreError as exc:
            raise QueueError(f"{action} {queue!r} failed: {exc}") from exc


def _to_queue_error(action: str, queue: str, exc: ClientError) -> QueueError:
    code = error_code(exc)
    if code in _NOT_FOUND:
        return QueueNotFoundError(f"{action} {queue!r}: the queue does not exist", code)
    return QueueError(f"{action} {queue!r} failed: {code}: {error_message(exc)}", code)


def _describe(failed: list[dict[str, Any]]) -> str:
    return "; ".join(f"{f.get('Id')}: {f.get('Code')} {f.get('Message', '')}" for f in failed[:3])


def _dedup_id(value: str) -> str:
    # MessageDeduplicationId: <= 128 chars of a restricted set; a digest always fits.
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


def _held(message: dict[str, Any]) -> Held:
    attributes = {
        name: value["StringValue"]
        for name, value in (message.get("MessageAttributes") or {}).items()
        if "StringValue" in value
    }
    system = message.get("Attributes") or {}
    sent_ms = int(system.get("SentTimestamp", "0"))
    return Held(
        raw=message.get("Body", ""),
        attributes=attributes,
        receipt=message["ReceiptHandle"],
        receive_count=int(system.get("ApproximateReceiveCount", "1")),
        message_id=attributes.get(ID_ATTRIBUTE) or message["MessageId"],
        sent_at=datetime.fromtimestamp(sent_ms / 1000, UTC).isoformat(),
    )


def _received(message: dict[str, Any]) -> Received:
    raw = message.get("Body", "")
    attributes = message.get("MessageAttributes") or {}
    stepq_id = (attributes.get(ID_ATTRIBUTE) or {}).get("StringValue")
    count = (message.get("Attributes") or {}).get("ApproximateReceiveCount", "1")
    return Received(
        body=parse_body(raw),
        raw=raw,
        receipt=message["ReceiptHandle"],
        receive_count=int(count),
        message_id=stepq_id or message["MessageId"],
    )

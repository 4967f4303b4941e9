"""The ``Queues`` port in process: the reference backend for tests and local runs.

CONTRACT (others code against these signatures):

    MemoryQueues(clock=None, *, blobs=None, claim_threshold=DEFAULT_CLAIM_THRESHOLD)
        .ensure(name, dlq=True, max_receives=5, visibility_timeout=60) -> str  # the name
        .send(queue, messages) -> None
        .receive(queue, max_messages=10, wait_seconds=0) -> list[Received]
        .delete(queue, receipts) -> None
        .dead_letter(queue, received, reason) -> None
        .change_visibility(queue, receipt, seconds) -> None  # 0..43200 s from now
        .resolve(received) -> Received                     # open a claim-check pointer
        .send_raw(queue, text, attributes=None) -> None     # a foreign producer's message
        .peek(queue) -> list[tuple[str, dict[str, str]]]   # raw bodies + attributes, for tests
        .depth(queue) -> int                               # messages held, visible or not
        .queue_names() -> list[str]                        # QueueAdmin: the queues that exist
        .hold(queue, max_messages=10, seconds=60) -> list[Held]  # QueueAdmin: receive, raw

SQS semantics simulated against an injectable ``Clock``: delays, visibility
timeouts, receive counts, and a redrive to ``<queue>-dlq`` on the receive
after ``max_receives`` deliveries, and (for ``.fifo`` names) SQS's
five-minute deduplication by message id. Sends are validated exactly as
``SqsQueues`` validates them (shared ``queue_wire``), and with ``blobs``
large bodies go by claim check as they do there (``queue_wire.ClaimCheck``).

Long polling: with a ``SystemClock`` an empty ``receive`` waits (up to
``wait_seconds``) for a send from another thread or a delayed message to
come due. With any other clock (``ManualClock``) it never moves time: the
caller who owns the clock decides when time passes, so it returns at once.
"""

from __future__ import annotations

import itertools
import threading
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from stepq.backends.queue_wire import (
    DEFAULT_CLAIM_THRESHOLD,
    ID_ATTRIBUTE,
    ClaimCheck,
    check_fifo_delays,
    check_queue_settings,
    check_visibility,
    clamp_receive,
    dead_letter_entry,
    dlq_name,
    is_fifo,
    parse_body,
)
from stepq.clock import Clock, SystemClock
from stepq.errors import QueueError, QueueNotFoundError
from stepq.runtime.ports import Blobs, Held, Message, Received

__all__ = ["MemoryQueues"]

_DEDUP_WINDOW = timedelta(minutes=5)


@dataclass(slots=True)
class _Stored:
    sqs_id: str
    raw: str
    attributes: dict[str, str]
    visible_at: datetime
    receive_count: int = 0
    receipt: str | None = None  # the current receipt; older ones no longer delete
    sent_at: datetime | None = None  # first sent; a redrive to the DLQ keeps it, as SQS does


@dataclass(slots=True)
class _Queue:
    visibility_timeout: int
    dlq: str | None
    max_receives: int
    messages: deque[_Stored] = field(default_factory=deque)
    dedup: dict[str, datetime] = field(default_factory=dict)  # FIFO: message id -> window end


class MemoryQueues:
    """In-process ``Queues``; thread-safe."""

    def __init__(
        self,
        clock: Clock | None = None,
        *,
        blobs: Blobs | None = None,
        claim_threshold: int = DEFAULT_CLAIM_THRESHOLD,
    ) -> None:
        self._clock = clock or SystemClock()
        self._claims = ClaimCheck(blobs, claim_threshold)
        self._queues: dict[str, _Queue] = {}
        self._ids = itertools.count(1)
        self._serial = 0  # the last receipt serial handed out
        self._cond = threading.Condition()

    def ensure(
        self,
        name: str,
        dlq: bool = True,
        max_receives: int = 5,
        visibility_timeout: int = 60,
    ) -> str:
        check_queue_settings(max_receives, visibility_timeout)
        with self._cond:
            dead = None
            if dlq:
                dead = dlq_name(name)
                self._upsert(dead, _Queue(visibility_timeout=30, dlq=None, max_receives=1))
            elif name in self._queues:
                dead = self._queues[name].dlq  # as SQS: dlq=False keeps an existing policy
            self._upsert(name, _Queue(visibility_timeout, dead, max_receives))
        return name

    def _upsert(self, name: str, settings: _Queue) -> None:
        existing = self._queues.get(name)
        if existing is None:
            self._queues[name] = settings
        else:
            existing.visibility_timeout = settings.visibility_timeout
            existing.dlq = settings.dlq or existing.dlq
            existing.max_receives = settings.max_receives

    # --- the port ----------------------------------------------------------

    def send(self, queue: str, messages: list[Message]) -> None:
        wires = self._claims.encode(queue, messages)  # validate all before sending any
        check_fifo_delays(queue, messages)
        fifo = is_fifo(queue)
        with self._cond:
            self._queue(queue)  # a missing queue fails before any body is stored
        wires = self._claims.check_in(queue, wires)  # blob puts, outside the lock
        with self._cond:
            q = self._queue(queue)
            now = self._clock.now()
            if fifo:
                q.dedup = {k: until for k, until in q.dedup.items() if until > now}
            for message, wire in zip(messages, wires, strict=True):
                if fifo and not self._first_in_window(q, message.id, now):
                    continue  # SQS accepts the send and drops the copy
                visible = now + timedelta(seconds=message.delay_seconds)
                stored = _Stored(self._next_id(), wire.text, wire.attributes, visible, sent_at=now)
                q.messages.append(stored)
            self._cond.notify_all()

    def send_raw(self, queue: str, text: str, attributes: dict[str, str] | None = None) -> None:
        """Enqueue ``text`` as is, as a producer that is not stepq might (tests, tooling)."""
        with self._cond:
            q = self._queue(queue)
            now = self._clock.now()
            q.messages.append(
                _Stored(self._next_id(), text, dict(attributes or {}), now, sent_at=now)
            )
            self._cond.notify_all()

    def receive(self, queue: str, max_messages: int = 10, wait_seconds: int = 0) -> list[Received]:
        count, wait = clamp_receive(max_messages, wait_seconds)
        with self._cond:
            q = self._queue(queue)
            deadline = self._clock.now() + timedelta(seconds=wait)
            while True:
                out = [_received(m) for m in self._take(queue, q, count, q.visibility_timeout)]
                now = self._clock.now()
                if out or now >= deadline or not isinstance(self._clock, SystemClock):
                    break
                due = min((m.visible_at for m in q.messages), default=deadline)
                self._cond.wait(timeout=max(0.001, (min(due, deadline) - now).total_seconds()))
        return self._claims.open_all(queue, out)  # blob reads outside the lock

    def resolve(self, received: Received) -> Received:
        """``received`` with a claim-checked body fetched back; others unchanged."""
        return self._claims.open(received)

    def delete(self, queue: str, receipts: list[str]) -> None:
        with self._cond:
            q = self._queue(queue)
            for receipt in receipts:
                if not self._issued_by(queue, receipt):
                    raise QueueError(
                        f"delete from {queue!r}: the receipt handle is not valid",
                        "ReceiptHandleIsInvalid",
                    )
            gone = set(receipts)
            # A stale receipt (the message was received again since) deletes nothing, as in SQS.
            q.messages = deque(m for m in q.messages if m.receipt not in gone)

    def change_visibility(self, queue: str, receipt: str, seconds: int) -> None:
        """The in-flight message of ``receipt`` stays invisible until now + ``seconds``
        (0: visible at once), as SQS's ChangeMessageVisibility. ValueError outside
        0..43200; ``QueueError`` for a receipt that is not the message's current one
        (garbage, deleted, or received again since) or whose message is visible again."""
        check_visibility(seconds)
        with self._cond:
            q = self._queue(queue)
            now = self._clock.now()
            found = None
            if receipt and self._issued_by(queue, receipt):
                found = next((m for m in q.messages if m.receipt == receipt), None)
            if found is None or found.visible_at <= now:
                raise QueueError(
                    f"change visibility in {queue!r}: the receipt handle is not valid "
                    "(the message is gone or no longer in flight)",
                    "ReceiptHandleIsInvalid" if found is None else "MessageNotInflight",
                )
            found.visible_at = now + timedelta(seconds=seconds)
            if seconds == 0:
                self._cond.notify_all()

    def dead_letter(self, queue: str, received: Received, reason: str) -> None:
        raw, attributes = dead_letter_entry(
            received, self._claims.dead_letter_reason(received, reason)
        )
        with self._cond:  # one critical section: no window for a loss or a duplicate
            dead = self._queue(dlq_name(queue))
            self.delete(queue, [received.receipt])
            now = self._clock.now()
            dead.messages.append(_Stored(self._next_id(), raw, attributes, now, sent_at=now))

    # --- for tests and tooling ---------------------------------------------

    def peek(self, queue: str) -> list[tuple[str, dict[str, str]]]:
        """Raw bodies and attributes of every held message, without receiving them."""
        with self._cond:
            return [(m.raw, dict(m.attributes)) for m in self._queue(queue).messages]

    def depth(self, queue: str) -> int:
        with self._cond:
            return len(self._queue(queue).messages)

    # --- QueueAdmin: the operator tools ------------------------------------

    def queue_names(self) -> list[str]:
        with self._cond:
            return sorted(self._queues)

    def hold(self, queue: str, max_messages: int = 10, seconds: int = 60) -> list[Held]:
        """A receive that keeps what it got invisible ``seconds`` and shows it raw."""
        count, _ = clamp_receive(max_messages, 0)
        check_visibility(seconds)
        with self._cond:
            q = self._queue(queue)
            taken = self._take(queue, q, count, seconds)
            return [_held(m) for m in taken]

    # --- helpers -----------------------------------------------------------

    def _queue(self, name: str) -> _Queue:
        q = self._queues.get(name)
        if q is None:
            raise QueueNotFoundError(
                f"queue {name!r} does not exist (call ensure first)",
                "AWS.SimpleQueueService.NonExistentQueue",
            )
        return q

    def _next_id(self) -> str:
        return f"m-{next(self._ids):08d}"

    @staticmethod
    def _first_in_window(q: _Queue, message_id: str, now: datetime) -> bool:
        if message_id in q.dedup:  # expired entries were pruned by the caller
            return False
        q.dedup[message_id] = now + _DEDUP_WINDOW
        return True

    def _issued_by(self, queue: str, receipt: str) -> bool:
        # Receipts name their queue and serial, so checking one needs no table of them.
        parts = receipt.rsplit("|", 2)
        return (
            len(parts) == 3
            and parts[0] == queue
            and parts[2].isdigit()
            and int(parts[2]) <= self._serial
        )

    def _take(self, name: str, q: _Queue, count: int, seconds: int) -> list[_Stored]:
        now = self._clock.now()
        out: list[_Stored] = []
        redrive: list[_Stored] = []
        for m in q.messages:
            if len(out) >= count:
                break
            if m.visible_at > now:
                continue
            # SQS moves a message on the receive *after* its last allowed delivery.
            if q.dlq is not None and m.receive_count >= q.max_receives:
                redrive.append(m)
                continue
            m.receive_count += 1
            self._serial = next(self._ids)
            m.receipt = f"{name}|{m.sqs_id}|{self._serial}"
            m.visible_at = now + timedelta(seconds=seconds)
            out.append(m)
        if redrive:
            dead = self._queues.get(q.dlq or "")
            for m in redrive:
                q.messages.remove(m)
                if dead is not None:  # a dropped DLQ loses the message, as SQS would
                    m.receipt, m.visible_at = None, now
                    dead.messages.append(m)
        return out


def _held(m: _Stored) -> Held:
    sent = m.sent_at or m.visible_at
    return Held(
        raw=m.raw,
        attributes=dict(m.attributes),
        receipt=m.receipt or "",
        receive_count=m.receive_count,
        message_id=m.attributes.get(ID_ATTRIBUTE) or m.sqs_id,
        sent_at=sent.astimezone(UTC).isoformat(),
    )


def _received(m: _Stored) -> Received:
    return Received(
        body=parse_body(m.raw),
        raw=m.raw,
        receipt=m.receipt or "",
        receive_count=m.receive_count,
        message_id=m.attributes.get(ID_ATTRIBUTE) or m.sqs_id,
    )

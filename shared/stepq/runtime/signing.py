"""Authentication: only the runtime's own parts can move an execution.

One signing key per deployment lives in the table (``Store.signing_key``);
nothing outside the table ever holds it. Two keys are derived from it:

- the **message key**: every body the runtime sends on a stepq queue carries
  ``"mac"``, an HMAC-SHA256 (128 bits) over its wire text and its channel
  (the events queue or a task queue), so a body copied to another kind of
  queue, forged, or tampered with (a carried snapshot, a claim-check object)
  does not verify. ``SignedQueues`` signs every send: it is the one door
  out, installed by each role over the queues it is given. The consumers
  (orchestrator, worker, the dead-letter sweeper) check ``Keys.verify``
  before anything is applied or any step runs; a body that fails is
  dead-lettered with ``UNAUTHENTICATED`` and never fails its execution.
- each execution's **token secret**: HMAC(key, "token|" + execution ARN).
  It is derived again whenever the execution is loaded and never written
  into a snapshot, so neither task messages, dead-letter copies nor
  claim-check objects hold it.

What a reader of the queues can still do: see the bodies (task inputs,
outstanding callback tokens, as Step Functions hands them to the task) and
send an authentic body again (its deterministic id and the core's
stale-event rules make a repeat a duplicate delivery).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from stepq.runtime.messages import EVENTS_QUEUE
from stepq.runtime.ports import Message, Queues, Received, Store

MAC_FIELD = "mac"
MAC_BYTES = 16  # 128 bits
UNAUTHENTICATED = "unauthenticated: bad or missing signature"
DEFECT = "unauthenticated"  # RuntimeConfig.defects: skip verification (tests only)

_MESSAGE_LABEL = b"stepq-message-key/v1"
_TOKEN_LABEL = b"token|"
_MAC_CHARS = (MAC_BYTES * 8 + 5) // 6


def channel(queue: str) -> bytes:
    """What a MAC binds besides the body: which kind of queue it was sent to.

    A dead-letter queue is named after its source (``<queue>-dlq``); its
    messages keep the source's channel, so callers pass the source name.
    """
    return b"events\n" if queue == EVENTS_QUEUE else b"tasks\n"


def _text(body: dict[str, Any], *, allow_nan: bool = True) -> str:
    # The wire encoding (backends/queue_wire.encode_body): what a receiver parses
    # back into an equal dict, so re-encoding it gives the same text.
    return json.dumps(body, separators=(",", ":"), ensure_ascii=True, allow_nan=allow_nan)


def _with_mac(text: str, mac: str) -> str:
    """The wire text of the signed body: ``text``'s object with ``"mac"`` last."""
    field = f'"{MAC_FIELD}":"{mac}"}}'
    return text[:-1] + ("," if text != "{}" else "") + field


class SignedBody(dict[str, Any]):
    """A signed body that knows its wire text (``wire``), so the queue backend
    does not serialise it a second time (``queue_wire.encode_body``)."""

    __slots__ = ("wire",)

    def __init__(self, fields: dict[str, Any], wire: str | None) -> None:
        super().__init__(fields)
        self.wire = wire


class Keys:
    """The keys derived from one table's signing key, fetched on first use."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._lock = threading.Lock()
        self._message_key: bytes | None = None
        self._root: bytes | None = None

    def _keys(self) -> tuple[bytes, bytes]:
        if self._root is None or self._message_key is None:
            with self._lock:
                if self._root is None:
                    root = self._store.signing_key()
                    self._message_key = hmac.new(root, _MESSAGE_LABEL, hashlib.sha256).digest()
                    self._root = root
        assert self._root is not None and self._message_key is not None
        return self._root, self._message_key

    # --- task tokens -----------------------------------------------------------

    def token_secret(self, execution_arn: str) -> str:
        """The key of this execution's task tokens (``ExecutionMeta.token_secret``)."""
        root, _ = self._keys()
        digest = hmac.new(root, _TOKEN_LABEL + execution_arn.encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest[:24]).decode("ascii")

    # --- message bodies ----------------------------------------------------------

    def _mac(self, queue: str, text: str) -> str:
        _, key = self._keys()
        digest = hmac.new(key, channel(queue) + text.encode("ascii"), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest[:MAC_BYTES]).decode("ascii").rstrip("=")

    def _matches(self, queue: str, text: str, mac: str) -> bool:
        expected = self._mac(queue, text)
        return hmac.compare_digest(expected.encode("ascii"), mac.encode("ascii", "replace"))

    def sign(self, queue: str, body: dict[str, Any]) -> SignedBody:
        """``body`` with its MAC for ``queue`` (any MAC it had is replaced)."""
        unsigned = {k: v for k, v in body.items() if k != MAC_FIELD}
        try:
            text, sendable = _text(unsigned, allow_nan=False), True
        except ValueError:  # NaN: the queue refuses it on send; still signable (tests)
            text, sendable = _text(unsigned), False
        mac = self._mac(queue, text)
        signed = SignedBody(unsigned, _with_mac(text, mac) if sendable else None)
        signed[MAC_FIELD] = mac
        return signed

    def verify(self, queue: str, body: Any) -> bool:
        """Whether ``body`` (as received from ``queue``, or its dead-letter queue) is
        one the runtime sent there. Never raises."""
        mac = _mac_of(body)
        if mac is None:
            return False
        unsigned = {k: v for k, v in body.items() if k != MAC_FIELD}
        try:
            text = _text(unsigned)
        except (ValueError, TypeError, RecursionError):  # not something the runtime sends
            return False
        return self._matches(queue, text, mac)

    def authentic(self, queue: str, received: Received) -> bool:
        """``verify`` for a received message, on its raw text when that is the body's
        own wire text (no second serialisation); else (a claim-checked body, one
        built elsewhere) on the body itself."""
        mac = _mac_of(received.body)
        if mac is None:
            return False
        tail = f',"{MAC_FIELD}":"{mac}"}}'
        raw = received.raw
        # A claim-check pointer never ends so (it has one key), so ``raw`` is the
        # text ``body`` was parsed from: checking it checks the body.
        if raw.endswith(tail) and self._matches(queue, raw[: -len(tail)] + "}", mac):
            return True
        return self.verify(queue, received.body)


def _mac_of(body: Any) -> str | None:
    mac = body.get(MAC_FIELD) if isinstance(body, dict) else None
    return mac if isinstance(mac, str) and len(mac) == _MAC_CHARS else None


class SignedQueues:
    """The ``Queues`` port, signing every body it sends; everything else is the
    wrapped queues' (``ensure``, ``resolve``, ... reach them too)."""

    def __init__(self, queues: Queues, keys: Keys) -> None:
        self.inner = queues
        self.keys = keys

    def send(self, queue: str, messages: list[Message]) -> None:
        signed = [replace(m, body=self.keys.sign(queue, m.body)) for m in messages]
        self.inner.send(queue, signed)

    def receive(self, queue: str, max_messages: int = 10, wait_seconds: int = 0) -> list[Received]:
        return self.inner.receive(queue, max_messages, wait_seconds)

    def delete(self, queue: str, receipts: list[str]) -> None:
        self.inner.delete(queue, receipts)

    def dead_letter(self, queue: str, received: Received, reason: str) -> None:
        self.inner.dead_letter(queue, received, reason)

    def change_visibility(self, queue: str, receipt: str, seconds: int) -> None:
        self.inner.change_visibility(queue, receipt, seconds)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def signed(queues: Queues, store: Store) -> SignedQueues:
    """``queues`` signing with ``store``'s key (as they are, when they sign already)."""
    if isinstance(queues, SignedQueues):
        return queues
    return SignedQueues(queues, Keys(store))


def keys_of(queues: Queues, store: Store) -> Keys:
    """The keys ``queues`` sign with, so a role verifies with what it signs with."""
    return signed(queues, store).keys


def authentic_only(
    keys: Keys, queue: str, dead: Sequence[tuple[Received, str]]
) -> list[tuple[Received, str]]:
    """The dead-lettered messages the runtime did send (only those may fail anything)."""
    return [(r, reason) for r, reason in dead if keys.authentic(queue, r)]

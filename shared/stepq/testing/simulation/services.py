"""The simulated services: DynamoDB's and SQS's limits, and faults at every call.

``LimitedStore`` adds to ``MemoryStore`` the limits it does not enforce
(400 KB items, 1 MB query pages). ``FaultyStore`` and ``FaultyQueues`` sit
in front of the runtime's ports: they record every call in the trace, make
calls fail as the real adapters do (``StoreError``/``QueueError``) during
outages and throttling, crash the calling role around commits, sends and
deletes, duplicate sends and reorder receives.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from stepq.backends.memory.blobs import MemoryBlobs
from stepq.backends.memory.queues import MemoryQueues
from stepq.backends.memory.store import MemoryStore, _copy
from stepq.clock import ManualClock
from stepq.errors import QueueError, StoreError
from stepq.runtime.ports import Commit, ExecutionHeader, Message, Received
from stepq.testing.simulation.faults import Faults

MAX_ITEM_BYTES = 400 * 1024  # DynamoDB's item size limit
MAX_PAGE_BYTES = 1024 * 1024  # one Query page


class Trace:
    """A running hash of every choice and I/O call: equal hashes, equal runs."""

    def __init__(self) -> None:
        self._hash = hashlib.blake2b(digest_size=16)
        self.calls = 0

    def note(self, *parts: object) -> None:
        self.calls += 1
        self._hash.update("|".join(map(str, parts)).encode("utf-8", "backslashreplace") + b"\n")

    def digest(self) -> str:
        return self._hash.hexdigest()


def _size(value: Any) -> int:
    return len(json.dumps(value, separators=(",", ":")).encode("utf-8"))


def commit_size(commit: Commit) -> int:
    return _size([commit.snapshot, commit.events, commit.commands, commit.cause_id])


class LimitedStore(MemoryStore):
    """``MemoryStore`` with DynamoDB's limits. ``offload``: large attributes go to a
    blob store, as the DynamoDB store does when it has one (no item limit then)."""

    def __init__(self, clock: ManualClock, *, offload: bool) -> None:
        # With ``offload`` the memory store lifts its own item limit (a blob store).
        super().__init__(clock=clock, blobs=MemoryBlobs() if offload else None)
        self.offload = offload
        self._sizes: dict[tuple[str, int], int] = {}  # (execution, seq) -> item bytes

    def _check(self, execution_id: str, size: int) -> None:
        if not self.offload and size > MAX_ITEM_BYTES:
            # What the DynamoDB adapter turns a ValidationException into.
            raise StoreError(
                f"{execution_id}: DynamoDB ValidationException: Item size has exceeded "
                f"the maximum allowed size ({size} bytes)"
            )

    def create_execution(self, header: ExecutionHeader, first: Commit) -> None:
        size = commit_size(first) + _size(header.input)
        self._check(header.execution_id, size)
        super().create_execution(header, first)
        self._sizes.setdefault((header.execution_id, first.seq), size)

    def append(self, execution_id: str, commit: Commit) -> None:
        size = commit_size(commit)
        self._check(execution_id, size)
        super().append(execution_id, commit)
        self._sizes.setdefault((execution_id, commit.seq), size)

    def recent(self, execution_id: str, limit: int, before: int | None = None) -> list[Commit]:
        """One Query page: at most 1 MB of items (a caller wanting more asks again
        with ``before``, as the DynamoDB store follows LastEvaluatedKey).

        For speed the snapshots are shared, not copied: the applier only reads
        a redelivered message's commit (its causes and commands), which are copied.
        """
        with self._lock:
            commits = self._commits.get(execution_id, {})
            page, total = [], 0
            older = [seq for seq in commits if before is None or seq < before]
            for seq in sorted(older, reverse=True)[: max(1, limit)]:
                total += self._sizes.get((execution_id, seq), 0)
                if page and total > MAX_PAGE_BYTES:
                    break
                stored = commits[seq]
                page.append(
                    replace(stored, events=list(stored.events), commands=_copy(stored.commands))
                )
            return page


class FaultyStore:
    """The store as the roles see it: traced, failing, crashing around commits."""

    def __init__(
        self, inner: LimitedStore, faults: Faults, trace: Trace, clock: ManualClock
    ) -> None:
        self.inner = inner
        self.faults = faults
        self.trace = trace
        self.clock = clock
        # Called before a commit (the engine runs rival writers there: conflict storms).
        self.before_commit: Callable[[str], None] = lambda execution_id: None

    def _call(self, op: str, key: str, call: Callable[[], Any]) -> Any:
        self.trace.note("store", op, key)
        if self.faults.down("store", self.clock.now()):
            raise StoreError(f"{op} {key}: DynamoDB ServiceUnavailable (simulated outage)")
        if self.faults.roll("throttle"):
            raise StoreError(f"{op} {key}: DynamoDB ProvisionedThroughputExceededException")
        return call()

    def _commit(self, op: str, execution_id: str, seq: int, call: Callable[[], None]) -> None:
        self.before_commit(execution_id)
        self.faults.crash("crash_before_commit")
        self._call(op, f"{execution_id}#{seq}", call)
        self.faults.crash("crash_after_commit")

    def create_execution(self, header: ExecutionHeader, first: Commit) -> None:
        self._commit(
            "create", header.execution_id, 1, lambda: self.inner.create_execution(header, first)
        )

    def append(self, execution_id: str, commit: Commit) -> None:
        self._commit(
            "append", execution_id, commit.seq, lambda: self.inner.append(execution_id, commit)
        )

    def __getattr__(self, name: str) -> Any:
        method = getattr(self.inner, name)

        def call(*args: Any, **kwargs: Any) -> Any:
            key = str(args[0]) if args and isinstance(args[0], str) else ""
            return self._call(name, key, lambda: method(*args, **kwargs))

        return call


class FaultyQueues:
    """The queues as the roles see them: traced, failing, duplicating, reordering."""

    def __init__(
        self, inner: MemoryQueues, faults: Faults, trace: Trace, clock: ManualClock
    ) -> None:
        self.inner = inner
        self.faults = faults
        self.trace = trace
        self.clock = clock

    def _check(self, op: str, queue: str) -> None:
        if self.faults.down("queues", self.clock.now()):
            raise QueueError(
                f"{op} {queue}: SQS unreachable (simulated outage)", "ServiceUnavailable"
            )
        if self.faults.roll("throttle"):
            raise QueueError(f"{op} {queue}: Rate exceeded", "ThrottlingException")

    def send(self, queue: str, messages: list[Message]) -> None:
        self.trace.note("send", queue, *(m.id for m in messages))
        self._check("send", queue)
        copies = [m for m in messages if self.faults.roll("duplicate")]
        self.inner.send(queue, [*messages, *copies])  # at-least-once: some arrive twice
        self.faults.crash("crash_after_send")

    def receive(self, queue: str, max_messages: int = 10, wait_seconds: int = 0) -> list[Received]:
        self._check("receive", queue)
        if self.faults.roll("reorder"):
            held = self.inner._queues[queue].messages
            shuffled = list(held)
            self.faults.rng.shuffle(shuffled)
            held.clear()
            held.extend(shuffled)
        got = self.inner.receive(queue, max_messages, wait_seconds)
        self.trace.note("receive", queue, *(f"{r.message_id}#{r.receive_count}" for r in got))
        return got

    def delete(self, queue: str, receipts: list[str]) -> None:
        self.faults.crash("crash_before_delete")
        self.trace.note("delete", queue, len(receipts))
        self._check("delete", queue)
        self.inner.delete(queue, receipts)

    def dead_letter(self, queue: str, received: Received, reason: str) -> None:
        self.trace.note("dead_letter", queue, received.message_id)
        self._check("dead_letter", queue)
        self.inner.dead_letter(queue, received, reason)

    def change_visibility(self, queue: str, receipt: str, seconds: int) -> None:
        self.trace.note("change_visibility", queue, seconds)
        self._check("change_visibility", queue)
        self.inner.change_visibility(queue, receipt, seconds)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

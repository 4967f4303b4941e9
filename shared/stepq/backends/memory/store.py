"""The ``Store`` port in memory: the reference implementation for tests.

CONTRACT (others code against these signatures)::

    MemoryStore(*, clock=None, blobs=None, retention_days=None)   # ports.Store; thread-safe

Everything is copied in and out through JSON, like a real backend: a caller
can never mutate stored state, and a value that is not JSON-safe fails here
as it would in DynamoDB. A commit too large for a DynamoDB item (350 KB after
compression, as ``DynamoDBStore`` counts it) is refused as there, unless a
blob store is given (where DynamoDBStore would claim-check large values). The behaviour (ordering, errors, what a listing
returns) matches ``aws.dynamodb_store``; the contract suite runs both.
Retention too: each commit, and each document of an execution, keeps the
``expires_at`` DynamoDB's would carry, and an expired one reads as absent
(nothing is ever deleted here).
"""

from __future__ import annotations

import json
import secrets
import threading
from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime
from typing import Any

from stepq.backends import is_own_resend
from stepq.backends.aws import commit_dictionary
from stepq.backends.aws.commit_dictionary import COMPRESS_ABOVE, MAX_ITEM_BYTES
from stepq.clock import Clock, SystemClock
from stepq.errors import (
    AlreadyExistsError,
    ConflictError,
    ExecutionAlreadyExistsError,
    NotFoundError,
    StoreError,
)
from stepq.runtime import retention
from stepq.runtime.codec import sortable_instant
from stepq.runtime.ports import (
    SIGNING_KEY_BYTES,
    Blobs,
    Commit,
    Doc,
    ExecutionHeader,
    Timer,
    list_cursor,
)


def _copy(value: Any) -> Any:
    try:
        return json.loads(json.dumps(value))
    except (TypeError, ValueError) as exc:
        raise StoreError(f"value is not JSON-safe: {exc}") from exc


def _check_size(commit: Commit, header: ExecutionHeader | None) -> None:
    """Refuse a commit the DynamoDB store could not hold either (400 KB items): the
    same values, compressed the same way, against the same limit (no blob store here)."""
    body: dict[str, Any] = {"events": commit.events}
    if commit.snapshot:
        body["snapshot"] = commit.snapshot
    if commit.commands:
        body["commands"] = commit.commands
    values = [body] + ([header.input, header.output] if header is not None else [])
    size = sum(_packed_size(v) for v in values if v is not None)
    if size > MAX_ITEM_BYTES:
        raise StoreError(
            f"commit {commit.seq}: the item is {size // 1024} KB after compression, over "
            f"the {MAX_ITEM_BYTES // 1024} KB limit kept below DynamoDB's 400 KB; "
            "configure a blob store (claim check) for large values"
        )


def _packed_size(value: Any) -> int:
    try:
        raw = json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()
    except (TypeError, ValueError) as exc:
        raise StoreError(f"a value is not JSON-safe: {exc}") from exc
    if len(raw) <= COMPRESS_ABOVE:
        return len(raw)
    return min(len(raw), len(commit_dictionary.compress(raw)))


def _copy_header(header: ExecutionHeader) -> ExecutionHeader:
    return replace(header, input=_copy(header.input), output=_copy(header.output))


def _copy_commit(commit: Commit) -> Commit:
    return replace(
        commit,
        snapshot=_copy(commit.snapshot),
        events=_copy(commit.events),
        commands=_copy(commit.commands),
        outcome=None if commit.outcome is None else _copy_header(commit.outcome),
        values=_copy(commit.values),
    )


class MemoryStore:
    """``ports.Store`` on dicts under one lock."""

    def __init__(
        self,
        *,
        clock: Clock | None = None,
        blobs: Blobs | None = None,
        retention_days: int | None = None,
    ) -> None:
        self._clock = clock or SystemClock()
        self.retention_days = retention_days or None  # None or 0: nothing expires
        self._limited = blobs is None  # with a blob store, large values would go there
        self._lock = threading.Lock()
        self._machines: dict[str, list[dict[str, Any]]] = {}
        self._headers: dict[str, ExecutionHeader] = {}
        self._commits: dict[str, dict[int, Commit]] = {}
        self._expiry: dict[tuple[str, int], int] = {}  # (execution, seq) -> expires_at
        self._timers: dict[str, Timer] = {}
        self._keys: dict[str, int] = {}  # key -> expires_at (epoch seconds)
        self._signing_key: bytes | None = None
        self._docs: dict[tuple[str, str], Doc] = {}
        self._doc_expiry: dict[tuple[str, str], int] = {}  # (kind, key) -> expires_at

    # --- state machines ------------------------------------------------------

    def put_machine(self, name: str, definition: dict[str, Any]) -> int:
        stored = _copy(definition)
        with self._lock:
            versions = self._machines.setdefault(name, [])
            versions.append(stored)
            return len(versions)

    def list_machines(self) -> list[str]:
        with self._lock:
            return sorted(self._machines)

    def get_machine(self, name: str, version: int | None = None) -> tuple[dict[str, Any], int]:
        with self._lock:
            versions = self._machines.get(name)
            if not versions:
                raise NotFoundError(f"state machine {name!r} does not exist")
            number = len(versions) if version is None else version
            if not 1 <= number <= len(versions):
                raise NotFoundError(f"state machine {name!r} has no version {version}")
            return _copy(versions[number - 1]), number

    # --- documents -----------------------------------------------------------

    def get_doc(self, kind: str, key: str) -> Doc | None:
        with self._lock:
            doc = self._live_doc(kind, key)
        return None if doc is None else Doc(doc.key, _copy(doc.body), doc.rev)

    def put_doc(self, kind: str, key: str, body: dict[str, Any], expected_rev: int | None) -> int:
        if self._limited:
            size = _packed_size(body)
            if size > MAX_ITEM_BYTES:
                raise StoreError(f"document {kind}/{key} is {size // 1024} KB, over the item limit")
        stored = _copy(body)
        with self._lock:
            current = self._live_doc(kind, key)  # an expired one is overwritten, as in DynamoDB
            if expected_rev is None and current is not None:
                raise AlreadyExistsError(f"{kind} {key!r} exists already")
            if expected_rev is not None and (current is None or current.rev != expected_rev):
                raise ConflictError(f"{kind} {key!r} changed meanwhile (revision {expected_rev})")
            rev = 1 if current is None else current.rev + 1
            self._docs[(kind, key)] = Doc(key, stored, rev)
            expires = retention.doc_expires_at(kind, self._clock.now(), self.retention_days)
            self._doc_expiry.pop((kind, key), None)
            if expires is not None:
                self._doc_expiry[(kind, key)] = expires
            return rev

    def delete_doc(self, kind: str, key: str, expected_rev: int | None = None) -> None:
        with self._lock:
            current = self._live_doc(kind, key)
            if current is None:
                raise NotFoundError(f"{kind} {key!r} does not exist")
            if expected_rev is not None and current.rev != expected_rev:
                raise ConflictError(f"{kind} {key!r} changed meanwhile (revision {expected_rev})")
            del self._docs[(kind, key)]
            self._doc_expiry.pop((kind, key), None)

    def list_docs(self, kind: str, prefix: str = "") -> list[Doc]:
        with self._lock:
            found = [
                d
                for (k, key), d in self._docs.items()
                if k == kind and key.startswith(prefix) and self._live_doc(k, key) is not None
            ]
        found.sort(key=lambda d: d.key)
        return [Doc(d.key, _copy(d.body), d.rev) for d in found]

    def _live_doc(self, kind: str, key: str) -> Doc | None:
        """The document, or None when absent or expired (read as absent, as DynamoDB's
        TTL leftovers are; the lock is held)."""
        expires = self._doc_expiry.get((kind, key))
        if retention.expired(expires, self._clock.now()):
            return None
        return self._docs.get((kind, key))

    def renew_doc(self, kind: str, key: str, observed: datetime) -> bool:
        """As ``DynamoDBStore.renew_doc``: re-stamp a running execution's document."""
        if self.retention_days is None:
            return False
        with self._lock:
            old = self._doc_expiry.get((kind, key))
            if self._live_doc(kind, key) is None or old is None:
                return False
            if not retention.renewal_due(old, self._clock.now(), self.retention_days):
                return False
            stamp = retention.renewal_stamp(observed, self.retention_days)
            self._doc_expiry[(kind, key)] = max(old, stamp)
            return True

    # --- retention -----------------------------------------------------------

    def _expires(self, commit: Commit) -> int | None:
        """As ``DynamoDBStore._expires``: written + R + W, the final commit from its stop."""
        if self.retention_days is None:
            return None
        written = self._clock.now()
        stop = retention.instant_of(commit.outcome.stop_time) if commit.outcome else None
        if stop is not None and stop > written:
            written = stop
        return retention.expires_at(written, self.retention_days)

    def _stamp(self, execution_id: str, seq: int, expires: int | None) -> None:
        if expires is not None:
            self._expiry[(execution_id, seq)] = expires

    def _live(self, execution_id: str, seq: int) -> bool:
        """Whether commit ``seq`` is there and not expired (an expired one is absent
        to readers, and a new commit may take its slot: a reused name)."""
        if seq not in self._commits.get(execution_id, {}):
            return False
        return not retention.expired(self._expiry.get((execution_id, seq)), self._clock.now())

    def _newest_live(self, execution_id: str, before: int | None = None) -> list[int]:
        """The live commits' numbers below ``before``, newest first (an expired leftover
        of an old execution of the same name is skipped, as ``DynamoDBStore`` does)."""
        seqs = sorted(self._commits.get(execution_id, {}), reverse=True)
        return [s for s in seqs if (before is None or s < before) and self._live(execution_id, s)]

    def _put(self, execution_id: str, commit: Commit, expires: int | None) -> None:
        """Put ``commit`` in its slot, over an expired leftover if one is there."""
        self._commits.setdefault(execution_id, {})[commit.seq] = commit
        self._expiry.pop((execution_id, commit.seq), None)
        self._stamp(execution_id, commit.seq, expires)

    def _ended_long_ago(self, header: ExecutionHeader) -> bool:
        """As the DynamoDB store's status index tells expiry: from ``stop_time``."""
        least = retention.stopped_expiry(header.stop_time, self.retention_days)
        return retention.expired(least, self._clock.now())

    def renew_expiry(self, execution_id: str, observed: datetime) -> bool:
        """As ``DynamoDBStore.renew_expiry``: re-stamp a running execution's commits."""
        if self.retention_days is None:
            return False
        with self._lock:
            if 1 not in self._commits.get(execution_id, {}):
                return False
            first = self._expiry.get((execution_id, 1))
            if not retention.renewal_due(first, self._clock.now(), self.retention_days):
                return False
            stamp = retention.renewal_stamp(observed, self.retention_days)
            for seq in self._commits[execution_id]:
                old = self._expiry.get((execution_id, seq))
                if old is not None and self._live(execution_id, seq) and old < stamp:
                    self._expiry[(execution_id, seq)] = stamp
            return True

    # --- executions ----------------------------------------------------------

    def create_execution(self, header: ExecutionHeader, first: Commit) -> None:
        if self._limited:
            _check_size(first, header)
        stored = _copy_header(header)
        commit = _copy_commit(first)
        expires = self._expires(first)
        with self._lock:
            # Taken while its first commit is live; an expired one is overwritten.
            if self._live(header.execution_id, commit.seq):
                raise AlreadyExistsError(f"execution {header.execution_id} exists already")
            # As DynamoDBStore: only when an expired commit 1 is overwritten, refuse
            # while the old run's newest commit (it expires last) is still live.
            held = self._commits.get(header.execution_id, {})
            if commit.seq in held:
                newest = max(held)
                if newest > commit.seq and self._live(header.execution_id, newest):
                    until = self._expiry.get((header.execution_id, newest))
                    raise ExecutionAlreadyExistsError(
                        retention.held_message(header.execution_id, until)
                    )
            self._headers[header.execution_id] = stored
            self._put(header.execution_id, commit, expires)

    def _current(self, execution_id: str) -> ExecutionHeader:
        """The header as the newest commit leaves it (the DynamoDB store reads it so)."""
        header = self._headers.get(execution_id)
        live = self._newest_live(execution_id)
        # Gone once its first commit has expired (the first to expire).
        if header is None or not self._live(execution_id, 1):
            raise NotFoundError(f"execution {execution_id} does not exist")
        newest = self._commits[execution_id][live[0]]
        if newest.outcome is not None:
            return replace(_copy_header(newest.outcome), input=_copy(header.input))
        return replace(_copy_header(header), status=newest.status)

    def get_execution(self, execution_id: str) -> ExecutionHeader:
        with self._lock:
            return self._current(execution_id)

    def describe(self, execution_id: str) -> tuple[ExecutionHeader, Commit]:
        with self._lock:
            header = self._current(execution_id)
            newest = self._newest_live(execution_id)[0]
            return header, _copy_commit(self._commits[execution_id][newest])

    def list_executions(
        self,
        machine: str,
        status: str | None = None,
        limit: int = 100,
        after: str | None = None,
    ) -> list[ExecutionHeader]:
        """Newest first, strictly older than ``after`` (a ``list_cursor``) when given;
        ``input`` and ``output`` are None, as in the DynamoDB store."""
        with self._lock:
            current = []
            for eid in self._headers:
                try:
                    current.append(self._current(eid))
                except NotFoundError:  # expired
                    continue
        found = [
            (list_cursor(h), h)
            for h in current
            if h.machine == machine and (status is None or h.status == status)
        ]
        if status not in (None, "RUNNING"):  # the status index's view (DynamoDBStore)
            found = [(key, h) for key, h in found if not self._ended_long_ago(h)]
        if after is not None:
            found = [(key, h) for key, h in found if key < after]
        found.sort(key=lambda pair: pair[0], reverse=True)
        # Summaries, like the index projections: no payloads, no error text.
        return [
            replace(h, input=None, output=None, error=None, cause=None)
            for _, h in found[: max(limit, 0)]
        ]

    # --- history -------------------------------------------------------------

    def append(self, execution_id: str, commit: Commit) -> None:
        if self._limited:
            _check_size(commit, commit.outcome)
        stored = _copy_commit(commit)
        expires = self._expires(commit)
        with self._lock:
            if self._live(execution_id, commit.seq):
                if is_own_resend(self._commits[execution_id][commit.seq], stored):
                    return  # a resent identical write, as the DynamoDB store allows
                raise ConflictError(
                    f"commit {commit.seq} of {execution_id} exists already (another writer won)"
                )
            self._put(execution_id, stored, expires)

    def recent(self, execution_id: str, limit: int, before: int | None = None) -> list[Commit]:
        with self._lock:
            seqs = self._newest_live(execution_id, before)[: max(1, limit)]
            return [_copy_commit(self._commits[execution_id][s]) for s in seqs]

    def latest(self, execution_id: str) -> Commit:
        with self._lock:
            live = self._newest_live(execution_id)
            if not live:
                raise NotFoundError(f"execution {execution_id} has no commits")
            return _copy_commit(self._commits[execution_id][live[0]])

    def commit(self, execution_id: str, seq: int) -> Commit:
        with self._lock:
            found = self._commits.get(execution_id, {}).get(seq)
            if found is None or not self._live(execution_id, seq):
                raise NotFoundError(f"execution {execution_id} has no commit {seq}")
            return _copy_commit(found)

    def commit_range(self, execution_id: str, first: int, last: int) -> Iterator[Commit]:
        with self._lock:
            commits = self._commits.get(execution_id, {})
            found = [
                commits[seq]
                for seq in sorted(commits)
                if first <= seq <= last and self._live(execution_id, seq)
            ]
        for commit in found:  # copied one at a time, as pages are read
            yield _copy_commit(commit)

    def history(self, execution_id: str) -> list[dict[str, Any]]:
        with self._lock:
            commits = self._commits.get(execution_id, {})
            if not self._live(execution_id, 1):  # the first to expire: then all is gone
                raise NotFoundError(f"execution {execution_id} has no commits")
            live = sorted(self._newest_live(execution_id))
            return _copy([event for seq in live for event in commits[seq].events])

    # --- timers and idempotency ----------------------------------------------

    def put_timer(self, timer: Timer) -> None:
        stored = replace(timer, event=_copy(timer.event))
        with self._lock:
            if timer.timer_id in self._timers:
                raise AlreadyExistsError(f"timer {timer.timer_id} exists already")
            self._timers[timer.timer_id] = stored

    def due_timers(self, now: str, limit: int = 100) -> list[Timer]:
        bound = sortable_instant(now)
        with self._lock:
            due = [t for t in self._timers.values() if sortable_instant(t.due) <= bound]
        due.sort(key=lambda t: (sortable_instant(t.due), t.timer_id))
        return [replace(t, event=_copy(t.event)) for t in due[: max(limit, 0)]]

    def claim_timer(self, timer: Timer) -> bool:
        with self._lock:
            return self._timers.pop(timer.timer_id, None) is not None

    def claim_key(self, key: str, ttl_seconds: int = 86400) -> bool:
        now = int(self._clock.now().timestamp())
        with self._lock:
            expires = self._keys.get(key)
            if expires is not None and expires > now:
                return False
            self._keys[key] = now + ttl_seconds
            return True

    # --- the signing key -----------------------------------------------------

    def signing_key(self) -> bytes:
        with self._lock:
            if self._signing_key is None:
                self._signing_key = secrets.token_bytes(SIGNING_KEY_BYTES)
            return self._signing_key

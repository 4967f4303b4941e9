"""What the runtime needs from the world: a store, queues, a blob store (and a mailer).

Small Protocols; adapters (DynamoDB, SQS, S3 — the only modules importing
boto3) implement them and turn backend errors into ``stepq.errors`` types.
Everything crossing a port is plain JSON-safe data (dicts, lists, str,
int, float, bool, None) so any backend can hold it.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from stepq.runtime.codec import sortable_instant


@dataclass(slots=True)
class ExecutionHeader:
    """The summary row of an execution (listing, status lookups)."""

    execution_id: str  # the execution ARN
    machine: str
    machine_version: int
    name: str
    status: str
    start_time: str
    input: Any = None
    stop_time: str | None = None
    output: Any = None
    error: str | None = None
    cause: str | None = None


@dataclass(slots=True)
class Commit:
    """One transition of one execution: what one decision appended.

    ``seq`` starts at 1 and grows by one per commit; the store refuses a
    second commit with the same ``seq`` (that is the conditional write).
    ``snapshot`` is the execution state after this commit (``codec``), so
    loading costs one read however long the history is. ``cause_id`` holds
    the ids of the inbound messages this commit applied, separated by spaces
    (a batch of one execution's events commits once); a redelivered message
    is matched to its commit by it. ``commands`` are the outbox: sent after
    the commit, re-sent when an inbound message it applied is redelivered.
    ``outcome`` is set on the commit that ends the execution: the execution's
    final summary, which the store indexes by machine and status.
    ``values`` holds large values written once and referred to by later
    snapshots (their layout is the applier's: ``applier/snapshots.py``); in
    the first commit, a value that *is* the header's ``input`` (the same
    object) may be stored once with it and is read back under its key.
    ``reopens`` is set on a redrive's commit: the seq of the final commit it
    follows, which the store takes out of its status index in the same write
    (the execution lists as RUNNING again, then under its new outcome).
    """

    seq: int
    snapshot: dict[str, Any]
    events: list[dict[str, Any]]
    commands: list[dict[str, Any]]
    cause_id: str
    at: str  # ISO-8601 instant of the decision
    status: str = "RUNNING"
    outcome: ExecutionHeader | None = None
    values: dict[str, Any] = field(default_factory=dict)
    reopens: int = 0

    @property
    def causes(self) -> list[str]:
        return self.cause_id.split()


@dataclass(slots=True)
class Timer:
    """A durable timer: ``event`` is delivered to the events queue at ``due``."""

    timer_id: str
    execution_id: str
    due: str  # ISO-8601, UTC, sortable
    event: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class Doc:
    """One catalog document (``Store.get_doc``): its key, body and revision."""

    key: str
    body: dict[str, Any]
    rev: int


def list_cursor(header: ExecutionHeader) -> str:
    """Where ``Store.list_executions`` continues after ``header``: its sort key.

    The start instant in one fixed UTC form, then the name: string order is
    listing order (the DynamoDB store's start index keys rows the same way).
    """
    return f"{sortable_instant(header.start_time)}#{header.name}"


SIGNING_KEY_BYTES = 32  # Store.signing_key: 256 random bits


class Store(Protocol):
    # state machines
    def put_machine(self, name: str, definition: dict[str, Any]) -> int: ...
    def get_machine(self, name: str, version: int | None = None) -> tuple[dict[str, Any], int]: ...
    def list_machines(self) -> list[str]: ...  # every machine name, sorted

    # documents: the API's catalog (machine settings, versions, aliases, activities,
    # tags...). One JSON object per (kind, key), each with a revision: ``put_doc``
    # with ``expected_rev=None`` creates (AlreadyExistsError if present), with a
    # number replaces only that revision (ConflictError otherwise); it returns the
    # new revision. ``list_docs`` is sorted by key; ``prefix`` narrows it. With
    # retention on, a document of an execution's kind expires as its commits do
    # (``retention.doc_expires_at``): an expired one reads as absent, is created over.
    def get_doc(self, kind: str, key: str) -> Doc | None: ...
    def put_doc(
        self, kind: str, key: str, body: dict[str, Any], expected_rev: int | None
    ) -> int: ...
    def delete_doc(self, kind: str, key: str, expected_rev: int | None = None) -> None: ...
    def list_docs(self, kind: str, prefix: str = "") -> list[Doc]: ...

    # executions
    # ``first`` carries the header (one conditional write; AlreadyExistsError
    # for a name in use); a commit with ``outcome`` set finishes the execution.
    def create_execution(self, header: ExecutionHeader, first: Commit) -> None: ...
    def get_execution(self, execution_id: str) -> ExecutionHeader: ...
    # The header and the newest commit together, in one read where the backend
    # can (DescribeExecution shows both); NotFoundError for no such execution.
    def describe(self, execution_id: str) -> tuple[ExecutionHeader, Commit]: ...
    # Newest first (by start instant, then name, both descending); ``after`` is the
    # ``list_cursor`` of the last row of the previous page: rows strictly older.
    def list_executions(
        self,
        machine: str,
        status: str | None = None,
        limit: int = 100,
        after: str | None = None,
    ) -> list[ExecutionHeader]: ...

    # history
    def append(self, execution_id: str, commit: Commit) -> None: ...
    def latest(self, execution_id: str) -> Commit: ...
    def commit(self, execution_id: str, seq: int) -> Commit: ...
    # The newest ``limit`` commits (with seq < ``before``, if given), newest first:
    # paging back through a history whatever the size of its commits.
    def recent(self, execution_id: str, limit: int, before: int | None = None) -> list[Commit]: ...
    # Commits ``first``..``last`` (inclusive; those that exist), oldest first, read
    # page by page: a wide Map's outputs are gathered back from their commits.
    def commit_range(self, execution_id: str, first: int, last: int) -> Iterator[Commit]: ...
    def history(self, execution_id: str) -> list[dict[str, Any]]: ...

    # timers and idempotency
    def put_timer(self, timer: Timer) -> None: ...
    def due_timers(self, now: str, limit: int = 100) -> list[Timer]: ...
    def claim_timer(self, timer: Timer) -> bool: ...
    def claim_key(self, key: str, ttl_seconds: int = 86400) -> bool: ...

    # retention (runtime/retention.py): the days finished executions are kept
    # (None: forever). ``renew_expiry`` re-stamps the commits of an execution seen
    # RUNNING at ``observed`` (a time taken before that read) to expire R + W after
    # it, when their expiry is due (the scheduler's daily renewal); whether it did.
    retention_days: int | None

    def renew_expiry(self, execution_id: str, observed: datetime) -> bool: ...

    # A document of an execution (``retention.EXECUTION_DOC_KINDS``: every write of
    # one carries an expiry) re-stamped the same way, when its own expiry is due.
    def renew_doc(self, kind: str, key: str, observed: datetime) -> bool: ...

    # The deployment's signing key (32 random bytes, made on first use; every
    # caller of one table gets the same). It never leaves the table: messages
    # are signed with keys derived from it (``runtime.signing``).
    def signing_key(self) -> bytes: ...


@dataclass(frozen=True, slots=True)
class Message:
    """An outgoing message. ``id`` is deterministic so consumers drop duplicates."""

    id: str
    body: dict[str, Any]
    delay_seconds: int = 0
    group: str | None = None


@dataclass(frozen=True, slots=True)
class Received:
    body: dict[str, Any] | None  # None: the raw text was not a JSON object
    raw: str
    receipt: str
    receive_count: int
    message_id: str


class Queues(Protocol):
    def send(self, queue: str, messages: list[Message]) -> None: ...
    def receive(
        self, queue: str, max_messages: int = 10, wait_seconds: int = 0
    ) -> list[Received]: ...
    def delete(self, queue: str, receipts: list[str]) -> None: ...
    def dead_letter(self, queue: str, received: Received, reason: str) -> None: ...
    # Keep an in-flight message invisible for ``seconds`` more from now (0: visible
    # at once); 0..43200 s (ValueError otherwise), QueueError for a stale receipt.
    def change_visibility(self, queue: str, receipt: str, seconds: int) -> None: ...


@dataclass(frozen=True, slots=True)
class Held:
    """A message an operator tool holds to look at or move (``QueueAdmin.hold``):
    its raw text and every attribute, as the queue keeps them; nothing is parsed."""

    raw: str
    attributes: dict[str, str]
    receipt: str
    receive_count: int
    message_id: str  # the ``stepq-id`` attribute, else the queue's own id
    sent_at: str  # ISO-8601 UTC: first sent (a move to the DLQ by SQS keeps it)


class QueueAdmin(Protocol):
    """What the operator tools (``stepq ops dlq``) need besides ``Queues``'s
    ``delete`` and ``change_visibility``; the roles never call these."""

    # The logical names of the queues that exist (``events``, ``events-dlq``, ...).
    def queue_names(self) -> list[str]: ...
    # Receive up to ``max_messages`` visible messages, invisible for ``seconds``;
    # attributes and send time included, claim-check pointers left as they are.
    def hold(self, queue: str, max_messages: int = 10, seconds: int = 60) -> list[Held]: ...
    # Send ``text`` as it is with these attributes (a moved message keeps its MAC and id).
    def send_raw(self, queue: str, text: str, attributes: dict[str, str] | None = None) -> None: ...
    def depth(self, queue: str) -> int: ...  # approximate: visible, in flight and delayed


class Mailer(Protocol):
    """Sends e-mail: SES in AWS (``backends/aws/ses_mailer.py``), a folder of
    ``.eml`` files locally (``backends/local_outbox.py``). ``to`` holds
    addresses; the answer is the sent message's id. Failures are ``MailError``."""

    def send(self, to: list[str], subject: str, body: str) -> str: ...


class Blobs(Protocol):
    def put(self, key: str, data: bytes) -> str: ...
    def get(self, ref: str) -> bytes: ...


def parse_ref(ref: str) -> tuple[str, str]:
    """Split ``s3://bucket/key`` into (bucket, key)."""
    if not isinstance(ref, str) or not ref.startswith("s3://"):
        raise ValueError(f"not a blob ref (expected s3://bucket/key): {ref!r}")
    bucket, sep, key = ref[len("s3://") :].partition("/")
    if not bucket or not sep or not key:
        raise ValueError(f"not a blob ref (expected s3://bucket/key): {ref!r}")
    return bucket, key


def check_blob_key(key: str) -> None:
    # S3 keys are 1..1024 UTF-8 bytes; refusing here gives one message for every backend.
    if not key or len(key.encode("utf-8")) > 1024:
        raise ValueError(f"a blob key must be 1..1024 UTF-8 bytes, got {key!r:.60}")

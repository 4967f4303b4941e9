"""The ``Store`` port on one DynamoDB table (single-table design).

Long: one method per ``Store`` operation, each its own request; the item
encoding and the table layout already live in their own modules (below).

CONTRACT (others code against these signatures)::

    DynamoDBStore(table_name, client=..., *, blobs=None, clock=None,
                  blob_threshold=DEFAULT_BLOB_THRESHOLD,
                  retention_days=None)                     # implements ports.Store
    create_table(client, name) -> None                     # idempotent, on-demand
    default_client_config() -> botocore.config.Config      # adaptive retries

This module holds the store's requests; the table's item layout, indexes and
creation are in ``dynamodb_table``, and how payloads are encoded (JSON text
or compressed, the item size limit, the claim check to ``blobs``) in
``dynamodb_items``. Both re-export from here. docs/STORAGE.md has the costs.

With ``retention_days``, every commit carries ``expires_at`` (the table's
TTL attribute; the rule is in ``runtime/retention.py``) and every read treats
an expired item as absent: DynamoDB deletes expired items up to days late.
A commit's put overwrites an expired item in its slot (``_free_slot``), so a
name is reused once its old execution has expired; a start that overwrote an
old commit 1 while a later one is live is undone and refused (``_refuse_if_held``).

Every botocore error becomes a ``ports`` error; throttling and 5xx are
retried inside botocore (``default_client_config``), never here.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import math
import secrets
import threading
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from stepq.backends import is_own_resend
from stepq.backends.aws.botocore_common import client_config as default_client_config
from stepq.backends.aws.dynamodb_docs import DocsTable
from stepq.backends.aws.dynamodb_items import (
    COMPRESS_ABOVE,
    DEFAULT_BLOB_THRESHOLD,
    MAX_ITEM_BYTES,
    ItemCodec,
    expiry_of,
    n,
    optional_text,
    s,
    seq_key,
)
from stepq.backends.aws.dynamodb_table import (
    GSI_START,
    GSI_STATUS,
    GSI_TIMERS,
    TIMER_SHARD,
    TTL_ATTRIBUTE,
    ConditionFailed,
    Item,
    create_table,
    translate,
)
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
from stepq.runtime.ports import SIGNING_KEY_BYTES, Blobs, Commit, Doc, ExecutionHeader, Timer

__all__ = [
    "COMPRESS_ABOVE",
    "DEFAULT_BLOB_THRESHOLD",
    "GSI_START",
    "GSI_STATUS",
    "GSI_TIMERS",
    "MAX_ITEM_BYTES",
    "TIMER_SHARD",
    "TTL_ATTRIBUTE",
    "DynamoDBStore",
    "create_table",
    "default_client_config",
]

_MAX_CONDITION_RETRIES = 20
_MAX_PAGE_ITEMS = 1000  # a Query page stops at 1 MB anyway
_LAST_SEQ_KEY = "C#9999999999"  # sorts above every commit's key (seq_key)
_SIGNING_KEY = {"pk": s("KEY#signing"), "sk": s("KEY")}


# One item lists every machine name (a set, added to when version 1 is written).
MACHINES_PK = "SM"


class DynamoDBStore:
    """``ports.Store`` on one table; the low-level client is injected."""

    def __init__(
        self,
        table_name: str,
        client: Any,
        *,
        blobs: Blobs | None = None,
        clock: Clock | None = None,
        blob_threshold: int = DEFAULT_BLOB_THRESHOLD,
        retention_days: int | None = None,
    ) -> None:
        self._table = table_name
        # None or 0: nothing expires (tests, the embedded runtime, unless asked).
        self.retention_days = retention_days or None
        self._client = client
        self._items = ItemCodec(blobs, blob_threshold)
        self._clock = clock or SystemClock()
        self._signing_key: bytes | None = None
        self._key_lock = threading.Lock()
        self._docs = DocsTable(
            table_name, self._call, self._query, self._clock, self.retention_days
        )

    # --- plumbing ------------------------------------------------------------

    def _call(self, op: str, what: str, **kwargs: Any) -> dict[str, Any]:
        try:
            return getattr(self._client, op)(**kwargs)
        except ClientError as exc:
            raise translate(exc, what, self._table) from exc
        except BotoCoreError as exc:  # connection refused, timeouts after retries, ...
            raise StoreError(f"{what}: DynamoDB {op} failed: {exc}") from exc

    def _query(self, what: str, **kwargs: Any) -> Iterator[Item]:
        """Every item a Query returns, following pages."""
        while True:
            page = self._call("query", what, TableName=self._table, **kwargs)
            yield from page.get("Items", [])
            start = page.get("LastEvaluatedKey")
            if not start:
                return
            kwargs["ExclusiveStartKey"] = start

    def _newest(
        self,
        what: str,
        pk: str,
        prefix: str,
        limit: int = 1,
        *,
        below: str | None = None,
        **kwargs: Any,
    ) -> list[Item]:
        """The newest ``limit`` items of partition ``pk`` whose sort key starts with
        ``prefix`` (and sorts before ``below``), following pages: a page stops at
        1 MB, so a few large items fill one before ``limit`` is reached. Expired
        items are skipped: with a reused name, the old execution's leftovers sort
        above the new one's commits until TTL deletes them."""
        if below is None:
            keys = _in_partition(pk, prefix)
        else:
            keys = {
                "KeyConditionExpression": "pk = :pk AND sk BETWEEN :lo AND :hi",
                "ExpressionAttributeValues": {":pk": s(pk), ":lo": s(prefix), ":hi": s(below)},
            }
        items: list[Item] = []
        request = {**keys, "ScanIndexForward": False, "Limit": limit, **kwargs}
        while True:
            page = self._call("query", what, TableName=self._table, **request)
            for item in page.get("Items", []):
                if below is not None and item["sk"]["S"] >= below:
                    continue  # BETWEEN is inclusive
                if self._live(item) is None:
                    continue  # an expired leftover (a reused name's old commit): read past it
                items.append(item)
                if len(items) >= limit:
                    return items
            start = page.get("LastEvaluatedKey")
            if not start:
                return items
            request["ExclusiveStartKey"] = start
            # Leftovers can be many (an old run's tail): each further page doubles,
            # so reading past them takes log-many round trips, not one per item.
            request["Limit"] = min(2 * request["Limit"], _MAX_PAGE_ITEMS)

    def _expires(self, commit: Commit) -> int | None:
        """The ``expires_at`` a commit is written with (None: retention is off)."""
        if self.retention_days is None:
            return None
        written = self._clock.now()
        stop = retention.instant_of(commit.outcome.stop_time) if commit.outcome else None
        if stop is not None and stop > written:  # the status index tells expiry by stop_time
            written = stop
        return retention.expires_at(written, self.retention_days)

    def _live(self, item: Item | None) -> Item | None:
        """``item``, or None when it has expired (TTL deletes it later, maybe days later)."""
        if item is None or retention.expired(expiry_of(item), self._clock.now()):
            return None
        return item

    def _get(self, pk: str, sk: str, what: str) -> Item | None:
        reply = self._call(
            "get_item",
            what,
            TableName=self._table,
            Key={"pk": s(pk), "sk": s(sk)},
            ConsistentRead=True,
        )
        return reply.get("Item")

    def _free_slot(self) -> dict[str, Any]:
        """The condition of a commit's put: its slot is free, or (with retention on)
        holds an expired item, a leftover of an old execution of the same name that
        TTL has not deleted yet (it may take days): a reused name overwrites it."""
        if self.retention_days is None:
            return {"ConditionExpression": "attribute_not_exists(sk)"}
        return {
            "ConditionExpression": "attribute_not_exists(sk) OR #e <= :now",
            "ExpressionAttributeNames": {"#e": TTL_ATTRIBUTE},
            # expired(): expires_at <= now, in whole seconds
            "ExpressionAttributeValues": {":now": n(math.floor(self._clock.now().timestamp()))},
        }

    def _put_commit(
        self, item: Item, what: str, taken: type[StoreError], taken_message: str
    ) -> Item | None:
        """Put a commit into its free slot; ``taken(taken_message)`` when another write holds
        it. Returns the expired item it overwrote, if any (ALL_OLD costs no read units)."""
        try:
            reply = self._call(
                "put_item",
                what,
                TableName=self._table,
                Item=item,
                ReturnValues="ALL_OLD",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
                **self._free_slot(),
            )
        except ConditionFailed as exc:
            # botocore may resend a put whose reply was lost: finding our own
            # item is success, not a conflict (the old item saves a read here).
            if is_own_resend(exc.old, item):
                return None
            raise taken(taken_message) from exc
        return reply.get("Attributes")

    # --- documents (dynamodb_docs.py) ---------------------------------------

    def get_doc(self, kind: str, key: str) -> Doc | None:
        return self._docs.get(kind, key)

    def put_doc(self, kind: str, key: str, body: dict[str, Any], expected_rev: int | None) -> int:
        return self._docs.put(kind, key, body, expected_rev)

    def delete_doc(self, kind: str, key: str, expected_rev: int | None = None) -> None:
        self._docs.delete(kind, key, expected_rev)

    def list_docs(self, kind: str, prefix: str = "") -> list[Doc]:
        return self._docs.list(kind, prefix)

    def renew_doc(self, kind: str, key: str, observed: datetime) -> bool:
        return self._docs.renew(kind, key, observed)

    # --- state machines ------------------------------------------------------

    def put_machine(self, name: str, definition: dict[str, Any]) -> int:
        pk = f"SM#{name}"
        payload = self._items.pack("definition", definition, f"machines/{name}")
        for _ in range(_MAX_CONDITION_RETRIES):
            newest = self._newest_machine(name, projection="version")
            version = (int(newest["version"]["N"]) if newest else 0) + 1
            item = {"pk": s(pk), "sk": s(f"V#{version:010d}"), "version": n(version), **payload}
            self._items.check_size(item, f"machine {name!r}")
            try:
                self._call(
                    "put_item",
                    f"put_machine {name!r}",
                    TableName=self._table,
                    Item=item,
                    ConditionExpression="attribute_not_exists(sk)",
                )
                # Every version (re)lists its name, so a crash after the put is healed
                # by the next deploy; the set is read by the reconcile sweep.
                self._call(
                    "update_item",
                    f"list machine {name!r}",
                    TableName=self._table,
                    Key={"pk": s(MACHINES_PK), "sk": s(MACHINES_PK)},
                    UpdateExpression="ADD machine_names :name",
                    ExpressionAttributeValues={":name": {"SS": [name]}},
                )
                return version
            except ConditionFailed:
                continue  # someone else took this version number; take the next one
        raise ConflictError(f"put_machine {name!r}: too many concurrent writers")

    def list_machines(self) -> list[str]:
        item = self._get(MACHINES_PK, MACHINES_PK, "list_machines")
        return sorted(item["machine_names"]["SS"]) if item and "machine_names" in item else []

    def _newest_machine(self, name: str, projection: str | None = None) -> Item | None:
        extra = {"ProjectionExpression": projection} if projection else {}
        items = self._newest(
            f"get_machine {name!r}", f"SM#{name}", "V#", ConsistentRead=True, **extra
        )
        return items[0] if items else None

    def get_machine(self, name: str, version: int | None = None) -> tuple[dict[str, Any], int]:
        if version is None:
            item = self._newest_machine(name)
            if item is None:
                raise NotFoundError(f"state machine {name!r} does not exist")
        else:
            item = self._get(f"SM#{name}", f"V#{version:010d}", f"get_machine {name!r}")
            if item is None:
                raise NotFoundError(f"state machine {name!r} has no version {version}")
        return self._items.unpack(item, "definition"), int(item["version"]["N"])

    # --- executions: the header lives on the first and the final commit ----------

    def create_execution(self, header: ExecutionHeader, first: Commit) -> None:
        # One conditional PutItem: the first commit is the header (no transaction,
        # no separate header item: an execution's bookkeeping costs no extra write).
        item = self._items.commit_item(
            header.execution_id, first, header=header, expires=self._expires(first)
        )
        what = f"create_execution {header.execution_id}"
        overwrote = self._put_commit(
            item, what, AlreadyExistsError, f"execution {header.execution_id} exists already"
        )
        if overwrote is not None:  # a reused name: is the old execution wholly gone?
            self._refuse_if_held(header.execution_id, item, what)

    def _refuse_if_held(self, execution_id: str, ours: Item, what: str) -> None:
        """Undo our commit 1 and refuse the start while the old execution's later
        commits are live: its first commit expires first, its newest last, and a live
        old commit would shadow the new run's in its slot (the run would be stuck).
        Only after overwriting an old commit 1 (one Query, eventually consistent: the
        old items are R days old); a commit 1 that TTL already deleted is not seen
        (docs/STORAGE.md, "Reusing a name")."""
        newest = next(
            iter(
                self._call(
                    "query",
                    what,
                    TableName=self._table,
                    # Ours has only commit 1 yet: any commit above it is the old run's.
                    KeyConditionExpression="pk = :pk AND sk BETWEEN :lo AND :hi",
                    ExpressionAttributeValues={
                        ":pk": s(f"EX#{execution_id}"),
                        ":lo": s(seq_key(2)),
                        ":hi": s(_LAST_SEQ_KEY),
                    },
                    ScanIndexForward=False,  # the newest expires last
                    Limit=1,
                    ProjectionExpression="#e",
                    ExpressionAttributeNames={"#e": TTL_ATTRIBUTE},
                ).get("Items", [])
            ),
            None,
        )
        if self._live(newest) is None:
            return
        # Only our own commit 1 (a racing start of the same name may have taken it).
        with contextlib.suppress(ConditionFailed):
            self._call(
                "delete_item",
                what,
                TableName=self._table,
                Key={"pk": ours["pk"], "sk": ours["sk"]},
                ConditionExpression="cause_id = :c AND #at = :at",
                ExpressionAttributeNames={"#at": "at"},
                ExpressionAttributeValues={":c": ours["cause_id"], ":at": ours["at"]},
            )
        raise ExecutionAlreadyExistsError(retention.held_message(execution_id, expiry_of(newest)))

    def get_execution(self, execution_id: str) -> ExecutionHeader:
        return self._header_and_latest(execution_id, f"get_execution {execution_id}")[0]

    def describe(self, execution_id: str) -> tuple[ExecutionHeader, Commit]:
        header, latest = self._header_and_latest(execution_id, f"describe {execution_id}")
        return header, self._items.commit(latest)

    def _header_and_latest(self, execution_id: str, what: str) -> tuple[ExecutionHeader, Item]:
        """The header (first commit, outcome of the final one) and the newest commit's item."""
        latest = self._latest_item(execution_id, what)
        if latest is None:
            raise NotFoundError(f"execution {execution_id} does not exist")
        first = latest if latest["sk"]["S"] == seq_key(1) else None
        if first is None:
            first = self._live(self._get(f"EX#{execution_id}", seq_key(1), what))
            if first is None:
                raise NotFoundError(f"execution {execution_id} does not exist")
        header = self._items.header(first, self._items.unpack(first, "body"))
        if latest is not first:
            header.status = latest["status"]["S"]
            # A first commit that was also final (then redriven) holds an outcome.
            header.stop_time = header.output = header.error = header.cause = None
        if "gsi1sk" in latest:  # the final commit: the outcome
            done = self._items.header(latest, self._items.unpack(latest, "body"))
            done.input = header.input
            return done, latest
        return header, latest

    def _status_of(self, execution_id: str, what: str) -> Item | None:
        """The summary attributes of the newest commit (a small projected read)."""
        items = self._newest(
            what,
            f"EX#{execution_id}",
            "C#",
            ExpressionAttributeNames={"#s": "status", "#e": TTL_ATTRIBUTE},
            ProjectionExpression="#s, stop_time, gsi1sk, #e",
        )
        return items[0] if items else None

    def list_executions(
        self,
        machine: str,
        status: str | None = None,
        limit: int = 100,
        after: str | None = None,
    ) -> list[ExecutionHeader]:
        """Newest first; ``input`` and ``output`` are None (the indexes do not hold them).

        A final status reads ``by_machine_status`` alone. RUNNING, or no
        status, walks ``by_machine_start`` and reads each execution's newest
        commit for its status: one small Query per execution listed, which
        keeps every transition free of index writes. ``after`` (a
        ``list_cursor``, the index's own sort key) bounds the Query's key
        condition, so a page starts where the last one ended.
        """
        out: list[ExecutionHeader] = []
        if limit <= 0:
            return out
        what = f"list_executions {machine!r}"
        if status is not None and status != "RUNNING":
            prefix = f"{status}#"
            if after is None:
                condition = "gsi1pk = :m AND begins_with(gsi1sk, :s)"
                values = {":m": s(machine), ":s": s(prefix)}
            else:  # BETWEEN is inclusive: the cursor's own row is skipped below
                condition = "gsi1pk = :m AND gsi1sk BETWEEN :s AND :upper"
                values = {":m": s(machine), ":s": s(prefix), ":upper": s(prefix + after)}
            for item in self._query(
                what,
                IndexName=GSI_STATUS,
                KeyConditionExpression=condition,
                ExpressionAttributeValues=values,
                ScanIndexForward=False,
                Limit=limit + 1,
            ):
                if after is not None and item["gsi1sk"]["S"] == prefix + after:
                    continue
                header = self._items.header(item)
                if self._ended_long_ago(header) or self._first_gone(header, what):
                    continue
                out.append(header)
                if len(out) >= limit:
                    break
            return out
        condition = "gsi1pk = :m"
        values = {":m": s(machine)}
        if after is not None:
            condition += " AND gsi2sk < :after"
            values[":after"] = s(after)
        for item in self._query(
            what,
            IndexName=GSI_START,
            KeyConditionExpression=condition,
            ExpressionAttributeValues=values,
            ScanIndexForward=False,
            Limit=limit,
        ):
            header = self._items.header(item)
            # Gone first (a read only once it may be): an expired execution's commits
            # would otherwise all be read past, looking for a live one.
            if self._first_gone(header, what):
                continue
            newest = self._status_of(header.execution_id, what)
            if newest is None:  # expired meanwhile
                continue
            header.status = newest["status"]["S"]
            header.stop_time = optional_text(newest, "stop_time")
            if status is None or header.status == status:
                out.append(header)
                if len(out) >= limit:
                    break
        return out

    def _ended_long_ago(self, header: ExecutionHeader) -> bool:
        """Whether a finished execution has expired, told from the status index, which
        projects ``stop_time`` but not ``expires_at`` (the final commit expires at
        ``stop_time`` + R + W or a moment later: ``_expires``)."""
        least = retention.stopped_expiry(header.stop_time, self.retention_days)
        return retention.expired(least, self._clock.now())

    def _first_gone(self, header: ExecutionHeader, what: str) -> bool:
        """Whether the execution's first commit has expired (it expires first: then the
        execution is gone, as ``describe`` says). Read (a GetItem) only once it may
        have: written at its start, it lasts at least R + W from then."""
        start = retention.instant_of(header.start_time)
        if self.retention_days is None or start is None:
            return False
        earliest = retention.expires_at(start - retention.CLOCK_SKEW, self.retention_days)
        if not retention.expired(earliest, self._clock.now()):
            return False
        first = self._call(
            "get_item",
            what,
            TableName=self._table,
            Key={"pk": s(f"EX#{header.execution_id}"), "sk": s(seq_key(1))},
            ProjectionExpression="#e",
            ExpressionAttributeNames={"#e": TTL_ATTRIBUTE},
        ).get("Item")
        return first is None or self._live(first) is None

    # --- history -------------------------------------------------------------

    def append(self, execution_id: str, commit: Commit) -> None:
        item = self._items.commit_item(execution_id, commit, expires=self._expires(commit))
        what = f"append {commit.seq} to {execution_id}"
        taken = f"commit {commit.seq} of {execution_id} exists already (another writer won)"
        if not commit.reopens:
            self._put_commit(item, what, ConflictError, taken)
            return
        # A redrive: its commit, and the final commit it follows taken out of the
        # status index, in one transaction (listed as RUNNING, then as its new end).
        pk = f"EX#{execution_id}"
        try:
            self._call(
                "transact_write_items",
                what,
                TransactItems=[
                    {
                        "Put": {
                            "TableName": self._table,
                            "Item": item,
                            **self._free_slot(),
                        }
                    },
                    {
                        "Update": {
                            "TableName": self._table,
                            "Key": {"pk": s(pk), "sk": s(seq_key(commit.reopens))},
                            "UpdateExpression": "REMOVE gsi1sk",
                            "ConditionExpression": "attribute_exists(sk)",
                        }
                    },
                ],
            )
        except ConditionFailed as exc:
            # A resent transaction whose reply was lost finds our own commit: success.
            if is_own_resend(self._get(pk, seq_key(commit.seq), what), item):
                return
            raise ConflictError(taken) from exc

    def _latest_item(self, execution_id: str, what: str) -> Item | None:
        items = self._recent_items(execution_id, what, 1)
        return items[0] if items else None

    def _recent_items(
        self, execution_id: str, what: str, limit: int, before: int | None = None
    ) -> list[Item]:
        below = None if before is None else seq_key(max(0, before))
        items = self._newest(
            what, f"EX#{execution_id}", "C#", limit, below=below, ConsistentRead=True
        )
        # Expired commits are skipped (``_newest``): for one execution, its older
        # commits have expired too (the final commit expires last); with a reused
        # name, the live ones below are the new execution's.
        return items

    def latest(self, execution_id: str) -> Commit:
        item = self._latest_item(execution_id, f"latest {execution_id}")
        if item is None:
            raise NotFoundError(f"execution {execution_id} has no commits")
        return self._items.commit(item)

    def recent(self, execution_id: str, limit: int, before: int | None = None) -> list[Commit]:
        items = self._recent_items(execution_id, f"recent {execution_id}", max(1, limit), before)
        return [self._items.commit(item) for item in items]

    def commit(self, execution_id: str, seq: int) -> Commit:
        item = self._live(
            self._get(f"EX#{execution_id}", seq_key(seq), f"commit {seq} of {execution_id}")
        )
        if item is None:
            raise NotFoundError(f"execution {execution_id} has no commit {seq}")
        return self._items.commit(item)

    def commit_range(self, execution_id: str, first: int, last: int) -> Iterator[Commit]:
        if first > last:
            return
        for item in self._query(
            f"commit_range {first}..{last} of {execution_id}",
            KeyConditionExpression="pk = :pk AND sk BETWEEN :first AND :last",
            ExpressionAttributeValues={
                ":pk": s(f"EX#{execution_id}"),
                ":first": s(seq_key(max(first, 1))),
                ":last": s(seq_key(last)),
            },
            ConsistentRead=True,
        ):
            if self._live(item) is not None:
                yield self._items.commit(item)

    def history(self, execution_id: str) -> list[dict[str, Any]]:
        events: list[dict[str, Any]] = []
        gone = NotFoundError(f"execution {execution_id} has no commits")
        first = True
        for item in self._query(
            f"history {execution_id}",
            **_in_partition(f"EX#{execution_id}", "C#"),
            ConsistentRead=True,
        ):
            live = self._live(item) is not None
            if first and (item["sk"]["S"] != seq_key(1) or not live):
                raise gone  # the first commit is gone (it expires first): the execution is
            first = False
            if live:  # skip expired ones: a reused name's old commits above the new
                events.extend((self._items.unpack(item, "body") or {}).get("events") or [])
        if first:
            raise gone
        return events

    # --- retention: keeping a running execution alive ------------------------

    def renew_expiry(self, execution_id: str, observed: datetime) -> bool:
        """Re-stamp a running execution's commits to expire R + W after ``observed``
        (a time taken before the read that found it RUNNING); whether it did.

        One GetItem of commit 1 when nothing is due (its expiry is further than
        R + W/2 away, or it has none, or it has expired: never revived). A final
        commit written since ``observed`` was stamped from a later time, so it
        still expires last. Each UpdateItem only raises an expiry that is live
        and lower (a commit written since keeps its own) and never makes an
        item that is gone."""
        if self.retention_days is None:
            return False
        pk = f"EX#{execution_id}"
        what = f"renew_expiry {execution_id}"
        first = self._get(pk, seq_key(1), what)
        if first is None:
            return False
        if not retention.renewal_due(expiry_of(first), self._clock.now(), self.retention_days):
            return False
        stamp = retention.renewal_stamp(observed, self.retention_days)
        now = n(retention.epoch(self._clock.now()))
        for item in self._query(
            what,
            **_in_partition(pk, "C#"),
            ConsistentRead=True,
            ProjectionExpression="sk, #e",
            ExpressionAttributeNames={"#e": TTL_ATTRIBUTE},
        ):
            old = expiry_of(item)
            if old is None or old >= stamp:
                continue
            try:
                self._call(
                    "update_item",
                    what,
                    TableName=self._table,
                    Key={"pk": s(pk), "sk": item["sk"]},
                    UpdateExpression="SET #e = :stamp",
                    ConditionExpression="attribute_exists(sk) AND #e > :now AND #e < :stamp",
                    ExpressionAttributeNames={"#e": TTL_ATTRIBUTE},
                    ExpressionAttributeValues={":stamp": n(stamp), ":now": now},
                )
            except ConditionFailed:
                continue  # expired, deleted or already later: leave it
        return True

    # --- timers and idempotency ----------------------------------------------

    def put_timer(self, timer: Timer) -> None:
        item = self._items.timer_item(timer)
        try:
            self._call(
                "put_item",
                f"put_timer {timer.timer_id}",
                TableName=self._table,
                Item=item,
                ConditionExpression="attribute_not_exists(pk)",
            )
        except ConditionFailed as exc:
            raise AlreadyExistsError(f"timer {timer.timer_id} exists already") from exc

    def due_timers(self, now: str, limit: int = 100) -> list[Timer]:
        """Timers due at or before ``now``, earliest first (the index is eventually consistent)."""
        if limit <= 0:
            return []
        out: list[Timer] = []
        # '$' sorts right after the '#' separator, so "< now$" is "due <= now".
        for item in self._query(
            "due_timers",
            IndexName=GSI_TIMERS,
            KeyConditionExpression="gsi3pk = :p AND gsi3sk < :bound",
            ExpressionAttributeValues={
                ":p": s(TIMER_SHARD),
                ":bound": s(f"{sortable_instant(now)}$"),
            },
            Limit=limit,
        ):
            out.append(self._items.timer(item))
            if len(out) >= limit:
                break
        return out

    def claim_timer(self, timer: Timer) -> bool:
        try:
            self._call(
                "delete_item",
                f"claim_timer {timer.timer_id}",
                TableName=self._table,
                Key={"pk": s(f"TM#{timer.timer_id}"), "sk": s("TM")},
                ConditionExpression="attribute_exists(pk)",
            )
        except ConditionFailed:
            return False
        return True

    def claim_key(self, key: str, ttl_seconds: int = 86400) -> bool:
        now = int(self._clock.now().timestamp())
        try:
            self._call(
                "put_item",
                f"claim_key {key!r}",
                TableName=self._table,
                Item={
                    "pk": s(f"IK#{key}"),
                    "sk": s("IK"),
                    TTL_ATTRIBUTE: n(now + ttl_seconds),
                },
                # TTL deletion lags by up to days: an expired key is free again now.
                ConditionExpression="attribute_not_exists(pk) OR #exp <= :now",
                ExpressionAttributeNames={"#exp": TTL_ATTRIBUTE},
                ExpressionAttributeValues={":now": n(now)},
            )
        except ConditionFailed:
            return False
        return True

    # --- the signing key -----------------------------------------------------

    def signing_key(self) -> bytes:
        """Read once per process; made on first use by a conditional put (a losing
        racer reads the winner's, so every process of the table signs alike)."""
        with self._key_lock:
            if self._signing_key is None:
                self._signing_key = self._stored_key() or self._create_key()
            return self._signing_key

    def _stored_key(self) -> bytes | None:
        item = self._get("KEY#signing", "KEY", "signing_key")
        if item is None:
            return None
        try:
            key = base64.b64decode(item["key"]["S"], validate=True)
        except (KeyError, TypeError, binascii.Error) as exc:
            raise StoreError("the table's signing key item is malformed") from exc
        if len(key) != SIGNING_KEY_BYTES:
            raise StoreError("the table's signing key item has the wrong length")
        return key

    def _create_key(self) -> bytes:
        key = secrets.token_bytes(SIGNING_KEY_BYTES)
        try:
            self._call(
                "put_item",
                "signing_key",
                TableName=self._table,
                Item={**_SIGNING_KEY, "key": s(base64.b64encode(key).decode("ascii"))},
                ConditionExpression="attribute_not_exists(pk)",
            )
        except ConditionFailed:  # another process made it first: use theirs
            winner = self._stored_key()
            if winner is None:
                raise StoreError("the signing key was created and then vanished") from None
            return winner
        return key


def _in_partition(pk: str, prefix: str) -> dict[str, Any]:
    """Query arguments for the items of partition ``pk`` whose sort key starts with ``prefix``."""
    return {
        "KeyConditionExpression": "pk = :pk AND begins_with(sk, :prefix)",
        "ExpressionAttributeValues": {":pk": s(pk), ":prefix": s(prefix)},
    }

"""The ``Store`` port on one DynamoDB table (single-table design).

CONTRACT (others code against these signatures)::

    DynamoDBStore(table_name, client=..., *, blobs=None, clock=None,
                  blob_threshold=DEFAULT_BLOB_THRESHOLD)   # implements ports.Store
    create_table(client, name) -> None                     # idempotent, on-demand
    default_client_config() -> botocore.config.Config      # adaptive retries

The item layout, indexes and costs are in docs/STORAGE.md. In short:

=====================  ===================  ======================  =====================
item                   pk                   sk                      index keys
=====================  ===================  ======================  =====================
machine version        ``SM#<name>``        ``V#<version:010d>``    -
commit                 ``EX#<id>``          ``C#<seq:010d>``        first: gsi1pk, gsi2sk
                                                                    final: gsi1pk, gsi1sk
timer                  ``TM#<timer_id>``    ``TM``                  gsi3pk, gsi3sk
idempotency key        ``IK#<key>``         ``IK``                  - (TTL ``expires_at``)
step idempotency       ``IDEMPOTENCY#<s>``  ``<s>#<md5 of key>``    - (TTL; s = the step)
=====================  ===================  ======================  =====================

A commit's payload (snapshot, events, commands; input on the first commit,
output on the final one) is one attribute, ``body``. Payloads are stored
as JSON text (``S``), or as zlib-compressed JSON (``B``) once the text is
over ``COMPRESS_ABOVE`` bytes and compression makes it smaller. Text keeps
the numbers exact (no Decimal round trip) and small items readable in the
console; compressing the larger ones (snapshots are repetitive JSON, 3-8x
smaller) cuts the write units of every transition, since DynamoDB bills per
KB of item, and keeps big executions under the 400 KB item limit. Readers
accept either type.

Claim check: with a ``blobs`` store, a payload still above
``blob_threshold`` bytes after compression is put in ``blobs`` under a
content-addressed key (``executions/<arn>/<field>/<sha256>``, or
``machines/<name>/...``: two writers racing for
the same commit can never overwrite each other's blob) and the item holds
``<field>_ref`` instead; reads fetch it back transparently. Without
``blobs``, or if the item is still too big, a write fails with a
``StoreError`` before any request is sent. A loser of a race leaves an
unreferenced blob behind (expire them with a bucket lifecycle rule).

Every botocore error becomes a ``ports`` error; throttling and 5xx are
retried inside botocore (``default_client_config``), never here.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from typing import Any

from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from stepq.backends.aws import commit_dictionary
from stepq.clock import Clock, SystemClock
from stepq.errors import (
    AlreadyExistsError,
    BlobNotFoundError,
    ConflictError,
    NotFoundError,
    StoreError,
)
from stepq.runtime.codec import sortable_instant
from stepq.runtime.ports import Blobs, Commit, ExecutionHeader, Timer

Item = dict[str, dict[str, Any]]  # a low-level (typed) DynamoDB item

COMPRESS_ABOVE = 512  # with a preset dictionary even small bodies shrink
MAX_ITEM_BYTES = 350 * 1024  # DynamoDB's limit is 400 KB; keep a margin
DEFAULT_BLOB_THRESHOLD = 64 * 1024
TIMER_SHARD = "TIMERS"  # one GSI partition for all timers: ~1000 timer writes/s

GSI_STATUS = "by_machine_status"  # gsi1pk=machine, gsi1sk=status#start#id
GSI_START = "by_machine_start"  # gsi1pk=machine, gsi2sk=start#id
GSI_TIMERS = "timers_by_due"  # gsi3pk=TIMERS, gsi3sk=due#timer_id
TTL_ATTRIBUTE = "expires_at"

# Attributes an execution listing needs; input/output stay out of the
# indexes so a big input is not written three times (ListExecutions omits them too).
_SUMMARY = [
    "machine_version",
    "name",
    "status",
    "start_time",
    "stop_time",
]
_MAX_CONDITION_RETRIES = 20


def default_client_config() -> Config:
    """Throttling and 5xx are retried by botocore with client-side rate limiting."""
    return Config(retries={"mode": "adaptive", "max_attempts": 10})


class _ConditionFailed(ConflictError):
    """A condition expression was false; ``old`` is the item that made it so, if returned."""

    def __init__(self, message: str, old: Item | None = None) -> None:
        super().__init__(message)
        self.old = old


def _translate(exc: ClientError, what: str, table: str) -> StoreError:
    error = exc.response.get("Error", {})
    code = error.get("Code", "Unknown")
    message = error.get("Message", "")
    if code == "ConditionalCheckFailedException":
        return _ConditionFailed(f"{what}: condition failed", exc.response.get("Item"))
    if code == "TransactionCanceledException":
        reasons = exc.response.get("CancellationReasons") or []
        codes = [r.get("Code") for r in reasons]
        if "ConditionalCheckFailed" in codes:
            return _ConditionFailed(f"{what}: condition failed")
        if "TransactionConflict" in codes:
            return ConflictError(f"{what}: another transaction holds the item ({message})")
    if code == "ResourceNotFoundException":
        # A missing table is a deployment fault, not a missing execution.
        return StoreError(f"{what}: DynamoDB table {table!r} not found: {message}")
    return StoreError(f"{what}: DynamoDB {code}: {message}")


def _s(value: str) -> dict[str, str]:
    return {"S": value}


def _n(value: int) -> dict[str, str]:
    return {"N": str(value)}


def _text(item: Item, name: str) -> str | None:
    value = item.get(name)
    return None if value is None else value["S"]


_sortable = sortable_instant


def _item_size(item: Item) -> int:
    """DynamoDB's item size: attribute names plus values (numbers approximated high)."""
    total = 0
    for name, value in item.items():
        total += len(name.encode())
        if "S" in value:
            total += len(value["S"].encode())
        elif "B" in value:
            total += len(value["B"])
        elif "N" in value:
            total += len(value["N"]) + 1
        else:
            total += len(json.dumps(value))
    return total


def _seq_key(seq: int) -> str:
    return f"C#{seq:010d}"


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
    ) -> None:
        self._table = table_name
        self._client = client
        self._blobs = blobs
        self._clock = clock or SystemClock()
        self._blob_threshold = blob_threshold

    # --- plumbing ------------------------------------------------------------

    def _call(self, op: str, what: str, **kwargs: Any) -> dict[str, Any]:
        try:
            return getattr(self._client, op)(**kwargs)
        except ClientError as exc:
            raise _translate(exc, what, self._table) from exc
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

    def _pack(self, name: str, value: Any, scope: str) -> Item:
        """``{name: S|B}`` or, for a large value with a blob store, ``{name_ref: S}``."""
        try:
            text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
            raw = text.encode()
        except (TypeError, ValueError) as exc:
            raise StoreError(f"{scope}: {name} is not JSON-safe: {exc}") from exc
        stored: dict[str, Any] = {"S": text}
        size = len(raw)
        if size > COMPRESS_ABOVE:
            packed = commit_dictionary.compress(raw)
            if len(packed) < size:
                stored, size = {"B": packed}, len(packed)
        if self._blobs is not None and size > self._blob_threshold:
            digest = hashlib.sha256(raw).hexdigest()
            try:
                ref = self._blobs.put(f"{scope}/{name}/{digest}", raw)
            except StoreError:
                raise
            except Exception as exc:  # the blob adapter's own failure
                raise StoreError(f"{scope}: storing {name} in blobs failed: {exc}") from exc
            return {f"{name}_ref": _s(ref)}
        return {name: stored}

    def _unpack(self, item: Item, name: str) -> Any:
        value = item.get(name)
        if value is not None:
            if "B" in value:
                return json.loads(commit_dictionary.decompress(value["B"]))
            return json.loads(value["S"])
        ref = item.get(f"{name}_ref")
        if ref is None:
            return None
        if self._blobs is None:
            raise StoreError(
                f"{name} is held in blobs ({ref['S']}) but no blob store is configured"
            )
        try:
            data = self._blobs.get(ref["S"])
        except BlobNotFoundError as exc:  # the item is damaged, not absent
            raise StoreError(f"{name} is held in blobs ({ref['S']}), which is missing") from exc
        except Exception as exc:  # the blob adapter's own failure
            raise StoreError(f"reading {name} from blobs ({ref['S']}) failed: {exc}") from exc
        return json.loads(data)

    def _check_size(self, item: Item, what: str) -> None:
        size = _item_size(item)
        if size > MAX_ITEM_BYTES:
            hint = (
                "lower blob_threshold"
                if self._blobs is not None
                else "configure a blob store (claim check) for large values"
            )
            raise StoreError(
                f"{what}: the item is {size // 1024} KB after compression, over the "
                f"{MAX_ITEM_BYTES // 1024} KB limit kept below DynamoDB's 400 KB; {hint}"
            )

    # --- state machines ------------------------------------------------------

    def put_machine(self, name: str, definition: dict[str, Any]) -> int:
        pk = f"SM#{name}"
        payload = self._pack("definition", definition, f"machines/{name}")
        for _ in range(_MAX_CONDITION_RETRIES):
            newest = self._newest_machine(name, projection="version")
            version = (int(newest["version"]["N"]) if newest else 0) + 1
            item = {"pk": _s(pk), "sk": _s(f"V#{version:010d}"), "version": _n(version), **payload}
            self._check_size(item, f"machine {name!r}")
            try:
                self._call(
                    "put_item",
                    f"put_machine {name!r}",
                    TableName=self._table,
                    Item=item,
                    ConditionExpression="attribute_not_exists(sk)",
                )
                return version
            except _ConditionFailed:
                continue  # someone else took this version number; take the next one
        raise ConflictError(f"put_machine {name!r}: too many concurrent writers")

    def _newest_machine(self, name: str, projection: str | None = None) -> Item | None:
        extra = {"ProjectionExpression": projection} if projection else {}
        page = self._call(
            "query",
            f"get_machine {name!r}",
            TableName=self._table,
            KeyConditionExpression="pk = :pk AND begins_with(sk, :v)",
            ExpressionAttributeValues={":pk": _s(f"SM#{name}"), ":v": _s("V#")},
            ScanIndexForward=False,
            Limit=1,
            ConsistentRead=True,
            **extra,
        )
        items = page.get("Items", [])
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
        return self._unpack(item, "definition"), int(item["version"]["N"])

    # --- executions ----------------------------------------------------------

    def _get(self, pk: str, sk: str, what: str) -> Item | None:
        reply = self._call(
            "get_item",
            what,
            TableName=self._table,
            Key={"pk": _s(pk), "sk": _s(sk)},
            ConsistentRead=True,
        )
        return reply.get("Item")

    # --- executions: the header lives on the first and the final commit ----------

    def _summary(self, header: ExecutionHeader) -> Item:
        # The ARN is the partition key and the machine is gsi1pk: neither is
        # repeated (every byte of a commit counts towards its write units).
        item: Item = {
            "machine_version": _n(header.machine_version),
            "name": _s(header.name),
            "status": _s(header.status),
            "start_time": _s(header.start_time),
            "gsi1pk": _s(header.machine),
        }
        for name in ("stop_time", "error", "cause"):
            value = getattr(header, name)
            if value is not None:
                item[name] = _s(value)
        return item

    def _header(self, item: Item, body: dict[str, Any] | None = None) -> ExecutionHeader:
        body = body or {}
        return ExecutionHeader(
            execution_id=item["pk"]["S"][len("EX#") :],
            machine=item["gsi1pk"]["S"],
            machine_version=int(item["machine_version"]["N"]),
            name=item["name"]["S"],
            status=item["status"]["S"],
            start_time=item["start_time"]["S"],
            input=body.get("input"),
            stop_time=_text(item, "stop_time"),
            output=body.get("output"),
            error=_text(item, "error"),
            cause=_text(item, "cause"),
        )

    def create_execution(self, header: ExecutionHeader, first: Commit) -> None:
        # One conditional PutItem: the first commit is the header (no transaction,
        # no separate header item: an execution's bookkeeping costs no extra write).
        item = self._commit_item(header.execution_id, first, header=header)
        try:
            self._call(
                "put_item",
                f"create_execution {header.execution_id}",
                TableName=self._table,
                Item=item,
                ConditionExpression="attribute_not_exists(sk)",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except _ConditionFailed as exc:
            if exc.old == item:  # botocore resent a put whose reply was lost
                return
            raise AlreadyExistsError(f"execution {header.execution_id} exists already") from exc

    def get_execution(self, execution_id: str) -> ExecutionHeader:
        what = f"get_execution {execution_id}"
        latest = self._latest_item(execution_id, what)
        if latest is None:
            raise NotFoundError(f"execution {execution_id} does not exist")
        first = latest if latest["sk"]["S"] == _seq_key(1) else None
        if first is None:
            first = self._get(f"EX#{execution_id}", _seq_key(1), what)
            if first is None:
                raise NotFoundError(f"execution {execution_id} does not exist")
        header = self._header(first, self._unpack(first, "body"))
        if latest is not first:
            header.status = latest["status"]["S"]
        if "gsi1sk" in latest:  # the final commit: the outcome
            done = self._header(latest, self._unpack(latest, "body"))
            done.input = header.input
            return done
        return header

    def _status_of(self, execution_id: str, what: str) -> Item | None:
        """The summary attributes of the newest commit (a small projected read)."""
        page = self._call(
            "query",
            what,
            TableName=self._table,
            KeyConditionExpression="pk = :pk AND begins_with(sk, :c)",
            ExpressionAttributeValues={":pk": _s(f"EX#{execution_id}"), ":c": _s("C#")},
            ExpressionAttributeNames={"#s": "status"},
            ProjectionExpression="#s, stop_time, gsi1sk",
            ScanIndexForward=False,
            Limit=1,
        )
        items = page.get("Items", [])
        return items[0] if items else None

    def list_executions(
        self, machine: str, status: str | None = None, limit: int = 100
    ) -> list[ExecutionHeader]:
        """Newest first; ``input`` and ``output`` are None (the indexes do not hold them).

        A final status reads ``by_machine_status`` alone. RUNNING, or no
        status, walks ``by_machine_start`` and reads each execution's newest
        commit for its status: one small Query per execution listed, which
        keeps every transition free of index writes.
        """
        out: list[ExecutionHeader] = []
        if limit <= 0:
            return out
        what = f"list_executions {machine!r}"
        if status is not None and status != "RUNNING":
            for item in self._query(
                what,
                IndexName=GSI_STATUS,
                KeyConditionExpression="gsi1pk = :m AND begins_with(gsi1sk, :s)",
                ExpressionAttributeValues={":m": _s(machine), ":s": _s(f"{status}#")},
                ScanIndexForward=False,
                Limit=limit,
            ):
                out.append(self._header(item))
                if len(out) >= limit:
                    break
            return out
        for item in self._query(
            what,
            IndexName=GSI_START,
            KeyConditionExpression="gsi1pk = :m",
            ExpressionAttributeValues={":m": _s(machine)},
            ScanIndexForward=False,
            Limit=limit,
        ):
            header = self._header(item)
            newest = self._status_of(header.execution_id, what)
            if newest is not None:
                header.status = newest["status"]["S"]
                header.stop_time = _text(newest, "stop_time")
            if status is None or header.status == status:
                out.append(header)
                if len(out) >= limit:
                    break
        return out

    # --- history -------------------------------------------------------------

    def _commit_item(
        self, execution_id: str, commit: Commit, header: ExecutionHeader | None = None
    ) -> Item:
        scope = f"executions/{execution_id}"
        body: dict[str, Any] = {"events": commit.events}
        if commit.snapshot:
            body["snapshot"] = commit.snapshot
        if commit.commands:
            body["commands"] = commit.commands
        item: Item = {
            "pk": _s(f"EX#{execution_id}"),
            "sk": _s(_seq_key(commit.seq)),
            "cause_id": _s(commit.cause_id),
            "at": _s(commit.at),
            "status": _s(commit.status),
        }
        if header is not None:  # the first commit: the header, in the start index
            item.update(self._summary(header))
            item["gsi2sk"] = _s(f"{_sortable(header.start_time)}#{header.name}")
            body["input"] = header.input
        if commit.outcome is not None:  # the final commit: the outcome, in the status index
            done = commit.outcome
            item.update(self._summary(done))
            start = _sortable(done.start_time)
            item["gsi1sk"] = _s(f"{done.status}#{start}#{done.name}")
            body["output"] = done.output
        item["status"] = _s(commit.status)
        item.update(self._pack("body", body, scope))
        self._check_size(item, f"commit {commit.seq} of {execution_id}")
        return item

    def _commit(self, item: Item) -> Commit:
        body = self._unpack(item, "body") or {}
        outcome = None
        if "gsi1sk" in item:
            outcome = self._header(item, body)
        return Commit(
            seq=int(item["sk"]["S"][len("C#") :]),
            snapshot=body.get("snapshot") or {},
            events=body.get("events") or [],
            commands=body.get("commands") or [],
            cause_id=item["cause_id"]["S"],
            at=item["at"]["S"],
            status=item["status"]["S"],
            outcome=outcome,
        )

    def append(self, execution_id: str, commit: Commit) -> None:
        item = self._commit_item(execution_id, commit)
        try:
            self._call(
                "put_item",
                f"append {commit.seq} to {execution_id}",
                TableName=self._table,
                Item=item,
                ConditionExpression="attribute_not_exists(sk)",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except _ConditionFailed as exc:
            # botocore may resend a put whose reply was lost: finding our own
            # item is success, not a conflict (the old item saves a read here).
            if exc.old == item:
                return
            raise ConflictError(
                f"commit {commit.seq} of {execution_id} exists already (another writer won)"
            ) from exc

    def _latest_item(self, execution_id: str, what: str) -> Item | None:
        items = self._recent_items(execution_id, what, 1)
        return items[0] if items else None

    def _recent_items(self, execution_id: str, what: str, limit: int) -> list[Item]:
        page = self._call(
            "query",
            what,
            TableName=self._table,
            KeyConditionExpression="pk = :pk AND begins_with(sk, :c)",
            ExpressionAttributeValues={":pk": _s(f"EX#{execution_id}"), ":c": _s("C#")},
            ScanIndexForward=False,
            Limit=limit,
            ConsistentRead=True,
        )
        return list(page.get("Items", []))

    def latest(self, execution_id: str) -> Commit:
        item = self._latest_item(execution_id, f"latest {execution_id}")
        if item is None:
            raise NotFoundError(f"execution {execution_id} has no commits")
        return self._commit(item)

    def recent(self, execution_id: str, limit: int) -> list[Commit]:
        items = self._recent_items(execution_id, f"recent {execution_id}", max(1, limit))
        return [self._commit(item) for item in items]

    def commit(self, execution_id: str, seq: int) -> Commit:
        item = self._get(f"EX#{execution_id}", _seq_key(seq), f"commit {seq} of {execution_id}")
        if item is None:
            raise NotFoundError(f"execution {execution_id} has no commit {seq}")
        return self._commit(item)

    def history(self, execution_id: str) -> list[dict[str, Any]]:
        events: list[dict[str, Any]] = []
        found = False
        for item in self._query(
            f"history {execution_id}",
            KeyConditionExpression="pk = :pk AND begins_with(sk, :c)",
            ExpressionAttributeValues={":pk": _s(f"EX#{execution_id}"), ":c": _s("C#")},
            ConsistentRead=True,
        ):
            found = True
            events.extend((self._unpack(item, "body") or {}).get("events") or [])
        if not found:
            raise NotFoundError(f"execution {execution_id} has no commits")
        return events

    # --- timers and idempotency ----------------------------------------------

    def put_timer(self, timer: Timer) -> None:
        item: Item = {
            "pk": _s(f"TM#{timer.timer_id}"),
            "sk": _s("TM"),
            "timer_id": _s(timer.timer_id),
            "execution_id": _s(timer.execution_id),
            "due": _s(timer.due),
            "event": _s(json.dumps(timer.event, ensure_ascii=False, separators=(",", ":"))),
            "gsi3pk": _s(TIMER_SHARD),
            "gsi3sk": _s(f"{_sortable(timer.due)}#{timer.timer_id}"),
        }
        self._check_size(item, f"timer {timer.timer_id}")
        try:
            self._call(
                "put_item",
                f"put_timer {timer.timer_id}",
                TableName=self._table,
                Item=item,
                ConditionExpression="attribute_not_exists(pk)",
            )
        except _ConditionFailed as exc:
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
                ":p": _s(TIMER_SHARD),
                ":bound": _s(f"{_sortable(now)}$"),
            },
            Limit=limit,
        ):
            out.append(
                Timer(
                    timer_id=item["timer_id"]["S"],
                    execution_id=item["execution_id"]["S"],
                    due=item["due"]["S"],
                    event=json.loads(item["event"]["S"]),
                )
            )
            if len(out) >= limit:
                break
        return out

    def claim_timer(self, timer: Timer) -> bool:
        try:
            self._call(
                "delete_item",
                f"claim_timer {timer.timer_id}",
                TableName=self._table,
                Key={"pk": _s(f"TM#{timer.timer_id}"), "sk": _s("TM")},
                ConditionExpression="attribute_exists(pk)",
            )
        except _ConditionFailed:
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
                    "pk": _s(f"IK#{key}"),
                    "sk": _s("IK"),
                    TTL_ATTRIBUTE: _n(now + ttl_seconds),
                },
                # TTL deletion lags by up to days: an expired key is free again now.
                ConditionExpression="attribute_not_exists(pk) OR #exp <= :now",
                ExpressionAttributeNames={"#exp": TTL_ATTRIBUTE},
                ExpressionAttributeValues={":now": _n(now)},
            )
        except _ConditionFailed:
            return False
        return True


# --- table creation (local use and tests) -----------------------------------------


def _index(name: str, pk: str, sk: str, include: list[str] | None) -> dict[str, Any]:
    projection: dict[str, Any] = {"ProjectionType": "ALL"}
    if include is not None:
        projection = {"ProjectionType": "INCLUDE", "NonKeyAttributes": include}
    return {
        "IndexName": name,
        "KeySchema": [
            {"AttributeName": pk, "KeyType": "HASH"},
            {"AttributeName": sk, "KeyType": "RANGE"},
        ],
        "Projection": projection,
    }


def create_table(client: Any, name: str) -> None:
    """Create the table, its indexes and TTL (on-demand); a no-op if it exists."""
    keys = ["pk", "sk", "gsi1pk", "gsi1sk", "gsi2sk", "gsi3pk", "gsi3sk"]
    try:
        client.create_table(
            TableName=name,
            BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[{"AttributeName": k, "AttributeType": "S"} for k in keys],
            KeySchema=[
                {"AttributeName": "pk", "KeyType": "HASH"},
                {"AttributeName": "sk", "KeyType": "RANGE"},
            ],
            GlobalSecondaryIndexes=[
                _index(GSI_STATUS, "gsi1pk", "gsi1sk", _SUMMARY),
                _index(GSI_START, "gsi1pk", "gsi2sk", _SUMMARY),
                _index(GSI_TIMERS, "gsi3pk", "gsi3sk", None),
            ],
        )
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") != "ResourceInUseException":
            raise _translate(exc, f"create_table {name!r}", name) from exc
    try:
        client.get_waiter("table_exists").wait(
            TableName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 60}
        )
    except (ClientError, BotoCoreError) as exc:
        raise StoreError(f"create_table {name!r}: table did not become active: {exc}") from exc
    _enable_ttl(client, name)


def _enable_ttl(client: Any, name: str) -> None:
    """Turn TTL on; a backend without TTL only loses the clean-up (claim_key checks expiry itself)."""
    try:
        status = client.describe_time_to_live(TableName=name).get("TimeToLiveDescription", {})
        if status.get("TimeToLiveStatus") in ("ENABLED", "ENABLING"):
            return
        client.update_time_to_live(
            TableName=name,
            TimeToLiveSpecification={"AttributeName": TTL_ATTRIBUTE, "Enabled": True},
        )
    except (ClientError, BotoCoreError, AttributeError):
        return

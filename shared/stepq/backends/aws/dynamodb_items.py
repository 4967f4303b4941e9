"""How ``DynamoDBStore`` encodes what it stores: payloads, the size rule, commit items.

A commit's payload (snapshot, events, commands, values; input on the first
commit, output on the final one) is one attribute, ``body``. A value of the
first commit that is the header's input is kept once, as ``input``
(``input_key`` names it). Payloads are stored
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
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from stepq.backends.aws import commit_dictionary
from stepq.backends.aws.dynamodb_table import TIMER_SHARD, TTL_ATTRIBUTE, Item
from stepq.errors import BlobNotFoundError, StoreError
from stepq.runtime.codec import sortable_instant
from stepq.runtime.ports import Blobs, Commit, ExecutionHeader, Timer

COMPRESS_ABOVE = commit_dictionary.COMPRESS_ABOVE
MAX_ITEM_BYTES = commit_dictionary.MAX_ITEM_BYTES
DEFAULT_BLOB_THRESHOLD = 64 * 1024


def s(value: str) -> dict[str, str]:
    """A typed string value (DynamoDB's type ``S``)."""
    return {"S": value}


def n(value: int) -> dict[str, str]:
    """A typed number value (DynamoDB's type ``N``)."""
    return {"N": str(value)}


def optional_text(item: Item, name: str) -> str | None:
    """The string attribute ``name`` of ``item``, or None when it has none."""
    value = item.get(name)
    return None if value is None else value["S"]


def expiry_of(item: Item) -> int | None:
    """The item's ``expires_at`` (epoch seconds), or None: it never expires."""
    value = item.get(TTL_ATTRIBUTE)
    return None if value is None else int(value["N"])


def seq_key(seq: int) -> str:
    """The sort key of commit ``seq``."""
    return f"C#{seq:010d}"


def item_size(item: Item) -> int:
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


class ItemCodec:
    """Items to and from the port's objects; payloads packed, sizes checked, blobs used."""

    def __init__(self, blobs: Blobs | None, blob_threshold: int) -> None:
        self._blobs = blobs
        self._blob_threshold = blob_threshold

    # --- payloads ------------------------------------------------------------

    def pack(self, name: str, value: Any, scope: str) -> Item:
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
            return {f"{name}_ref": s(ref)}
        return {name: stored}

    def unpack(self, item: Item, name: str) -> Any:
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

    def check_size(self, item: Item, what: str) -> None:
        size = item_size(item)
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

    # --- executions: the header lives on the first and the final commit ----------

    @staticmethod
    def summary(header: ExecutionHeader) -> Item:
        # The ARN is the partition key and the machine is gsi1pk: neither is
        # repeated (every byte of a commit counts towards its write units).
        item: Item = {
            "machine_version": n(header.machine_version),
            "name": s(header.name),
            "status": s(header.status),
            "start_time": s(header.start_time),
            "gsi1pk": s(header.machine),
        }
        for name in ("stop_time", "error", "cause"):
            value = getattr(header, name)
            if value is not None:
                item[name] = s(value)
        return item

    @staticmethod
    def header(item: Item, body: dict[str, Any] | None = None) -> ExecutionHeader:
        body = body or {}
        return ExecutionHeader(
            execution_id=item["pk"]["S"][len("EX#") :],
            machine=item["gsi1pk"]["S"],
            machine_version=int(item["machine_version"]["N"]),
            name=item["name"]["S"],
            status=item["status"]["S"],
            start_time=item["start_time"]["S"],
            input=body.get("input"),
            stop_time=optional_text(item, "stop_time"),
            output=body.get("output"),
            error=optional_text(item, "error"),
            cause=optional_text(item, "cause"),
        )

    # --- commits -------------------------------------------------------------

    def commit_item(
        self,
        execution_id: str,
        commit: Commit,
        header: ExecutionHeader | None = None,
        expires: int | None = None,
    ) -> Item:
        scope = f"executions/{execution_id}"
        body: dict[str, Any] = {"events": commit.events}
        if commit.snapshot:
            body["snapshot"] = commit.snapshot
        if commit.commands:
            body["commands"] = commit.commands
        values = commit.values
        item: Item = {
            "pk": s(f"EX#{execution_id}"),
            "sk": s(seq_key(commit.seq)),
            "cause_id": s(commit.cause_id),
            "at": s(commit.at),
            "status": s(commit.status),
        }
        if header is not None:  # the first commit: the header, in the start index
            item.update(self.summary(header))
            item["gsi2sk"] = s(f"{sortable_instant(header.start_time)}#{header.name}")
            body["input"] = header.input
            # The input once: a value that is the header's input is read back from it.
            same = [key for key, value in values.items() if value is header.input]
            if same:
                body["input_key"] = same[0]
                values = {k: v for k, v in values.items() if k != same[0]}
        if values:
            body["values"] = values
        if commit.outcome is not None:  # the final commit: the outcome, in the status index
            done = commit.outcome
            item.update(self.summary(done))
            start = sortable_instant(done.start_time)
            item["gsi1sk"] = s(f"{done.status}#{start}#{done.name}")
            body["output"] = done.output
        item["status"] = s(commit.status)
        if expires is not None:  # the TTL attribute (runtime/retention.py)
            item[TTL_ATTRIBUTE] = n(expires)
        item.update(self.pack("body", body, scope))
        self.check_size(item, f"commit {commit.seq} of {execution_id}")
        return item

    def commit(self, item: Item) -> Commit:
        body = self.unpack(item, "body") or {}
        outcome = None
        if "gsi1sk" in item:
            outcome = self.header(item, body)
        values = body.get("values") or {}
        if "input_key" in body:
            values[body["input_key"]] = body.get("input")
        return Commit(
            seq=int(item["sk"]["S"][len("C#") :]),
            snapshot=body.get("snapshot") or {},
            events=body.get("events") or [],
            commands=body.get("commands") or [],
            cause_id=item["cause_id"]["S"],
            at=item["at"]["S"],
            status=item["status"]["S"],
            outcome=outcome,
            values=values,
        )

    # --- timers --------------------------------------------------------------

    def timer_item(self, timer: Timer) -> Item:
        item: Item = {
            "pk": s(f"TM#{timer.timer_id}"),
            "sk": s("TM"),
            "timer_id": s(timer.timer_id),
            "execution_id": s(timer.execution_id),
            "due": s(timer.due),
            "event": s(json.dumps(timer.event, ensure_ascii=False, separators=(",", ":"))),
            "gsi3pk": s(TIMER_SHARD),
            "gsi3sk": s(f"{sortable_instant(timer.due)}#{timer.timer_id}"),
        }
        self.check_size(item, f"timer {timer.timer_id}")
        return item

    @staticmethod
    def timer(item: Item) -> Timer:
        return Timer(
            timer_id=item["timer_id"]["S"],
            execution_id=item["execution_id"]["S"],
            due=item["due"]["S"],
            event=json.loads(item["event"]["S"]),
        )

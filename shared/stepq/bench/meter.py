"""Count every AWS request the runtime makes, with billing units, via botocore hooks.

``Meter.attach(client)`` registers ``before-call``/``after-call``/``request-created``
handlers on a boto3 client. Each call becomes a ``Call`` record holding the
role that made it (orchestrator, worker, scheduler, client), the bytes sent,
and the units AWS would bill:

- DynamoDB: moto does not report ``ConsumedCapacity``, so units are estimated
  from item sizes: 1 WRU per started KB written (also for an index write, on
  the projected item; doubled in a transaction), 1 RRU per started 4 KB read
  strongly consistent, 0.5 eventually consistent (a Query sums its items'
  sizes before rounding). A conditional write that fails still costs its units.
- SQS: one billed request per started 64 KB of payload (at least one).

Calls are also marked *billable or not*: empty ``ReceiveMessage`` polls,
empty scheduler ``Query`` ticks, ``GetQueueAttributes`` (the embedded
backend's idle detection) and the signing key's read (once per process) and
creation (once per table) are fixed costs of a deployment, not of a
transition, and are kept out of per-transition figures (see BENCHMARKS.md).
"""

from __future__ import annotations

import json
import math
import re
import threading
import time
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from stepq.backends.aws import commit_dictionary
from stepq.runtime.renewal import CLAIM_PREFIX

KB = 1024
SQS_CHUNK = 64 * KB
_CLAUSE = re.compile(
    r"\b(SET|REMOVE|ADD|DELETE)\b(.*?)(?=\b(?:SET|REMOVE|ADD|DELETE)\b|$)", re.I | re.S
)
_ASSIGN = re.compile(r"(#?[A-Za-z_][A-Za-z0-9_]*)\s*=\s*(:[A-Za-z_][A-Za-z0-9_]*)")
# Thread names the embedded runtime gives its loops.
THREAD_ROLES = {
    "stepq-pump-0": "orchestrator",
    "stepq-pump-1": "worker",
    "stepq-scheduler": "scheduler",
}


@dataclass(slots=True)
class Call:
    label: str
    role: str
    service: str
    operation: str
    billable: bool = True
    why_not: str = ""
    sqs_requests: int = 0  # billed 64 KB chunks
    wru: float = 0.0
    rru: float = 0.0
    bytes_sent: int = 0
    messages: int = 0  # messages a ReceiveMessage returned
    items: int = 0  # items a Query returned
    transitions: int = 0  # StateEntered events in commits this call wrote
    error: str = ""


@dataclass(slots=True)
class Invocation:
    """One Lambda invocation's worth of work: a non-empty receive and its handling."""

    label: str
    role: str
    seconds: float


# --- sizes and units (pure) -------------------------------------------------------


def value_size(value: dict[str, Any]) -> int:
    """DynamoDB's size of one typed attribute value (numbers counted high)."""
    if "S" in value:
        return len(value["S"].encode())
    if "B" in value:
        return len(value["B"])
    if "N" in value:
        return len(value["N"]) + 1
    if "BOOL" in value or "NULL" in value:
        return 1
    if "M" in value:
        return 3 + sum(len(k.encode()) + value_size(v) + 1 for k, v in value["M"].items())
    if "L" in value:
        return 3 + sum(value_size(v) + 1 for v in value["L"])
    return len(json.dumps(value, default=str))


def item_size(item: dict[str, dict[str, Any]]) -> int:
    """Attribute names plus values, as DynamoDB bills them."""
    return sum(len(name.encode()) + value_size(v) for name, v in item.items())


def write_units(size: int) -> int:
    return max(1, math.ceil(size / KB))


def read_units(size: int, consistent: bool) -> float:
    units = max(1, math.ceil(size / (4 * KB)))
    return float(units) if consistent else units / 2


def sqs_chunks(payload_bytes: int) -> int:
    return max(1, math.ceil(payload_bytes / SQS_CHUNK))


def message_bytes(body: str, attributes: dict[str, Any] | None) -> int:
    """A message's billed payload: body plus attribute names, types and values."""
    total = len(body.encode())
    for name, attr in (attributes or {}).items():
        total += len(name.encode()) + len(attr.get("DataType", "").encode())
        text = attr.get("StringValue")
        total += len(text.encode()) if text is not None else len(attr.get("BinaryValue") or b"")
    return total


def update_changes(
    expression: str,
    names: dict[str, str] | None,
    values: dict[str, Any] | None,
) -> tuple[dict[str, dict[str, Any]], list[str]]:
    """What an UpdateExpression sets (name -> typed value) and removes ("SET a = :a REMOVE b")."""
    names, values = names or {}, values or {}

    def resolve(token: str) -> str:
        return names.get(token, token)

    sets: dict[str, dict[str, Any]] = {}
    removes: list[str] = []
    for clause, body in _CLAUSE.findall(expression or ""):
        if clause.upper() == "SET":
            for name, placeholder in _ASSIGN.findall(body):
                if placeholder in values:
                    sets[resolve(name)] = values[placeholder]
        elif clause.upper() == "REMOVE":
            removes += [resolve(n.strip()) for n in body.split(",") if n.strip()]
    return sets, removes


@dataclass(frozen=True, slots=True)
class Index:
    name: str
    keys: tuple[str, ...]
    projected: tuple[str, ...] | None  # None: ALL

    def holds(self, attributes: dict[str, int]) -> bool:
        return all(k in attributes for k in self.keys)

    def size(self, attributes: dict[str, int], table_keys: tuple[str, ...]) -> int:
        if self.projected is None:
            return sum(attributes.values())
        wanted = set(self.projected) | set(self.keys) | set(table_keys)
        return sum(size for name, size in attributes.items() if name in wanted)


def indexes_of(description: dict[str, Any]) -> tuple[tuple[str, ...], list[Index]]:
    """Table keys and GSIs from a DescribeTable ``Table`` dict."""
    table_keys = tuple(k["AttributeName"] for k in description.get("KeySchema", []))
    found = []
    for gsi in description.get("GlobalSecondaryIndexes", []) or []:
        projection = gsi.get("Projection", {})
        kind = projection.get("ProjectionType", "ALL")
        projected: tuple[str, ...] | None
        if kind == "ALL":
            projected = None
        elif kind == "KEYS_ONLY":
            projected = ()
        else:
            projected = tuple(projection.get("NonKeyAttributes", []))
        keys = tuple(k["AttributeName"] for k in gsi["KeySchema"])
        found.append(Index(gsi["IndexName"], keys, projected))
    return table_keys, found


def commit_events(item: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """The history events a stored commit item holds ([] for any other item)."""
    value = item.get("body")
    if value is None or not item.get("sk", {}).get("S", "").startswith("C#"):
        return []
    try:
        raw = commit_dictionary.decompress(value["B"]) if "B" in value else value["S"].encode()
        events = json.loads(raw).get("events")
    except (ValueError, KeyError, AttributeError, zlib.error):
        return []
    return [e for e in events if isinstance(e, dict)] if isinstance(events, list) else []


def commit_transitions(item: dict[str, dict[str, Any]]) -> int:
    """StateEntered events in a stored commit item (0 for any other item)."""
    return sum(1 for e in commit_events(item) if str(e.get("type", "")).endswith("StateEntered"))


# --- the meter ----------------------------------------------------------------------


@dataclass
class Meter:
    """Records calls made while ``label`` is set, from threads that have a role."""

    label: str = ""
    calls: list[Call] = field(default_factory=list)
    invocations: list[Invocation] = field(default_factory=list)
    table_keys: tuple[str, ...] = ("pk", "sk")
    indexes: list[Index] = field(default_factory=list)
    faults: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._local = threading.local()
        self._items: dict[tuple[str, str], dict[str, int]] = {}  # known item attribute sizes

    # --- wiring --------------------------------------------------------------

    def attach(self, client: Any) -> None:
        events = client.meta.events
        # before-parameter-build sees the API parameters; before-call only the wire request
        events.register("before-parameter-build", self._before)
        events.register("request-created", self._created)
        events.register("after-call", self._after)

    def describe(self, client: Any, table: str) -> None:
        """Learn the table's keys and indexes (call before ``attach``)."""
        self.table_keys, self.indexes = indexes_of(client.describe_table(TableName=table)["Table"])

    @contextmanager
    def as_role(self, role: str) -> Iterator[None]:
        previous = getattr(self._local, "role", None)
        self._local.role = role
        try:
            yield
        finally:
            self._local.role = previous
            self.end_invocation()

    def role(self) -> str | None:
        explicit = getattr(self._local, "role", None)
        return explicit or THREAD_ROLES.get(threading.current_thread().name)

    # --- Lambda invocation timing ------------------------------------------------

    def end_invocation(self) -> None:
        started = getattr(self._local, "invocation", None)
        if started is None:
            return
        self._local.invocation = None
        label, role, t0, t_last = started
        with self._lock:
            self.invocations.append(Invocation(label, role, max(0.0, t_last - t0)))

    # --- hooks -------------------------------------------------------------------

    def _before(self, model: Any, params: dict[str, Any], **_: Any) -> None:
        role = self.role()
        if not self.label or role is None:
            self._local.call = None
            return
        if model.name == "ReceiveMessage":
            self.end_invocation()  # the pump is back for more: the last batch is done
        call = Call(self.label, role, model.service_model.service_name, model.name)
        self._local.call = (call, params)

    def _created(self, request: Any, **_: Any) -> None:
        current = getattr(self._local, "call", None)
        if current is not None:
            body = request.body
            current[0].bytes_sent += len(body) if body else 0

    def _after(self, model: Any, parsed: dict[str, Any], **_: Any) -> None:
        current = getattr(self._local, "call", None)
        self._local.call = None
        if current is None:
            return
        try:
            self._finish(*current, parsed)
        except Exception as exc:  # a meter bug must never break the runtime it watches
            self.faults.append(f"{current[0].service} {current[0].operation}: {exc!r}")

    def _finish(self, call: Call, params: dict[str, Any], parsed: dict[str, Any]) -> None:
        if "Error" in parsed and parsed["Error"].get("Code"):
            call.error = parsed["Error"]["Code"]
        if call.service == "dynamodb":
            self._dynamodb(call, params, parsed)
        elif call.service == "sqs":
            self._sqs(call, params, parsed)
        now = time.perf_counter()
        started = getattr(self._local, "invocation", None)
        if started is not None:
            self._local.invocation = (*started[:3], now)
        if (
            call.operation == "ReceiveMessage"
            and call.messages
            and call.role
            in (
                "orchestrator",
                "worker",
            )
        ):
            self._local.invocation = (call.label, call.role, now, now)
        with self._lock:
            self.calls.append(call)

    # --- units per service ------------------------------------------------------

    def _sqs(self, call: Call, params: dict[str, Any], parsed: dict[str, Any]) -> None:
        op = call.operation
        if op == "SendMessageBatch":
            size = sum(
                message_bytes(e.get("MessageBody", ""), e.get("MessageAttributes"))
                for e in params.get("Entries", [])
            )
            call.sqs_requests = sqs_chunks(size)
        elif op == "SendMessage":
            size = message_bytes(params.get("MessageBody", ""), params.get("MessageAttributes"))
            call.sqs_requests = sqs_chunks(size)
        elif op == "ReceiveMessage":
            messages = parsed.get("Messages", []) or []
            call.messages = len(messages)
            size = sum(
                message_bytes(m.get("Body", ""), m.get("MessageAttributes")) for m in messages
            )
            call.sqs_requests = sqs_chunks(size)
            if not messages:
                call.billable, call.why_not = False, "empty poll"
        else:
            call.sqs_requests = 1
        if op == "GetQueueAttributes":
            call.billable, call.why_not = False, "embedded idle check"

    def _dynamodb(self, call: Call, params: dict[str, Any], parsed: dict[str, Any]) -> None:
        op = call.operation
        if op == "PutItem":
            call.wru = self._put(params["Item"])
            call.transitions = commit_transitions(params["Item"])
        elif op == "UpdateItem":
            call.wru = self._update(params)
        elif op == "DeleteItem":
            call.wru = self._delete(params["Key"])
        elif op == "TransactWriteItems":
            for entry in params.get("TransactItems", []):
                if "Put" in entry:
                    call.wru += 2 * self._put(entry["Put"]["Item"])
                    call.transitions += commit_transitions(entry["Put"]["Item"])
                elif "Update" in entry:
                    call.wru += 2 * self._update(entry["Update"])
                elif "Delete" in entry:
                    call.wru += 2 * self._delete(entry["Delete"]["Key"])
                else:  # ConditionCheck: billed as a write of the checked item
                    call.wru += 2 * write_units(self._known_size(entry["ConditionCheck"]["Key"]))
        elif op == "GetItem":
            item = parsed.get("Item") or {}
            self._remember(item)
            call.rru = read_units(self._full_size(item), bool(params.get("ConsistentRead")))
        elif op in ("Query", "Scan"):
            items = parsed.get("Items", []) or []
            for item in items:
                self._remember(item)
            call.items = len(items)
            size = sum(self._full_size(i) for i in items)
            call.rru = read_units(size, bool(params.get("ConsistentRead")))
            if call.role == "scheduler" and not items:
                call.billable, call.why_not = False, "empty scheduler tick"
        if op in ("GetItem", "PutItem") and _is_signing_key(params):
            # Read once per process (a Lambda container's cold start), made once per table.
            call.billable, call.why_not = (
                False,
                "signing key: read once per process, made once per table",
            )
        if op == "PutItem" and _is_renewal_claim(params):
            call.billable, call.why_not = False, "the renewal's claim: one per machine and day"

    def _key(self, item: dict[str, Any]) -> tuple[str, str] | None:
        try:
            return tuple(item[k]["S"] for k in self.table_keys)  # type: ignore[return-value]
        except KeyError:
            return None

    def _remember(self, item: dict[str, Any]) -> None:
        key = self._key(item)
        if key is not None:
            sizes = {n: len(n.encode()) + value_size(v) for n, v in item.items()}
            with self._lock:
                known = self._items.get(key, {})
                # a projected read shows only some attributes: keep the larger picture
                self._items[key] = {**known, **sizes} if len(sizes) < len(known) else sizes

    def _full_size(self, item: dict[str, Any]) -> int:
        key = self._key(item)
        known = self._items.get(key, {}) if key else {}
        return max(item_size(item), sum(known.values()))

    def _known_size(self, key_item: dict[str, Any]) -> int:
        key = self._key(key_item)
        return sum(self._items.get(key, {}).values()) if key else 0

    def _index_writes(self, attributes: dict[str, int]) -> int:
        return sum(
            write_units(i.size(attributes, self.table_keys))
            for i in self.indexes
            if i.holds(attributes)
        )

    def _put(self, item: dict[str, Any]) -> int:
        sizes = {n: len(n.encode()) + value_size(v) for n, v in item.items()}
        key = self._key(item)
        old = self._items.get(key, {}) if key else {}
        if key is not None:
            with self._lock:
                self._items[key] = sizes
        units = write_units(max(sum(sizes.values()), sum(old.values())))
        # an overwrite also removes the old index entries
        return units + self._index_writes(sizes) + (self._index_writes(old) if old else 0)

    def _update(self, params: dict[str, Any]) -> int:
        key = self._key(params["Key"])
        old = dict(self._items.get(key, {})) if key else {}
        sets, removes = update_changes(
            params.get("UpdateExpression", ""),
            params.get("ExpressionAttributeNames"),
            params.get("ExpressionAttributeValues"),
        )
        new = dict(old) if old else {n: len(n) + value_size(v) for n, v in params["Key"].items()}
        for name in removes:
            new.pop(name, None)
        for name, value in sets.items():
            new[name] = len(name.encode()) + value_size(value)
        if key is not None:
            with self._lock:
                self._items[key] = new
        touched = set(sets) | set(removes)
        units = write_units(max(sum(old.values()), sum(new.values())))
        for index in self.indexes:
            if not (index.holds(old) or index.holds(new)):
                continue
            if touched & set(index.keys):
                units += 2  # the entry moves: a delete and a put
            elif index.projected is None or touched & set(index.projected):
                units += write_units(index.size(new, self.table_keys))
        return units

    def _delete(self, key_item: dict[str, Any]) -> int:
        key = self._key(key_item)
        old = self._items.pop(key, {}) if key else {}
        return write_units(sum(old.values())) + self._index_writes(old)


def _is_renewal_claim(params: dict[str, Any]) -> bool:
    """The daily renewal's claim of a machine (``runtime.renewal``): fixed per deployment."""
    pk = ((params.get("Item") or {}).get("pk") or {}).get("S") or ""
    return pk.startswith(f"IK#{CLAIM_PREFIX}")


def _is_signing_key(params: dict[str, Any]) -> bool:
    """A request for the table's signing key item (``Store.signing_key``)."""
    key = params.get("Key") or params.get("Item") or {}
    return (key.get("pk") or {}).get("S") == "KEY#signing"

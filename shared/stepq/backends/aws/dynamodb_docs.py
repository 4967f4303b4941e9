"""Catalog documents in the stepq table (``Store.get_doc`` and friends).

One item per document: pk ``DOC#<kind>``, sk the key, ``body`` the JSON text
and ``rev`` its revision. Every write is conditional on the revision the
caller read, so two API calls racing on one state machine or alias cannot
both win (Step Functions answers the loser with ConflictException).

A document of one execution's kind (``retention.EXECUTION_DOC_KINDS``) is
written, with retention on, with the table's TTL attribute ``expires_at``
(``retention.doc_expires_at``). Reads treat an expired one as absent (TTL
deletes it days late), a create overwrites it, and a replace or delete of one
fails as if it were gone. ``renew`` re-stamps one of a running execution.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

from stepq.backends.aws.dynamodb_table import TTL_ATTRIBUTE, ConditionFailed
from stepq.clock import Clock
from stepq.errors import AlreadyExistsError, ConflictError, NotFoundError, StoreError
from stepq.runtime import retention
from stepq.runtime.ports import Doc

MAX_DOC_BYTES = 350 * 1024  # below DynamoDB's 400 KB item limit, with room for the keys


def _doc_key(kind: str, key: str) -> dict[str, dict[str, str]]:
    """A document's item key: partition ``DOC#<kind>``, sort key its key."""
    return {"pk": _s(f"DOC#{kind}"), "sk": _s(key)}


def _s(value: str) -> dict[str, str]:
    return {"S": value}


class DocsTable:
    """The document half of ``DynamoDBStore``; it lends it its ``_call`` and ``_query``."""

    def __init__(
        self,
        table: str,
        call: Callable[..., dict[str, Any]],
        query: Callable[..., Iterator[dict[str, Any]]],
        clock: Clock,
        retention_days: int | None = None,
    ) -> None:
        self._table = table
        self._call = call
        self._query = query
        self._clock = clock
        self._retention_days = retention_days

    def _now(self) -> int:
        """Now in whole epoch seconds, as ``retention.expired`` compares (<= now)."""
        return math.floor(self._clock.now().timestamp())

    def _live(self, item: dict[str, Any] | None) -> dict[str, Any] | None:
        if item is None or TTL_ATTRIBUTE not in item:
            return item
        expired = retention.expired(int(item[TTL_ATTRIBUTE]["N"]), self._clock.now())
        return None if expired else item

    def get(self, kind: str, key: str) -> Doc | None:
        reply = self._call(
            "get_item",
            f"get_doc {kind}/{key}",
            TableName=self._table,
            Key=_doc_key(kind, key),
            ConsistentRead=True,
        )
        item = self._live(reply.get("Item"))
        return None if item is None else _doc(item)

    def put(self, kind: str, key: str, body: dict[str, Any], expected_rev: int | None) -> int:
        try:
            text = json.dumps(body, separators=(",", ":"))
        except (TypeError, ValueError) as exc:
            raise StoreError(f"document {kind}/{key} is not JSON-safe: {exc}") from exc
        if len(text.encode()) > MAX_DOC_BYTES:
            raise StoreError(f"document {kind}/{key} is over {MAX_DOC_BYTES // 1024} KB")
        rev = 1 if expected_rev is None else expected_rev + 1
        item = {
            **_doc_key(kind, key),
            "body": _s(text),
            "rev": {"N": str(rev)},
        }
        expires = retention.doc_expires_at(kind, self._clock.now(), self._retention_days)
        if expires is not None:
            item[TTL_ATTRIBUTE] = {"N": str(expires)}
        # An expired document (TTL deletes it days late) is absent: created over, never replaced.
        now = {":now": {"N": str(self._now())}}
        names = {"ExpressionAttributeNames": {"#e": TTL_ATTRIBUTE}}
        if expected_rev is None:
            condition: dict[str, Any] = {
                "ConditionExpression": "attribute_not_exists(sk) OR #e <= :now",
                "ExpressionAttributeValues": now,
                **names,
            }
        else:
            condition = {
                "ConditionExpression": "rev = :rev AND (attribute_not_exists(#e) OR #e > :now)",
                "ExpressionAttributeValues": {":rev": {"N": str(expected_rev)}, **now},
                **names,
            }
        try:
            self._call(
                "put_item", f"put_doc {kind}/{key}", TableName=self._table, Item=item, **condition
            )
        except ConditionFailed:
            if expected_rev is None:
                raise AlreadyExistsError(f"{kind} {key!r} exists already") from None
            raise ConflictError(f"{kind} {key!r} changed meanwhile") from None
        return rev

    def delete(self, kind: str, key: str, expected_rev: int | None) -> None:
        condition = "attribute_exists(sk) AND (attribute_not_exists(#e) OR #e > :now)"
        values: dict[str, Any] = {":now": {"N": str(self._now())}}
        if expected_rev is not None:
            condition += " AND rev = :rev"
            values[":rev"] = {"N": str(expected_rev)}
        try:
            self._call(
                "delete_item",
                f"delete_doc {kind}/{key}",
                TableName=self._table,
                Key=_doc_key(kind, key),
                ConditionExpression=condition,
                ExpressionAttributeNames={"#e": TTL_ATTRIBUTE},
                ExpressionAttributeValues=values,
            )
        except ConditionFailed:
            if self.get(kind, key) is None:
                raise NotFoundError(f"{kind} {key!r} does not exist") from None
            raise ConflictError(f"{kind} {key!r} changed meanwhile") from None

    def list(self, kind: str, prefix: str = "") -> list[Doc]:
        condition = "pk = :pk"
        values: dict[str, Any] = {":pk": _s(f"DOC#{kind}")}
        if prefix:
            condition += " AND begins_with(sk, :prefix)"
            values[":prefix"] = _s(prefix)
        items = self._query(
            f"list_docs {kind}",
            KeyConditionExpression=condition,
            ExpressionAttributeValues=values,
            ConsistentRead=True,
        )
        return [_doc(item) for item in items if self._live(item) is not None]

    def renew(self, kind: str, key: str, observed: datetime) -> bool:
        """Re-stamp a running execution's document to expire R + W after ``observed``
        (``retention.renewal_stamp``), when its expiry is due; whether it did. One
        GetItem when nothing is due; never revives an expired one, never lowers."""
        if self._retention_days is None:
            return False
        item = self._call(
            "get_item",
            f"renew_doc {kind}/{key}",
            TableName=self._table,
            Key=_doc_key(kind, key),
            ConsistentRead=True,
            ProjectionExpression="#e",
            ExpressionAttributeNames={"#e": TTL_ATTRIBUTE},
        ).get("Item")
        if item is None or TTL_ATTRIBUTE not in item:
            return False
        old = int(item[TTL_ATTRIBUTE]["N"])
        if not retention.renewal_due(old, self._clock.now(), self._retention_days):
            return False
        stamp = retention.renewal_stamp(observed, self._retention_days)
        try:
            self._call(
                "update_item",
                f"renew_doc {kind}/{key}",
                TableName=self._table,
                Key=_doc_key(kind, key),
                UpdateExpression="SET #e = :stamp",
                ConditionExpression="attribute_exists(sk) AND #e > :now AND #e < :stamp",
                ExpressionAttributeNames={"#e": TTL_ATTRIBUTE},
                ExpressionAttributeValues={
                    ":stamp": {"N": str(stamp)},
                    ":now": {"N": str(self._now())},
                },
            )
        except ConditionFailed:
            return False  # expired, deleted or already later meanwhile: leave it
        return True


def _doc(item: dict[str, Any]) -> Doc:
    return Doc(item["sk"]["S"], json.loads(item["body"]["S"]), int(item["rev"]["N"]))

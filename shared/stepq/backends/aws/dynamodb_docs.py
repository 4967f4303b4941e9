"""Catalog documents in the stepq table (``Store.get_doc`` and friends).

One item per document: pk ``DOC#<kind>``, sk the key, ``body`` the JSON text
and ``rev`` its revision. Every write is conditional on the revision the
caller read, so two API calls racing on one state machine or alias cannot
both win (Step Functions answers the loser with ConflictException).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

from stepq.backends.aws.dynamodb_table import ConditionFailed
from stepq.errors import AlreadyExistsError, ConflictError, NotFoundError, StoreError
from stepq.runtime.ports import Doc

MAX_DOC_BYTES = 350 * 1024  # below DynamoDB's 400 KB item limit, with room for the keys


def _s(value: str) -> dict[str, str]:
    return {"S": value}


class DocsTable:
    """The document half of ``DynamoDBStore``; it lends it its ``_call`` and ``_query``."""

    def __init__(
        self,
        table: str,
        call: Callable[..., dict[str, Any]],
        query: Callable[..., Iterator[dict[str, Any]]],
    ) -> None:
        self._table = table
        self._call = call
        self._query = query

    def get(self, kind: str, key: str) -> Doc | None:
        reply = self._call(
            "get_item",
            f"get_doc {kind}/{key}",
            TableName=self._table,
            Key={"pk": _s(f"DOC#{kind}"), "sk": _s(key)},
            ConsistentRead=True,
        )
        item = reply.get("Item")
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
            "pk": _s(f"DOC#{kind}"),
            "sk": _s(key),
            "body": _s(text),
            "rev": {"N": str(rev)},
        }
        if expected_rev is None:
            condition: dict[str, Any] = {"ConditionExpression": "attribute_not_exists(sk)"}
        else:
            condition = {
                "ConditionExpression": "rev = :rev",
                "ExpressionAttributeValues": {":rev": {"N": str(expected_rev)}},
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
        condition = "attribute_exists(sk)"
        values: dict[str, Any] = {}
        if expected_rev is not None:
            condition += " AND rev = :rev"
            values = {"ExpressionAttributeValues": {":rev": {"N": str(expected_rev)}}}
        try:
            self._call(
                "delete_item",
                f"delete_doc {kind}/{key}",
                TableName=self._table,
                Key={"pk": _s(f"DOC#{kind}"), "sk": _s(key)},
                ConditionExpression=condition,
                **values,
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
        return [_doc(item) for item in items]


def _doc(item: dict[str, Any]) -> Doc:
    return Doc(item["sk"]["S"], json.loads(item["body"]["S"]), int(item["rev"]["N"]))

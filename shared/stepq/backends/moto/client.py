"""A boto3 client look-alike that hands requests to moto in-process, without botocore.

Only for the embedded backend's DynamoDB and SQS calls (both JSON protocols).
Behind boto3, each request to moto in-process is built, signed, passed
through botocore's event hooks and parsed back, for a service that lives in
the same process: about a third of the time of a request. Here the request
body is the JSON botocore would send, moto's own request handling
(``botocore_stubber.process_request``) parses, validates and answers it as
it does behind boto3, and the JSON answer comes back as boto3's low-level
client would return it (binary attribute values decoded). An error is
botocore's ``ClientError`` with the code botocore would give.

DynamoDB's item operations (``_ITEM_OPERATIONS``) go one layer further in:
straight to moto's ``DynamoHandler`` method with the parameters as given,
skipping the HTTP request moto would build (werkzeug) and parse back
against the service model, and the JSON both ways: half the time of a
start. That parse only turns base64 binaries into bytes, which these
parameters hold already; errors are serialised by moto as on its own path,
and results keep only the output shape's members, as moto's serializer does.
Parameters are handed to moto, not copied: build a fresh request per call
(the store does). tests/unit/test_moto_client.py checks both paths answer alike.

Written by hand because it is tied to moto's in-process stubber, which no
library exposes as a client. Table creation (with waiters) and anything that
needs botocore's hooks (the cost meter) keep a real boto3 client.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any

from botocore.awsrequest import AWSPreparedRequest
from botocore.exceptions import ClientError

# service -> (X-Amz-Target prefix, extra headers)
_SERVICES: dict[str, tuple[str, dict[str, str]]] = {
    "dynamodb": ("DynamoDB_20120810", {}),
    # SQS's JSON protocol with query-compatible error codes, as botocore asks.
    "sqs": ("AmazonSQS", {"x-amzn-query-mode": "true"}),
}


# Answered by moto's handler method directly (see the module's docstring).
_ITEM_OPERATIONS = frozenset({"GetItem", "PutItem", "UpdateItem", "DeleteItem", "Query"})

# boto3 client attributes that are not API operations: none of them here.
_NOT_OPERATIONS = frozenset(
    {"meta", "exceptions", "get_waiter", "get_paginator", "can_paginate", "close"}
)


class MotoClient:
    def __init__(self, service: str, region: str = "us-east-1") -> None:
        from moto.core.models import botocore_stubber

        if service not in _SERVICES:
            raise ValueError(f"MotoClient speaks {sorted(_SERVICES)}, not {service!r}")
        self._stub = botocore_stubber
        self._service = service
        self._target, self._headers = _SERVICES[service]
        self._url = f"https://{service}.{region}.amazonaws.com/"
        self._region = region
        self._direct = _DirectDynamoDB.build(region) if service == "dynamodb" else None

    def __getattr__(self, name: str) -> Callable[..., dict[str, Any]]:
        if name.startswith("_") or name in _NOT_OPERATIONS:
            raise AttributeError(f"MotoClient has no {name!r} (use a boto3 client for it)")
        operation = "".join(part.capitalize() for part in name.split("_"))  # put_item -> PutItem

        def call(**params: Any) -> dict[str, Any]:
            return self._call(operation, params)

        call.__name__ = name
        return call

    def _call(self, operation: str, params: dict[str, Any]) -> dict[str, Any]:
        if self._direct is not None and operation in _ITEM_OPERATIONS:
            return self._direct.call(operation, params)
        return self._stubbed(operation, params)

    def _stubbed(self, operation: str, params: dict[str, Any]) -> dict[str, Any]:
        """The request as botocore would send it, through moto's own request handling."""
        headers = {
            "X-Amz-Target": f"{self._target}.{operation}",
            "Content-Type": "application/x-amz-json-1.0",
            **self._headers,
        }
        body = json.dumps(params, default=_encode_bytes, separators=(",", ":")).encode()
        request = AWSPreparedRequest("POST", self._url, headers, body, False)
        answer = self._stub.process_request(request)
        if answer is None:
            raise RuntimeError(f"moto has no {self._service} in this process (is mock_aws on?)")
        status, reply_headers, reply = answer
        data: dict[str, Any] = json.loads(reply) if reply else {}
        if status >= 300:
            raise ClientError(_error(status, reply_headers, data), operation)
        if self._service == "dynamodb":
            _decode_binary(data)
        return data


class _DirectDynamoDB:
    """moto's DynamoHandler methods called with the parameters as they are."""

    def __init__(self, region: str, handler_class: Any, account: str, members: Any) -> None:
        self._region = region
        self._handler_class = handler_class
        self._account = account
        self._members = members  # operation -> the output shape's member names

    @classmethod
    def build(cls, region: str) -> _DirectDynamoDB | None:
        """None when moto's internals are not the ones this was written for."""
        try:
            from moto.core.models import DEFAULT_ACCOUNT_ID
            from moto.core.utils import get_service_model
            from moto.dynamodb.responses import DynamoHandler
        except ImportError:
            return None
        if not all(hasattr(DynamoHandler, _method(op)) for op in _ITEM_OPERATIONS):
            return None
        model = get_service_model("dynamodb")
        members = {
            op: frozenset(model.operation_model(op).output_shape.members) for op in _ITEM_OPERATIONS
        }
        return cls(region, DynamoHandler, DEFAULT_ACCOUNT_ID, members)

    def call(self, operation: str, params: dict[str, Any]) -> dict[str, Any]:
        from werkzeug.exceptions import HTTPException

        handler = self._handler_class()
        # What moto's setup_class would have set from the HTTP request.
        handler.region = self._region
        handler.partition = "aws"
        handler.current_account = self._account
        handler.headers = {
            "X-Amz-Target": f"DynamoDB_20120810.{operation}",
            "Content-Type": "application/x-amz-json-1.0",
        }
        handler.response_headers = {}
        handler.querystring = {}
        handler.uri_match = {}
        handler.params = handler.body = params
        try:
            result = getattr(handler, _method(operation))().result
        except HTTPException as exc:  # moto's DynamoDB errors, as its call_action answers them
            status = int(exc.code or 400)
            data = json.loads(exc.description or "{}")
            error = _error(status, dict(exc.get_headers() or []), data)
            raise ClientError(error, operation) from None
        members = self._members[operation]
        return {key: value for key, value in result.items() if key in members}


def _method(operation: str) -> str:
    return "".join("_" + c.lower() if c.isupper() else c for c in operation).lstrip("_")


def _encode_bytes(value: Any) -> str:
    if isinstance(value, (bytes, bytearray, memoryview)):
        return base64.b64encode(bytes(value)).decode("ascii")
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def _error(status: int, headers: dict[str, Any], data: dict[str, Any]) -> dict[str, Any]:
    code = str(data.get("__type", "")).rsplit("#", 1)[-1] or str(status)
    query_code = {k.lower(): v for k, v in headers.items()}.get("x-amzn-query-error")
    if query_code:  # as botocore reads it for a query-compatible service
        code = str(query_code).split(";", 1)[0]
    message = data.get("message", data.get("Message", ""))
    error: dict[str, Any] = {"Error": {"Code": code, "Message": message}}
    error["ResponseMetadata"] = {"HTTPStatusCode": status}
    if "CancellationReasons" in data:
        error["CancellationReasons"] = data["CancellationReasons"]
    if "Item" in data:
        error["Item"] = data["Item"]
        _decode_binary(error)
    return error


def _decode_binary(value: Any) -> None:
    """DynamoDB's B and BS attribute values travel as base64: back to bytes, in place."""
    if isinstance(value, dict):
        for key, inner in value.items():
            if key == "B" and isinstance(inner, str) and len(value) == 1:
                value[key] = base64.b64decode(inner)
            elif key == "BS" and len(value) == 1 and isinstance(inner, list):
                value[key] = [base64.b64decode(v) for v in inner]
            else:
                _decode_binary(inner)
    elif isinstance(value, list):
        for inner in value:
            _decode_binary(inner)

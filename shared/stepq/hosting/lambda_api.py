"""The API behind API Gateway: an event in, the proxy integration's response out.

CONTRACT (``functions/api/app.py`` codes against it)::

    build_context(settings, functions=None, metrics=NO_METRICS) -> ApiContext  # a deployment's store, queues, ARNs
    handle(handler, event) -> dict                          # REST (payload 1.0) or HTTP API (2.0)

Both payload formats become one ``ApiRequest`` for ``api.handler.ApiHandler``,
the handler ``stepq dev`` and ``stepq worker --role api`` serve over HTTP, so
a request gets the same answer everywhere. An event that cannot be read gets
Step Functions' error shape, never a traceback. Ships in the Lambda layer.
"""

from __future__ import annotations

import base64
import binascii
import logging
from collections.abc import Mapping
from typing import Any

from stepq.api.context import ApiContext
from stepq.api.handler import ApiHandler
from stepq.api.protocol import ApiError, ApiRequest, ApiResponse, error_response
from stepq.backends.aws.s3_blobs import S3Blobs
from stepq.backends.aws.settings import Settings, build, runtime_config
from stepq.clock import SystemClock
from stepq.runtime.client import Client
from stepq.runtime.metrics import NO_METRICS, Metrics
from stepq.runtime.orchestrator import Orchestrator

__all__ = ["build_context", "handle", "request_of"]

log = logging.getLogger(__name__)


API_GATEWAY_POLL_SECONDS = 20.0


def build_context(
    settings: Settings,
    functions: Mapping[str, Any] | None = None,
    metrics: Metrics = NO_METRICS,
) -> ApiContext:
    """What the API sees of the deployment ``settings`` names (its table, queues, account);
    the commits it writes (starts, redrives) count through ``metrics``."""
    store, queues, blobs = build(settings)
    config = runtime_config(settings)
    config.metrics = metrics
    orchestrator = Orchestrator(store, queues, SystemClock(), config)
    client = Client(orchestrator, orchestrator.queues)
    ctx = ApiContext.build(orchestrator, client, orchestrator.queues, functions=functions)
    # API Gateway ends a request after 29 s: GetActivityTask answers empty well before.
    ctx.receive_wait = API_GATEWAY_POLL_SECONDS
    # Attachments bypass API Gateway's 10 MB body cap: presigned S3 URLs.
    ctx.attachments = blobs if isinstance(blobs, S3Blobs) else None
    return ctx


def handle(handler: ApiHandler, event: Mapping[str, Any]) -> dict[str, Any]:
    """One API Gateway proxy event -> its response (statusCode, headers, body)."""
    try:
        request = request_of(event)
    except ApiError as exc:
        return response_of(error_response(exc))
    return response_of(handler.handle(request))


def request_of(event: Mapping[str, Any]) -> ApiRequest:
    """The request an API Gateway event carries; ApiError if it is not one."""
    if not isinstance(event, Mapping):
        raise ApiError("ValidationException", "not an API Gateway event")
    context = event.get("requestContext") or {}
    if not isinstance(context, Mapping):
        context = {}
    if event.get("version") == "2.0":  # HTTP API: lower-case headers, method in the context
        http = context.get("http") or {}
        method = str(http.get("method", "")) if isinstance(http, Mapping) else ""
        path = _relative(str(event.get("rawPath") or "/"), str(context.get("stage") or ""))
        person = _dig(context, "authorizer", "jwt", "claims", "cognito:username")
        caller = _person(person) or _dig(context, "authorizer", "iam", "userArn")
    else:  # REST API (payload 1.0): ``path`` is already relative to the stage
        # (POST /people, the Cognito-authorized path, reaches the same handler)
        method = str(event.get("httpMethod") or "")
        path = str(event.get("path") or "/")
        # A Cognito user pool authorizer names a person; IAM auth, a machine's ARN.
        person = _dig(context, "authorizer", "claims", "cognito:username")
        caller = _person(person) or _dig(context, "identity", "userArn")
    headers = event.get("headers") or {}
    if not isinstance(headers, Mapping):
        raise ApiError("ValidationException", "the event's headers are not an object")
    body = event.get("body") or ""
    if not isinstance(body, str):
        raise ApiError("SerializationException", "the event's body is not text")
    try:
        raw = (
            base64.b64decode(body, validate=True) if event.get("isBase64Encoded") else body.encode()
        )
    except (binascii.Error, ValueError):
        raise ApiError("SerializationException", "the body is not base64") from None
    return ApiRequest(
        method=method.upper(),
        path=path,
        headers={str(k).lower(): str(v) for k, v in headers.items()},
        body=raw,
        caller=caller,
    )


def response_of(response: ApiResponse) -> dict[str, Any]:
    return {
        "statusCode": response.status,
        "headers": dict(response.headers),
        "body": response.body.decode("utf-8"),
        "isBase64Encoded": False,
    }


def _person(username: str | None) -> str | None:
    """A Cognito user's name as the caller; one that looks like an ARN is refused.

    ``identity_of`` tells machines (IAM ARNs) from people by the ``arn:``
    prefix, so a user named ``arn:...`` must never pass as a machine.
    """
    if username is not None and username.startswith("arn:"):
        raise ApiError("AccessDeniedException", "a user name may not start with arn:", 403)
    return username


def _relative(path: str, stage: str) -> str:
    """An HTTP API's raw path without its stage (a ``$default`` stage adds none)."""
    prefix = f"/{stage}"
    if stage and stage != "$default" and (path == prefix or path.startswith(prefix + "/")):
        path = path[len(prefix) :] or "/"
    return path


def _dig(data: Mapping[str, Any], *keys: str) -> str | None:
    value: Any = data
    for key in keys:
        value = value.get(key) if isinstance(value, Mapping) else None
    return value if isinstance(value, str) and value else None

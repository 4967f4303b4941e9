"""API Gateway's IAM auth on loopback, for the tests of clients of a deployed API.

``Gateway`` stands in for API Gateway with AWS_IAM auth: it checks each
request's SigV4 Authorization header (credential scope ``execute-api`` and the
region, the signature recomputed with botocore's own signer from the secret of
the access key) and the stage path, answers 403 as API Gateway does when a
check fails, and forwards what passes to an upstream stepq API (``stepq dev``,
``stepq worker --role api``). Clients are given the URL of a host that does
not exist (``DEPLOYED``, ``stepq-api.test``) and reach it through the gateway
as their HTTP proxy (``Gateway.proxy``), as they would reach a deployed stack
(no loopback URL, so they sign); nothing leaves 127.0.0.1.
"""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlparse

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from stepq.api.handler import ApiHandler
from stepq.hosting.lambda_api import handle

REGION = "us-east-1"
KEY_ID = "AKIAGATEWAYTEST00001"
SECRET = "gateway-test-secret-never-shown"
STAGE = "/Prod"
DEPLOYED = f"http://stepq-api.test{STAGE}/"  # .test: reserved, never resolves
USER_ARN = "arn:aws:iam::111111111111:user/console-user"  # whom KEY_ID belongs to
_AUTH = re.compile(
    r"AWS4-HMAC-SHA256 Credential=(?P<key>[^/]+)/(?P<date>\d{8})/(?P<region>[^/]+)/"
    r"(?P<service>[^/]+)/aws4_request, SignedHeaders=(?P<signed>[a-z0-9;-]+), "
    r"Signature=(?P<signature>[0-9a-f]{64})$"
)


def check_signature(
    method: str, url: str, headers: dict[str, str], body: bytes
) -> tuple[str, str] | None:
    """None when API Gateway's IAM auth would let the request in; else (error, message)."""
    match = _AUTH.match(headers.get("authorization", ""))
    if match is None:
        return "MissingAuthenticationTokenException", "Missing Authentication Token"
    if match["service"] != "execute-api":
        return (
            "InvalidSignatureException",
            f"Credential should be scoped to correct service: 'execute-api'. (got {match['service']})",
        )
    if match["region"] != REGION:
        return (
            "InvalidSignatureException",
            f"Credential should be scoped to a valid region, not {match['region']!r}.",
        )
    if match["key"] != KEY_ID:
        return (
            "UnrecognizedClientException",
            "The security token included in the request is invalid.",
        )
    signed = match["signed"].split(";")
    request = AWSRequest(
        method=method,
        url=url,
        data=body,
        headers={name: headers[name] for name in signed if name != "host" and name in headers},
    )
    signer = SigV4Auth(
        Credentials(KEY_ID, SECRET, headers.get("x-amz-security-token")), "execute-api", REGION
    )
    request.context["timestamp"] = headers.get("x-amz-date", "")
    if signer.signed_headers(signer.headers_to_sign(request)) != match["signed"]:
        return "InvalidSignatureException", "The signed headers are not the ones sent."
    expected = signer.signature(
        signer.string_to_sign(request, signer.canonical_request(request)), request
    )
    if expected != match["signature"]:
        return "InvalidSignatureException", "The request signature we calculated does not match."
    return None


class Gateway(ThreadingHTTPServer):
    """API Gateway's IAM auth and stage path in front of ``upstream`` (loopback only).

    ``upstream``: a stepq API's URL (forwarded over HTTP, the caller unknown to it), or
    an ``ApiHandler``, invoked as the deployed Lambda is (``hosting/lambda_api.py``):
    a REST proxy event whose ``requestContext.identity.userArn`` is ``USER_ARN``, the
    IAM caller the signature proved.
    """

    daemon_threads = True

    def __init__(self, upstream: str | ApiHandler) -> None:
        super().__init__(("127.0.0.1", 0), _GatewayHandler)
        self.handler = upstream if isinstance(upstream, ApiHandler) else None
        self.upstream = upstream.rstrip("/") + "/" if isinstance(upstream, str) else ""
        self.passed: list[str] = []  # X-Amz-Target of each request let in
        self.refused: list[str] = []
        self.received: list[dict[str, str]] = []  # every request's headers, lower-cased

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}{STAGE}/"

    @property
    def proxy(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _GatewayHandler(BaseHTTPRequestHandler):
    server: Gateway

    def log_message(self, *args: Any) -> None:  # quiet
        pass

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        headers = {k.lower(): v for k, v in self.headers.items()}
        # A proxied request names the whole URL; a direct one only its path.
        url = self.path if "://" in self.path else f"http://{headers['host']}{self.path}"
        target = headers.get("x-amz-target", "")
        self.server.received.append(headers)
        refusal = check_signature("POST", url, headers, body)
        if refusal is None and urlparse(url).path not in (STAGE, STAGE + "/"):
            refusal = ("MissingAuthenticationTokenException", "Missing Authentication Token")
        if refusal is not None:
            self.server.refused.append(target)
            self._answer(403, json.dumps({"message": refusal[1]}).encode(), refusal[0])
            return
        self.server.passed.append(target)
        if self.server.handler is not None:
            event = {
                "httpMethod": "POST",
                "path": "/",
                "headers": {k: v for k, v in headers.items() if k != "authorization"},
                "body": body.decode(),
                "requestContext": {"identity": {"userArn": USER_ARN}},
            }
            reply = handle(self.server.handler, event)
            self._answer(reply["statusCode"], reply["body"].encode())
            return
        forwarded = urllib.request.Request(
            self.server.upstream,
            data=body,
            headers={"Content-Type": headers.get("content-type", ""), "X-Amz-Target": target},
            method="POST",
        )
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        try:
            with opener.open(forwarded, timeout=30) as reply:
                self._answer(reply.status, reply.read())
        except urllib.error.HTTPError as exc:
            self._answer(exc.code, exc.read())

    def _answer(self, status: int, body: bytes, error_type: str | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/x-amz-json-1.0")
        self.send_header("Content-Length", str(len(body)))
        if error_type:
            self.send_header("x-amzn-ErrorType", error_type)
        self.end_headers()
        self.wfile.write(body)

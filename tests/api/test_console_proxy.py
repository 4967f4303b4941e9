"""``stepq console``'s proxy (hosting/console_proxy.py) over real HTTP, in one process.

The page's side is raw ``http.client`` with the headers a browser sends; the
API's side is ``stepq dev``, reached directly (a loopback API: unsigned) or
through the IAM-auth gateway at a deployed-looking URL (signed here for
execute-api with the user's credentials, which must never reach the page).
"""

from __future__ import annotations

import dataclasses
import http.client
import json
import socket
import threading
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlparse

import pytest
from stepq.api.handler import ApiHandler
from stepq.api.identity import DEV_USER_HEADER
from stepq.backends.aws.request_signing import ExecuteApiSigner
from stepq.cli import app
from stepq.hosting.console_proxy import ConsoleProxy
from stepq.hosting.dev import DevServer
from typer.testing import CliRunner

from api.gateway_support import DEPLOYED, KEY_ID, REGION, SECRET, USER_ARN, Gateway
from api.server_support import module_server

SESSION_TOKEN = "session-token-never-shown-to-the-page"
JSON10 = {"Content-Type": "application/x-amz-json-1.0"}


@pytest.fixture(scope="module")
def dev() -> Iterator[DevServer]:
    with module_server(dev_identities=True) as server:
        yield server


@pytest.fixture
def user_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """The user's AWS credentials (temporary ones: a session token too), no proxy."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", KEY_ID)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET)
    monkeypatch.setenv("AWS_SESSION_TOKEN", SESSION_TOKEN)
    monkeypatch.setenv("AWS_REGION", REGION)
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def gateway(dev: DevServer, user_env: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[Gateway]:
    server = Gateway(dev.url)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv("HTTP_PROXY", server.proxy)  # the only way to stepq-api.test
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def deployed(gateway: Gateway) -> Iterator[ConsoleProxy]:
    """The console for the deployed-looking API, signing with the user's credentials."""
    with ConsoleProxy(DEPLOYED, signer=ExecuteApiSigner(DEPLOYED), port=0) as proxy:
        yield proxy


@pytest.fixture
def local(dev: DevServer) -> Iterator[ConsoleProxy]:
    with ConsoleProxy(dev.url, signer=None, port=0) as proxy:
        yield proxy


Reply = tuple[int, dict[str, str], bytes, bytes]


def raw(
    proxy: ConsoleProxy, method: str, path: str, headers: dict[str, str], body: bytes = b""
) -> Reply:
    """(status, headers, body, every byte the page received) of one request."""
    url = urlparse(proxy.url)
    conn = http.client.HTTPConnection(url.hostname or "", url.port, timeout=30)
    try:
        conn.request(method, path, body=body or None, headers=headers)
        reply = conn.getresponse()
        data = reply.read()
        head = "".join(f"{k}: {v}\r\n" for k, v in reply.getheaders())
        return (
            reply.status,
            {k.lower(): v for k, v in reply.getheaders()},
            data,
            head.encode() + data,
        )
    finally:
        conn.close()


def call(
    proxy: ConsoleProxy, target: str, params: dict[str, Any] | None = None, **headers: str
) -> Reply:
    body = json.dumps(params or {}).encode()
    return raw(proxy, "POST", "/", {**JSON10, "X-Amz-Target": target, **headers}, body)


def test_a_call_reaches_the_deployed_api_signed_and_no_secret_comes_back(
    deployed: ConsoleProxy, gateway: Gateway
) -> None:
    seen = b""
    status, _, body, everything = call(deployed, "Stepq.Ping")
    # The gateway fronts a `stepq dev --dev-identities`, which says so (devIdentities).
    pinged = {"region": REGION, "account": "111111111111", "devIdentities": True}
    assert (status, json.loads(body)) == (200, pinged)
    seen += everything
    status, _, body, everything = call(deployed, "AWSStepFunctions.ListStateMachines")
    assert status == 200 and "stateMachines" in json.loads(body)
    seen += everything
    status, _, body, everything = call(
        deployed, "AWSStepFunctions.DescribeExecution", {"executionArn": "nope"}
    )
    assert status == 400 and json.loads(body)["__type"]  # the API's error, passed through
    seen += everything
    seen += raw(deployed, "GET", "/", {})[3]
    assert gateway.passed == [
        "Stepq.Ping",
        "AWSStepFunctions.ListStateMachines",
        "AWSStepFunctions.DescribeExecution",
    ]
    assert gateway.refused == []
    for headers in gateway.received:  # signed for execute-api with the user's key
        assert f"Credential={KEY_ID}/" in headers["authorization"]
        assert "/execute-api/aws4_request" in headers["authorization"]
        assert headers["x-amz-security-token"] == SESSION_TOKEN
    signatures = [h["authorization"].rsplit("=", 1)[1] for h in gateway.received]
    for secret in [KEY_ID, SECRET, SESSION_TOKEN, *signatures, "Authorization", "X-Amz-Date"]:
        assert secret.encode().lower() not in seen.lower()


def test_the_api_behind_iam_auth_sees_the_user_as_an_iam_caller(
    dev: DevServer, user_env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As in AWS: the gateway proves the signature, the Lambda handler gets the caller."""
    ctx = dataclasses.replace(dev.context, local_operator=False, dev_identities=False)
    lambda_gateway = Gateway(ApiHandler(ctx))
    threading.Thread(target=lambda_gateway.serve_forever, daemon=True).start()
    monkeypatch.setenv("HTTP_PROXY", lambda_gateway.proxy)
    try:
        with ConsoleProxy(DEPLOYED, signer=ExecuteApiSigner(DEPLOYED), port=0) as proxy:
            status, _, body, _ = call(proxy, "Stepq.WhoAmI")
    finally:
        lambda_gateway.shutdown()
        lambda_gateway.server_close()
    assert status == 200
    assert json.loads(body) == {"id": USER_ARN, "kind": "machine", "groups": []}


def test_an_unsigned_request_is_refused_by_the_gateway_and_the_refusal_passed_on(
    gateway: Gateway,
) -> None:
    with ConsoleProxy(DEPLOYED, signer=None, port=0) as unsigned:
        status, headers, body, _ = call(unsigned, "Stepq.Ping")
    assert status == 403
    assert headers["x-amzn-errortype"] == "MissingAuthenticationTokenException"
    assert json.loads(body) == {"message": "Missing Authentication Token"}
    assert gateway.refused == ["Stepq.Ping"]


def test_the_dev_header_reaches_a_local_api_and_never_a_deployed_one(
    local: ConsoleProxy, deployed: ConsoleProxy, gateway: Gateway
) -> None:
    status, _, body, _ = call(local, "Stepq.WhoAmI", **{DEV_USER_HEADER: "alice"})
    assert status == 200 and json.loads(body)["id"] == "alice"
    call(deployed, "Stepq.Ping", **{DEV_USER_HEADER: "alice"})
    assert gateway.received and DEV_USER_HEADER.lower() not in gateway.received[-1]


def test_an_api_that_does_not_answer_is_a_clear_json_error() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with ConsoleProxy(f"http://127.0.0.1:{port}", signer=None, port=0) as proxy:
        status, headers, body, _ = call(proxy, "Stepq.Ping")
    reply = json.loads(body)
    assert (status, reply["__type"]) == (502, "ApiUnreachable")
    assert f"cannot reach the stepq API at http://127.0.0.1:{port}/" in reply["message"]
    assert "Traceback" not in reply["message"] and headers["x-amzn-errortype"] == "ApiUnreachable"


@pytest.mark.parametrize(
    ("method", "path", "headers", "status", "code"),
    [
        ("POST", "/", {**JSON10, "X-Amz-Target": "Stepq.Ping", "Host": "evil.example"}, 403, "AccessDeniedException"),
        ("GET", "/", {"Host": "evil.example:8084"}, 403, "AccessDeniedException"),
        ("POST", "/", {**JSON10, "X-Amz-Target": "Stepq.Ping", "Origin": "https://evil.example"}, 403, "AccessDeniedException"),
        ("POST", "/", {**JSON10, "X-Amz-Target": "Stepq.Ping", "Sec-Fetch-Site": "cross-site"}, 403, "AccessDeniedException"),
        ("POST", "/", {"Content-Type": "text/plain", "X-Amz-Target": "Stepq.Ping"}, 415, "UnsupportedMediaType"),
        ("POST", "/", {"Content-Type": "application/x-www-form-urlencoded"}, 415, "UnsupportedMediaType"),
        ("POST", "/", JSON10, 400, "UnknownOperationException"),
        ("POST", "/", {**JSON10, "X-Amz-Target": "Other.Thing"}, 400, "UnknownOperationException"),
        ("POST", "/elsewhere", {**JSON10, "X-Amz-Target": "Stepq.Ping"}, 404, "UnknownOperationException"),
        ("OPTIONS", "/", {"Origin": "https://evil.example"}, 405, "UnknownOperationException"),
        ("PUT", "/", JSON10, 405, "UnknownOperationException"),
    ],
)  # fmt: skip
def test_what_is_not_the_console_s_own_api_call_is_refused_and_not_forwarded(
    deployed: ConsoleProxy,
    gateway: Gateway,
    method: str,
    path: str,
    headers: dict[str, str],
    status: int,
    code: str,
) -> None:
    got, answer, body, _ = raw(deployed, method, path, headers, b"{}" if method != "GET" else b"")
    assert (got, json.loads(body)["__type"]) == (status, code)
    assert answer["x-amzn-errortype"] == code
    assert gateway.received == []


def test_the_page_s_own_origin_is_served(local: ConsoleProxy) -> None:
    own = {"Origin": local.url, "Sec-Fetch-Site": "same-origin"}
    assert call(local, "Stepq.Ping", **own)[0] == 200


def test_the_console_s_files_are_served_and_nothing_outside_them(local: ConsoleProxy) -> None:
    status, headers, body, _ = raw(local, "GET", "/", {})
    assert status == 200 and headers["content-type"].startswith("text/html")
    assert b"<html" in body and "default-src 'none'" in headers["content-security-policy"]
    for path in ["/console/../../errors.py", "/console/%2e%2e/x", "/console/nope.js"]:
        assert raw(local, "GET", path, {})[0] == 404


# --- the command ---------------------------------------------------------------------------


def test_the_command_without_credentials_is_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent/stepq-aws-config")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/stepq-aws-credentials")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")  # no instance-role lookup
    result = CliRunner().invoke(app, ["console", "--api-url", DEPLOYED, "--port", "0"])
    assert result.exit_code == 2
    assert "no AWS credentials found to sign requests" in result.output
    assert "Traceback" not in result.output and len(result.output.strip().splitlines()) == 1


def test_the_command_refuses_a_url_that_is_not_http() -> None:
    result = CliRunner().invoke(app, ["console", "--api-url", "ftp://x", "--port", "0"])
    assert result.exit_code == 2 and "http(s) URL" in result.output

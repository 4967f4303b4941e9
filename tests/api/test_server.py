"""The HTTP front: protocol checks, loopback Host, errors in Step Functions' shape."""

from __future__ import annotations

import http.client
import json
from typing import Any
from urllib.parse import urlparse

import pytest
from stepq.hosting.dev import DevServer


def _post(dev: DevServer, body: bytes, headers: dict[str, str]) -> tuple[int, dict[str, Any]]:
    url = urlparse(dev.url)
    conn = http.client.HTTPConnection(url.hostname or "", url.port, timeout=10)
    try:
        conn.request("POST", "/", body=body, headers=headers)
        reply = conn.getresponse()
        return reply.status, json.loads(reply.read() or b"{}")
    finally:
        conn.close()


JSON10 = {"Content-Type": "application/x-amz-json-1.0"}


def test_stepq_ping_answers_with_the_account_and_region(dev: DevServer) -> None:
    status, body = _post(dev, b"{}", {**JSON10, "X-Amz-Target": "Stepq.Ping"})
    assert status == 200 and body == {"region": "us-east-1", "account": "111111111111"}


def test_a_foreign_host_header_is_refused(dev: DevServer) -> None:
    headers = {**JSON10, "X-Amz-Target": "Stepq.Ping", "Host": "attacker.example:8083"}
    status, body = _post(dev, b"{}", headers)
    assert status == 403 and body["__type"] == "AccessDeniedException"


@pytest.mark.parametrize(
    ("body", "headers", "code"),
    [
        (
            b"{}",
            {"Content-Type": "text/plain", "X-Amz-Target": "Stepq.Ping"},
            "UnsupportedMediaType",
        ),
        (b"{}", JSON10, "UnknownOperationException"),
        (b"{}", {**JSON10, "X-Amz-Target": "AWSStepFunctions.Nope"}, "UnknownOperationException"),
        (b"{not json", {**JSON10, "X-Amz-Target": "Stepq.Ping"}, "SerializationException"),
        (b"[1]", {**JSON10, "X-Amz-Target": "Stepq.Ping"}, "SerializationException"),
    ],
)
def test_bad_requests_get_a_4xx_in_the_error_shape(
    dev: DevServer, body: bytes, headers: dict[str, str], code: str
) -> None:
    status, reply = _post(dev, body, headers)
    assert 400 <= status < 500 and reply["__type"] == code and reply["message"]


def test_a_body_over_one_megabyte_is_refused(dev: DevServer) -> None:
    status, reply = _post(dev, b" " * (1024 * 1024 + 1), {**JSON10, "X-Amz-Target": "Stepq.Ping"})
    assert status == 413 and reply["__type"] == "ValidationException"


def _raw(dev: DevServer, data: bytes) -> bytes:
    """Send ``data`` as it is and read until the server closes or answers once."""
    import socket

    url = urlparse(dev.url)
    with socket.create_connection((url.hostname or "", url.port or 0), timeout=10) as sock:
        sock.sendall(data)
        sock.shutdown(socket.SHUT_WR)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def _ping_request(*header_lines: str, version: str = "HTTP/1.1") -> bytes:
    lines = [f"POST / {version}", *header_lines, "Content-Length: 2", "", "{}"]
    return "\r\n".join(lines).encode()


def test_header_names_are_case_insensitive_and_keep_alive_serves_two_requests(
    dev: DevServer,
) -> None:
    one = _ping_request(
        "host: 127.0.0.1", "CONTENT-TYPE: application/x-amz-json-1.0", "x-AMZ-target: Stepq.Ping"
    )
    reply = _raw(dev, one + one)
    assert reply.count(b"HTTP/1.1 200") == reply.count(b"Server: stepq") == 2, reply[:300]


@pytest.mark.parametrize(
    "request_bytes",
    [
        _ping_request("Host: 127.0.0.1", "Bad Header Line"),  # no colon
        _ping_request("Host: 127.0.0.1", "X-Amz-Target : Stepq.Ping"),  # space before colon
        _ping_request("Host: 127.0.0.1", " folded: continuation"),  # obsolete line folding
        _ping_request(*[f"X-Pad-{i}: {i}" for i in range(101)]),  # too many headers
        _ping_request("Host: 127.0.0.1", "X-Long: " + "a" * 70000),
        b"POST /\r\n\r\n",  # no version
        _ping_request("Host: 127.0.0.1", version="HTTP/2.0"),
    ],
)
def test_malformed_request_heads_get_a_400_and_the_connection_closes(
    dev: DevServer, request_bytes: bytes
) -> None:
    reply = _raw(dev, request_bytes + request_bytes)
    assert reply.startswith(b"HTTP/1.") and b" 400 " in reply.split(b"\r\n")[0], reply[:200]
    assert reply.count(b"Server: stepq") == 1  # nothing after a refused head is read
    assert b'"__type": "SerializationException"' in reply


def test_an_http_1_0_request_is_answered_and_the_connection_closed(dev: DevServer) -> None:
    one = _ping_request(
        "Host: 127.0.0.1",
        "Content-Type: application/x-amz-json-1.0",
        "X-Amz-Target: Stepq.Ping",
        version="HTTP/1.0",
    )
    reply = _raw(dev, one + one)
    assert reply.count(b" 200 ") == 1 and b'"account"' in reply

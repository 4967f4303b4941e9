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

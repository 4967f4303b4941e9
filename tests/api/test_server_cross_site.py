"""The API server refuses what another web page makes a browser send (browser_guard.py).

Raw HTTP with the headers a browser adds: ``Origin`` on a cross-origin POST,
``Sec-Fetch-Site``, and a ``Host`` that DNS rebinding would give. Clients
that are not browsers (boto3, the CLI) send neither and are served.
"""

from __future__ import annotations

import http.client
import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlparse

import pytest
from stepq.hosting.browser_guard import cross_site, host_name
from stepq.hosting.dev import DevServer

from api.server_support import module_server

PING = {"Content-Type": "application/x-amz-json-1.0", "X-Amz-Target": "Stepq.Ping"}


@pytest.fixture(scope="module")
def dev() -> Iterator[DevServer]:
    with module_server() as server:
        yield server


def _send(dev: DevServer, method: str, path: str, headers: dict[str, str]) -> tuple[int, Any]:
    url = urlparse(dev.url)
    conn = http.client.HTTPConnection(url.hostname or "", url.port, timeout=10)
    try:
        conn.request(method, path, body=b"{}" if method == "POST" else None, headers=headers)
        reply = conn.getresponse()
        return reply.status, json.loads(reply.read() or b"{}")
    finally:
        conn.close()


def _own(dev: DevServer) -> str:
    return urlparse(dev.url).netloc  # 127.0.0.1:PORT, the Host http.client sends


@pytest.mark.parametrize(
    "browser",
    [
        {"Origin": "https://attacker.example"},
        {"Origin": "http://localhost:3000"},  # another local app, another origin
        {"Origin": "null"},  # a sandboxed frame or a file: page
        {"Sec-Fetch-Site": "cross-site"},
        {"Sec-Fetch-Site": "same-site"},  # another port of this host
    ],
)
def test_a_post_from_another_page_is_refused(dev: DevServer, browser: dict[str, str]) -> None:
    status, body = _send(dev, "POST", "/", {**PING, **browser})
    assert status == 403 and body["__type"] == "AccessDeniedException"
    assert "refused" in body["message"]


def test_the_server_s_own_pages_and_other_clients_are_served(dev: DevServer) -> None:
    own = {"Origin": f"http://{_own(dev)}", "Sec-Fetch-Site": "same-origin"}
    assert _send(dev, "POST", "/", {**PING, **own})[0] == 200
    assert _send(dev, "POST", "/", {**PING, "Sec-Fetch-Site": "none"})[0] == 200
    assert _send(dev, "POST", "/", PING)[0] == 200  # boto3, the CLI: no browser headers


def test_a_post_without_the_json_type_or_target_changes_nothing(dev: DevServer) -> None:
    form = {"Content-Type": "application/x-www-form-urlencoded", "X-Amz-Target": "Stepq.Ping"}
    assert _send(dev, "POST", "/", form)[1]["__type"] == "UnsupportedMediaType"
    bare = {"Content-Type": "application/x-amz-json-1.0"}
    assert _send(dev, "POST", "/", bare)[1]["__type"] == "UnknownOperationException"


@pytest.mark.parametrize("path", ["/", "/health", "/console/", "/console/app.js"])
def test_a_get_with_a_foreign_host_is_refused(dev: DevServer, path: str) -> None:
    status, body = _send(dev, "GET", path, {"Host": f"rebound.example:{urlparse(dev.url).port}"})
    assert status == 403 and body["__type"] == "AccessDeniedException"


def test_the_origin_must_name_the_host_it_was_sent_to() -> None:
    assert cross_site({"host": "127.0.0.1:8083", "origin": "http://127.0.0.1:8083"}) is None
    assert cross_site({"host": "127.0.0.1:8083", "origin": "http://127.0.0.1:8084"})
    assert cross_site({"host": "localhost:8083", "origin": "http://127.0.0.1:8083"})
    assert cross_site({"origin": "http://127.0.0.1:8083"})  # no Host to compare with
    assert host_name("[::1]:8083") == "[::1]" and host_name("LocalHost:1") == "localhost"

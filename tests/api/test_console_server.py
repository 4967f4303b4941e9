"""``stepq dev`` serves the console's files: the page, its modules, and nothing else."""

from __future__ import annotations

import http.client
from collections.abc import Iterator
from typing import Any

import pytest
from stepq.hosting.dev import DevServer

from api.server_support import module_server


@pytest.fixture(scope="module")
def dev() -> Iterator[DevServer]:
    with module_server() as server:
        yield server


def _get(dev: DevServer, path: str, host: str | None = None) -> tuple[int, dict[str, str], bytes]:
    port = int(dev.url.rsplit(":", 1)[1])
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.putrequest("GET", path, skip_host=host is not None)
        if host is not None:
            connection.putheader("Host", host)
        connection.endheaders()
        reply = connection.getresponse()
        headers: dict[str, Any] = {k.lower(): v for k, v in reply.getheaders()}
        return reply.status, headers, reply.read()
    finally:
        connection.close()


def test_console_page_and_assets_are_served_with_their_types(dev: DevServer) -> None:
    status, headers, body = _get(dev, "/")
    assert status == 200 and headers["content-type"].startswith("text/html")
    assert b'src="/console/app.js"' in body
    assert "script-src 'self'" in headers["content-security-policy"]
    assert headers["x-content-type-options"] == "nosniff"
    for path, kind in [
        ("/console/app.js", "text/javascript"),
        ("/console/pages/execution.js", "text/javascript"),
        ("/console/app.css", "text/css"),
        ("/console/vendor/dagre.min.js?v=1", "text/javascript"),
    ]:
        status, headers, body = _get(dev, path)
        assert status == 200 and headers["content-type"].startswith(kind), path
        assert body


@pytest.mark.parametrize(
    "path",
    [
        "/console/../__init__.py",
        "/console/..%2f__init__.py",
        "/console/%2e%2e/__init__.py",
        "/console/vendor/../../__init__.py",
        "/console//etc/passwd",
        "/console/",
        "/console/missing.js",
        "/console/vendor",
        "/console/app.js%00.css",
    ],
)
def test_console_refuses_paths_outside_its_folder(dev: DevServer, path: str) -> None:
    status, _, body = _get(dev, path)
    assert status == 404 and b"import" not in body


def test_console_answers_loopback_hosts_only(dev: DevServer) -> None:
    status, _, body = _get(dev, "/", host="attacker.example:8083")
    assert status == 403 and b"loopback" in body
    status, _, _ = _get(dev, "/console/app.js", host="localhost")
    assert status == 200


def test_console_health_is_still_json(dev: DevServer) -> None:
    status, headers, body = _get(dev, "/health")
    assert status == 200 and headers["content-type"] == "application/json" and b"stepq" in body

"""The stand-ins themselves: loopback only, reset forgets everything, stop really stops."""

from __future__ import annotations

import socket
from typing import Any

import boto3
import pytest
import stepq_test_servers as servers

pytestmark = pytest.mark.integration


def _client(service: str, server: servers.Server) -> Any:
    return boto3.client(service, region_name="us-east-1", endpoint_url=server.url)


def test_servers_listen_on_loopback(
    dynamodb_local: servers.Server, moto_server: servers.Server
) -> None:
    for server in (dynamodb_local, moto_server):
        assert server.url.startswith("http://127.0.0.1:")
        assert server.alive()
    assert "TableNames" in _client("dynamodb", dynamodb_local).list_tables()


def test_moto_reset_forgets_every_resource(moto_server: servers.Server) -> None:
    sqs = _client("sqs", moto_server)
    sqs.create_queue(QueueName="stepq-reset-probe")
    assert any(u.endswith("/stepq-reset-probe") for u in sqs.list_queues()["QueueUrls"])
    moto_server.reset()
    assert "QueueUrls" not in sqs.list_queues() or not sqs.list_queues()["QueueUrls"]


def test_stop_ends_the_process_and_frees_the_port(wire_env: None) -> None:
    try:
        server = servers.start(servers.MOTO_SERVER)
    except servers.Unavailable as exc:
        servers.unavailable(str(exc))
    status, _ = server.request("GET", "/moto-api/")
    assert status == 200
    server.stop()
    assert not server.alive()
    with socket.socket() as sock:
        assert sock.connect_ex((servers.HOST, server.port)) != 0  # nothing listens now
    server.stop()  # twice is harmless

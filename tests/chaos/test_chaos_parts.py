"""The chaos harness's own parts: the outage proxy and the verdict."""

from __future__ import annotations

import contextlib
import socket
import socketserver
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from chaoslib.proxy import OutageProxy
from chaoslib.verdict import judge, summary_line
from chaoslib.workload import Expected, Planned
from stepq.runtime.ports import ExecutionHeader


class _Echo(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        try:
            while data := self.request.recv(1024):
                self.request.sendall(data)
        except OSError:
            pass  # the proxy reset us: that is the point


@pytest.fixture
def echo_port() -> Iterator[int]:
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _Echo)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def _roundtrip(port: int) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=2) as sock:
        sock.sendall(b"ping")
        return sock.recv(1024)


def test_chaos_proxy_forwards_resets_during_an_outage_and_recovers(echo_port: int) -> None:
    proxy = OutageProxy(echo_port)
    port = proxy.start()
    try:
        assert _roundtrip(port) == b"ping"
        held = socket.create_connection(("127.0.0.1", port), timeout=2)
        held.sendall(b"a")
        assert held.recv(16) == b"a"
        proxy.outage()
        with pytest.raises(OSError):  # the open connection was reset ...
            held.sendall(b"b")
            if not held.recv(16):
                raise ConnectionResetError("closed")
        with pytest.raises(OSError):  # ... and new ones are refused
            if not _roundtrip(port):
                raise ConnectionResetError("closed")
        held.close()
        proxy.restore()
        assert _roundtrip(port) == b"ping"
        assert proxy.stats.cut >= 1 and proxy.stats.refused >= 1
    finally:
        proxy.stop()


def test_chaos_proxy_blackhole_answers_nothing(echo_port: int) -> None:
    proxy = OutageProxy(echo_port, mode="blackhole")
    port = proxy.start()
    try:
        proxy.outage()
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as sock:
            sock.sendall(b"ping")
            with pytest.raises(TimeoutError):
                sock.recv(16)
        proxy.restore()
        assert _roundtrip(port) == b"ping"
    finally:
        proxy.stop()


def _event(i: int, kind: str, name: str) -> dict[str, Any]:
    return {"id": i, "type": kind, "details": {"name": name}}


HISTORY = [
    _event(1, "ExecutionStarted", ""),
    _event(2, "TaskStateEntered", "Charge"),
    _event(3, "TaskStateExited", "Charge"),
    _event(4, "ExecutionSucceeded", ""),
]
PLANNED = Planned("order_saga", "saga-1", {}, "happy")
EXPECTED = Expected("SUCCEEDED", {"ok": 1}, None, None, HISTORY)


def _header(status: str, output: Any = None) -> ExecutionHeader:
    return ExecutionHeader("arn", "order_saga", 1, "saga-1", status, "t", output=output)


def test_chaos_verdict_correct_wrong_stuck_missing() -> None:
    assert judge(PLANNED, EXPECTED, _header("SUCCEEDED", {"ok": 1}), HISTORY).correct
    wrong = judge(PLANNED, EXPECTED, _header("SUCCEEDED", {"ok": 2}), HISTORY)
    assert not wrong.correct and not wrong.stuck and "output differs" in wrong.detail
    assert judge(PLANNED, EXPECTED, _header("RUNNING"), HISTORY[:2]).stuck
    missing = judge(PLANNED, EXPECTED, None, [])
    assert missing.stuck and missing.status == "MISSING"


def test_chaos_verdict_a_transition_twice_is_double() -> None:
    doubled = [*HISTORY[:3], _event(4, "TaskStateEntered", "Charge"), _event(5, "X", "")]
    finding = judge(PLANNED, EXPECTED, _header("SUCCEEDED", {"ok": 1}), doubled)
    assert finding.correct and finding.double
    assert finding.doubles == {"TaskStateEntered:Charge": (2, 1)}
    repeated_ids = [*HISTORY[:3], {**HISTORY[3], "id": 3}]
    assert judge(PLANNED, EXPECTED, _header("SUCCEEDED", {"ok": 1}), repeated_ids).double
    assert summary_line(3, 4, 1, 0) == "correct=3/4 stuck=1 double=0"


def test_chaos_proxy_flaky_lets_some_through_and_cuts_others(echo_port: int) -> None:
    proxy = OutageProxy(echo_port, mode="flaky", seed=5)
    port = proxy.start()
    try:
        proxy.outage()
        answered = 0
        for _ in range(30):
            with contextlib.suppress(OSError):  # refused or its reply cut
                answered += _roundtrip(port) == b"ping"
        assert 0 < answered < 30
        assert proxy.stats.refused > 0 and proxy.stats.cut > 0
        proxy.restore()
        assert all(_roundtrip(port) == b"ping" for _ in range(5))
    finally:
        proxy.stop()

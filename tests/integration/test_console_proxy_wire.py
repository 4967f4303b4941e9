"""``stepq console`` in front of ``stepq worker --role api``, every piece its own process.

page (raw HTTP) -> ``stepq console --api-url https://stepq-api.test/Prod/``
-> the IAM-auth gateway stand-in (api/gateway_support.py, reached as the
console's HTTP proxy: the only way to that host) -> ``stepq worker --role
api`` -> the table and queues on the moto server. The gateway lets in only
requests signed for execute-api with the user's key, so every call that
answers was signed by the console process; nothing the page receives holds
the user's credentials.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import subprocess
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest
import stepq_test_servers as servers
from api.gateway_support import DEPLOYED, KEY_ID, REGION, SECRET, Gateway
from stepq_roles import SERVING, role_process, stepq_command

pytestmark = pytest.mark.integration

SESSION = "console-session-token-kept-from-the-page"
CONSOLE = re.compile(r"stepq console: (http://\S+?)/? for the API")
PASS = {"StartAt": "Done", "States": {"Done": {"Type": "Pass", "End": True}}}


@pytest.fixture
def environ(moto_server: servers.Server) -> dict[str, str]:
    """One fresh deployment on the moto server (table and queues)."""
    moto_server.reset()
    run = uuid.uuid4().hex[:8]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("STEPQ_", "AWS_"))}
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"):
        env.pop(name, None)
    env.update({k: v for k, v in servers.dummy_aws_env().items() if v is not None})
    env.update(
        {
            "STEPQ_TABLE": f"stepq-console-{run}",
            "STEPQ_QUEUE_PREFIX": f"con{run}",
            "STEPQ_ENDPOINT_URL": moto_server.url,
            "STEPQ_ACCOUNT": "123456789012",
            "PYTHONUNBUFFERED": "1",
        }
    )
    return env


@pytest.fixture
def gateway(environ: dict[str, str], tmp_path: Path) -> Iterator[Gateway]:
    """The API role behind the gateway."""
    with role_process("api", environ, tmp_path / "api.log", "--port", "0") as output:
        match = SERVING.search(output())
        assert match, output()
        server = Gateway(match.group(1))
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield server
        finally:
            server.shutdown()
            server.server_close()


@contextmanager
def _console(env: dict[str, str], log: Path, *args: str) -> Iterator[Callable[[], str]]:
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [*stepq_command(), "console", *args],
            env=env,
            cwd=servers.REPO,
            stdin=subprocess.DEVNULL,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )

    def output() -> str:
        return log.read_text(errors="replace")

    try:
        deadline = time.monotonic() + 60
        while not CONSOLE.search(output()):
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"stepq console did not start:\n{output()[-3000:]}", pytrace=False)
            time.sleep(0.1)
        yield output
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


def _post(url: str, target: str, params: dict[str, Any]) -> tuple[int, Any, bytes]:
    parsed = urlparse(url)
    conn = http.client.HTTPConnection(parsed.hostname or "", parsed.port, timeout=30)
    try:
        headers = {"Content-Type": "application/x-amz-json-1.0", "X-Amz-Target": target}
        conn.request("POST", "/", body=json.dumps(params).encode(), headers=headers)
        reply = conn.getresponse()
        body = reply.read()
        head = "".join(f"{k}: {v}\r\n" for k, v in reply.getheaders()).encode()
        return reply.status, json.loads(body or b"{}"), head + body
    finally:
        conn.close()


def test_the_console_signs_the_page_s_calls_to_the_apirole_process(
    environ: dict[str, str], gateway: Gateway, tmp_path: Path
) -> None:
    user = {
        **environ,
        "AWS_ACCESS_KEY_ID": KEY_ID,
        "AWS_SECRET_ACCESS_KEY": SECRET,
        "AWS_SESSION_TOKEN": SESSION,
        "AWS_REGION": REGION,
        "HTTP_PROXY": gateway.proxy,
        "NO_PROXY": "",
    }
    args = ("--api-url", DEPLOYED, "--port", "0")
    with _console(user, tmp_path / "console.log", *args) as output:
        match = CONSOLE.search(output())
        assert match, output()
        page = match.group(1)
        seen = b""
        status, body, raw = _post(page, "Stepq.Ping", {})
        assert (status, body) == (200, {"region": "us-east-1", "account": "123456789012"})
        seen += raw
        status, body, raw = _post(
            page,
            "AWSStepFunctions.CreateStateMachine",
            {
                "name": "through-console",
                "definition": json.dumps(PASS),
                "roleArn": "arn:aws:iam::123456789012:role/stepq-console",
            },
        )
        assert status == 200, body
        seen += raw
        machine = body["stateMachineArn"]
        status, body, raw = _post(page, "AWSStepFunctions.ListStateMachines", {})
        assert [m["stateMachineArn"] for m in body["stateMachines"]] == [machine]
        seen += raw
        status, body, raw = _post(
            page, "AWSStepFunctions.DescribeStateMachine", {"stateMachineArn": machine + "x"}
        )
        assert (status, body["__type"]) == (400, "StateMachineDoesNotExist")  # passed through
        seen += raw
    assert gateway.refused == []
    assert gateway.passed == [
        "Stepq.Ping",
        "AWSStepFunctions.CreateStateMachine",
        "AWSStepFunctions.ListStateMachines",
        "AWSStepFunctions.DescribeStateMachine",
    ]
    assert all(f"Credential={KEY_ID}/" in h["authorization"] for h in gateway.received)
    for secret in (KEY_ID, SECRET, SESSION, "authorization"):
        assert secret.encode().lower() not in seen.lower()
        assert secret not in output()

"""No traceback reaches a user: bad settings, unreachable endpoints, bad input, missing files.

In-process through typer's CliRunner, and as a real process where lingering
(botocore retrying) is what is being checked.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from stepq.cli import app
from typer.testing import CliRunner

REPO = Path(__file__).resolve().parents[2]


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])  # nothing listens once closed


@pytest.fixture
def environ() -> dict[str, str]:
    """A subprocess environment that cannot reach AWS and finds this checkout's stepq."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "STEPQ_"))}
    env.update(
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_DEFAULT_REGION="us-east-1",
        AWS_CONFIG_FILE="/nonexistent",
        AWS_SHARED_CREDENTIALS_FILE="/nonexistent",
        AWS_EC2_METADATA_DISABLED="true",
        PYTHONPATH=os.pathsep.join(
            p for p in (str(REPO / "shared"), os.environ.get("PYTHONPATH", "")) if p
        ),
    )
    return env


def _stepq(environ: dict[str, str], *args: str, timeout: float = 60) -> tuple[int, str, float]:
    began = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-c", "from stepq.cli import main; main()", *args],
        env=environ,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    return done.returncode, done.stdout + done.stderr, time.monotonic() - began


def _one_red_line(output: str) -> str:
    lines = [line for line in output.splitlines() if line.strip()]
    assert "Traceback" not in output and len(lines) == 1, output
    return lines[0]


class Hangup:
    """A loopback port that accepts connections and closes them at once, counting them."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.connections = 0
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            conn.close()


@pytest.fixture
def hangup() -> Iterator[Hangup]:
    server = Hangup()
    yield server
    server.sock.close()


def test_an_unreachable_api_is_one_line_in_a_real_process(environ: dict[str, str]) -> None:
    url = f"http://127.0.0.1:{_closed_port()}"
    code, output, _ = _stepq(environ, "describe", "m:e", "--api-url", url)
    assert code != 0
    assert _one_red_line(output).startswith(f"cannot reach the stepq API at {url}: ")


def test_the_api_client_does_not_retry_a_dead_api(hangup: Hangup) -> None:
    # boto3's default would try again and again with backoff: one attempt, one line.
    result = CliRunner().invoke(
        app, ["describe", "arn:aws:states:us-east-1:1:execution:m:e", "--api-url", hangup.url]
    )
    assert result.exit_code == 1
    assert _one_red_line(result.output).startswith(f"cannot reach the stepq API at {hangup.url}")
    # One attempt (the HTTP layer may reconnect once on a dropped connection);
    # botocore's own retry modes would make 3 to 5 attempts with backoff.
    assert 1 <= hangup.connections <= 2


@pytest.mark.parametrize(
    "args",
    [
        ["describe", "arn:aws:states:us-east-1:111111111111:execution:m:e"],
        ["start", "arn:aws:states:us-east-1:111111111111:stateMachine:m"],
        ["list", "--machine", "arn:aws:states:us-east-1:111111111111:stateMachine:m"],
        ["list"],
        ["history", "arn:aws:states:us-east-1:111111111111:execution:m:e"],
        ["stop", "arn:aws:states:us-east-1:111111111111:execution:m:e"],
        ["redrive", "arn:aws:states:us-east-1:111111111111:execution:m:e"],
        ["send-task-success", "tok", "--output", "{}"],
        ["send-task-failure", "tok", "--error", "E"],
        ["send-task-heartbeat", "tok"],
        ["machines"],
        ["graph", "m"],
    ],
)
def test_every_client_command_reports_an_unreachable_api_in_one_line(
    args: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"http://127.0.0.1:{_closed_port()}"
    monkeypatch.setenv("STEPQ_API_URL", url)  # the environment's URL is used
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 1, result.output
    assert _one_red_line(result.output).startswith(f"cannot reach the stepq API at {url}")


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["start", "m", "--input", "{bad"], "--input is not JSON"),
        (
            ["start", "m", "--input-file", "/nonexistent/in.json"],
            "cannot read /nonexistent/in.json",
        ),
        (["start", "m", "--input", "{}", "--input-file", "x.json"], "not both"),
        (["create", "/nonexistent/m.asl.json"], "cannot read /nonexistent/m.asl.json"),
        (["update", "/nonexistent/m.asl.json"], "cannot read"),
        (["send-task-success", "tok", "--output", "not json"], "--output is not JSON"),
        (["describe", "no-colon-means-machine:"], "MACHINE:EXECUTION"),
        (["start", "m", "--api-url", "ftp://x"], "--api-url must be an http(s) URL"),
    ],
)
def test_bad_input_and_missing_files_are_one_line_before_any_request(
    args: list[str], expected: str
) -> None:
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2, result.output
    assert expected in _one_red_line(result.output)


def test_input_from_stdin(monkeypatch: pytest.MonkeyPatch) -> None:
    result = CliRunner().invoke(app, ["start", "m", "--input", "-"], input="[1, 2")
    assert result.exit_code == 2
    assert "the input read from stdin is not JSON" in _one_red_line(result.output)


def test_a_bad_definition_file_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "m.asl.json"
    path.write_text("{not json", encoding="utf-8")
    result = CliRunner().invoke(app, ["create", str(path)])
    assert result.exit_code == 2
    assert _one_red_line(result.output).startswith(f"{path} is not JSON")


@pytest.mark.parametrize(
    ("variable", "value"),
    [("STEPQ_TABLE", "ab"), ("STEPQ_ACCOUNT", "12345"), ("STEPQ_TASK_VISIBILITY_TIMEOUT", "soon")],
)
def test_bad_settings_are_one_line_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    monkeypatch.setenv(variable, value)
    for command in (["ops", "reconcile"], ["worker", "--role", "worker"]):
        result = CliRunner().invoke(app, command)
        assert result.exit_code == 2
        line = _one_red_line(result.output)
        assert line.startswith(f"bad setting {variable}={value!r}: "), line


def test_a_short_table_name_in_a_real_process(environ: dict[str, str]) -> None:
    environ["STEPQ_TABLE"] = "ab"
    code, output, _ = _stepq(environ, "ops", "reconcile")
    assert code == 2
    assert _one_red_line(output).startswith("bad setting STEPQ_TABLE='ab': ")


def test_ops_against_an_unreachable_endpoint_exits_in_one_line(environ: dict[str, str]) -> None:
    endpoint = f"http://127.0.0.1:{_closed_port()}"
    code, output, _ = _stepq(environ, "ops", "reconcile", "--endpoint-url", endpoint)
    assert code == 1
    assert "Could not connect" in _one_red_line(output)


def test_ops_gives_up_on_a_dead_endpoint_after_one_retry(
    hangup: Hangup, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(name, "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    result = CliRunner().invoke(app, ["ops", "reconcile", "--endpoint-url", hangup.url])
    assert result.exit_code == 1
    _one_red_line(result.output)
    # Two attempts (plus at most one reconnect), not the long-lived roles' ten.
    assert 2 <= hangup.connections <= 3


def test_version() -> None:
    result = CliRunner().invoke(app, ["--version"])
    assert result.exit_code == 0 and result.output.startswith("stepq ")

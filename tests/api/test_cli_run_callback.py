"""``stepq run`` on a machine waiting for a callback: it serves the API while it runs and
prints the token with the exact command that answers it from a second terminal."""

from __future__ import annotations

import json
import os
import queue
import shlex
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from stepq.cli import app
from stepq.cli.api_client import ApiClient
from stepq.core.tokens import parse_token
from typer.testing import CliRunner

REPO = Path(__file__).resolve().parents[2]
EXECUTION = "arn:aws:states:us-east-1:111111111111:execution:approval:run-1"
DEFINITION = {
    "StartAt": "AskHuman",
    "States": {
        "AskHuman": {
            "Type": "Task",
            "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken",
            "Parameters": {"FunctionName": "hand_off", "Payload": {"token.$": "$$.Task.Token"}},
            "Next": "Done",
        },
        "Done": {"Type": "Pass", "End": True},
    },
}
STEPS = "def hand_off(event, context):\n    return {'handed_off': True}\n"


class Run:
    """A ``stepq run`` process and the lines it has printed so far."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.process = process
        self.lines: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put(line.rstrip("\n"))

    def wait_for(self, prefix: str, timeout: float = 60) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=0.2)
            except queue.Empty:
                assert self.process.poll() is None, "\n".join(self.seen)
                continue
            self.seen.append(line)
            if line.strip().startswith(prefix):
                return line.strip()
        raise AssertionError(f"no line starting {prefix!r} in:\n" + "\n".join(self.seen))


@pytest.fixture
def run(tmp_path: Path, aws_env: None) -> Iterator[Run]:
    (tmp_path / "approval.asl.json").write_text(json.dumps(DEFINITION), encoding="utf-8")
    (tmp_path / "steps.py").write_text(STEPS, encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k != "STEPQ_API_URL"}
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(REPO / "shared"), env.get("PYTHONPATH", "")) if p
    )
    command = [sys.executable, "-c", "from stepq.cli import main; main()", "run"]
    command += ["approval.asl.json", "--functions", "steps.py", "--api-port", "0"]
    command += ["--timeout", "120"]
    process = subprocess.Popen(
        command,
        cwd=tmp_path,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        yield Run(process)
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=30)


def _answer(run: Run) -> list[str]:
    """The printed command that answers the waiting task, as argv."""
    line = run.wait_for("stepq send-task-success ")
    return shlex.split(line)


def test_the_token_and_the_command_that_answers_it_are_printed(run: Run) -> None:
    argv = _answer(run)
    assert argv[:3] == ["stepq", "send-task-success", "--api-url"]
    url, token = argv[3], argv[4]
    assert argv[5:] == ["--output", "{}"]
    assert parse_token(token) is not None and parse_token(token)[0] == EXECUTION  # type: ignore[index]
    assert any(line.strip() == token for line in run.seen)  # shown on its own line too
    assert ApiClient(url).where() == ("us-east-1", "111111111111")  # the API is served there
    assert run.process.poll() is None  # still waiting for the answer


def test_the_printed_command_resumes_the_run_from_a_second_terminal(run: Run) -> None:
    argv = _answer(run)
    result = CliRunner().invoke(app, argv[1:])
    assert result.exit_code == 0, result.output
    run.wait_for("SUCCEEDED")
    assert run.process.wait(timeout=60) == 0

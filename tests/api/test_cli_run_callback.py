"""``stepq run`` on a machine waiting for a callback: it serves the API while it runs and
prints the token with the exact command that answers it from a second terminal."""

from __future__ import annotations

import json
import shlex
from collections.abc import Iterator
from pathlib import Path

import pytest
from stepq.cli import app
from stepq.cli.api_client import ApiClient
from stepq.core.tokens import parse_token
from typer.testing import CliRunner

from api.cli_support import Run, stepq_run

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


@pytest.fixture
def run(tmp_path: Path, aws_env: None) -> Iterator[Run]:
    (tmp_path / "approval.asl.json").write_text(json.dumps(DEFINITION), encoding="utf-8")
    (tmp_path / "steps.py").write_text(STEPS, encoding="utf-8")
    args = ["approval.asl.json", "--functions", "steps.py", "--api-port", "0", "--timeout", "120"]
    with stepq_run(tmp_path, *args) as process:
        yield process


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

"""``--output json`` on the commands that run locally: one JSON document on stdout."""

from __future__ import annotations

import json
from pathlib import Path

from stepq.cli import app
from typer.testing import CliRunner

EXAMPLES = Path(__file__).resolve().parents[2] / "state_machine"


def test_validate_json_lists_problems_with_their_paths(tmp_path: Path) -> None:
    bad = tmp_path / "bad.asl.json"
    bad.write_text(json.dumps({"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "B"}}}))
    result = CliRunner().invoke(app, ["validate", str(bad), "--output", "json"])
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    assert report["valid"] is False
    assert {"path": "/States/A/Next", "message": 'state "B" does not exist'} in report["problems"]
    good = CliRunner().invoke(
        app, ["validate", str(EXAMPLES / "order_saga.asl.json"), "-o", "json"]
    )
    assert good.exit_code == 0 and json.loads(good.stdout)["valid"] is True


def test_run_json_is_the_outcome_and_history_alone_on_stdout() -> None:
    order = {"order_id": "o-1", "amount": 5, "items": ["x"], "fail_at": "ship"}
    result = CliRunner().invoke(
        app,
        [
            "run",
            str(EXAMPLES / "order_saga.asl.json"),
            "--functions",
            str(EXAMPLES / "order_saga.py"),
            "--input",
            json.dumps(order),
            "--backend",
            "memory",
            "--output",
            "json",
        ],
    )
    assert result.exit_code == 1  # the saga failed, compensated
    report = json.loads(result.stdout)
    assert report["status"] == "FAILED"
    assert report["history"][0]["type"] == "ExecutionStarted"
    assert report["history"][-1]["type"] == "ExecutionFailed"

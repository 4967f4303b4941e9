"""``stepq process deploy`` against ``stepq dev``: the first deploy creates the machine
(version 1), each later one updates it and publishes the next version."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml
from stepq.core.people.process import compile_process
from stepq.hosting.dev import DevServer

from api.cli_support import as_json, stepq

EXAMPLE = Path(__file__).resolve().parents[2] / "state_machine" / "expense_approval.process.yaml"
ACCOUNT = "111111111111"
ARN = f"arn:aws:states:us-east-1:{ACCOUNT}:stateMachine:expense_approval"


def _versions(sfn: Any) -> list[tuple[str, str]]:
    listed = sfn.list_state_machine_versions(stateMachineArn=ARN)["stateMachineVersions"]
    found = []
    for item in listed:
        described = sfn.describe_state_machine(stateMachineArn=item["stateMachineVersionArn"])
        found.append((item["stateMachineVersionArn"].rsplit(":", 1)[-1], described["description"]))
    return sorted(found)


def test_deploy_creates_then_publishes_a_new_version(
    dev: DevServer, sfn: Any, tmp_path: Path
) -> None:
    first = stepq(dev, "process", "deploy", str(EXAMPLE))
    assert first.exit_code == 0, first.output
    assert first.output.strip() == f"created {ARN}:1"
    described = sfn.describe_state_machine(stateMachineArn=ARN)
    assert described["roleArn"] == f"arn:aws:iam::{ACCOUNT}:role/stepq-expense_approval"
    assert json.loads(described["definition"]) == compile_process(
        yaml.safe_load(EXAMPLE.read_text())
    )

    again = stepq(dev, "process", "deploy", str(EXAMPLE))  # nothing changed: no new version
    assert again.output.strip() == f"updated {ARN}:1"

    changed = tmp_path / "expense.process.yaml"
    changed.write_text(
        EXAMPLE.read_text().replace("version: 1", "version: 2").replace("after: 2d", "after: 3d")
    )
    role = f"arn:aws:iam::{ACCOUNT}:role/expenses"
    second = as_json(dev, "process", "deploy", str(changed), "--role-arn", role)
    assert second == {
        "action": "updated",
        "stateMachineArn": ARN,
        "stateMachineVersionArn": f"{ARN}:2",
    }
    described = sfn.describe_state_machine(stateMachineArn=ARN)
    assert json.loads(described["definition"])["States"]["FinanceReview"]["TimeoutSeconds"] == (
        3 * 86400
    )
    assert described["roleArn"] == role
    # Version 1 still holds what requests started on it run.
    old = sfn.describe_state_machine(stateMachineArn=f"{ARN}:1")
    assert json.loads(old["definition"])["States"]["FinanceReview"]["TimeoutSeconds"] == 2 * 86400
    assert _versions(sfn) == [("1", "version 1"), ("2", "version 2")]


def test_an_api_refusal_is_one_line(dev: DevServer) -> None:
    result = stepq(dev, "process", "deploy", str(EXAMPLE), "--role-arn", "not-a-role")
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("InvalidArn: "), result.output

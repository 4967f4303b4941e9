"""``stepq machines sync DIR``, the step after ``sam deploy``, against ``stepq dev``."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from stepq.cli import app
from stepq.hosting.dev import DevServer
from typer.testing import CliRunner

from api.cli_support import as_json, stepq

EXAMPLES = Path(__file__).resolve().parents[2] / "state_machine"
ACCOUNT = "111111111111"
# Every example, people ones included (the API accepts the people resources).
NAMES = tuple(sorted(p.name.removesuffix(".asl.json") for p in EXAMPLES.glob("*.asl.json")))


@pytest.fixture
def machines_dir(tmp_path: Path) -> Path:
    for path in sorted(EXAMPLES.glob("*.asl.json")):
        shutil.copy(path, tmp_path / path.name)
    (tmp_path / "notes.json").write_text("{}")  # not *.asl.json: not a machine
    return tmp_path


def _sync(dev: DevServer, folder: Path, *options: str) -> Any:
    return stepq(dev, "machines", "sync", str(folder), *options)


def _versions(dev: DevServer, name: str) -> list[str]:
    import boto3

    sfn = boto3.client(
        "stepfunctions",
        endpoint_url=dev.url,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    arn = f"arn:aws:states:us-east-1:{ACCOUNT}:stateMachine:{name}"
    listed = sfn.list_state_machine_versions(stateMachineArn=arn)["stateMachineVersions"]
    return sorted(v["stateMachineVersionArn"].rsplit(":", 1)[-1] for v in listed)


def test_sync_creates_each_machine_once_and_publishes_version_1(
    dev: DevServer, machines_dir: Path
) -> None:
    first = _sync(dev, machines_dir)
    assert first.exit_code == 0, first.output
    assert first.output.splitlines() == [f"created {n} (version 1)" for n in NAMES]
    listed = as_json(dev, "machines")
    assert sorted(m["name"] for m in listed) == list(NAMES)
    described = as_json(dev, "describe", "order_saga")
    assert described["roleArn"] == f"arn:aws:iam::{ACCOUNT}:role/stepq-order_saga"
    assert json.loads(described["definition"]) == json.loads(
        (EXAMPLES / "order_saga.asl.json").read_text()
    )

    again = _sync(dev, machines_dir)  # nothing changed: no new version
    assert again.exit_code == 0, again.output
    assert again.output.splitlines() == [f"unchanged {n}" for n in NAMES]
    assert _versions(dev, "order_saga") == ["1"]


def test_a_changed_definition_is_updated_with_a_new_version(
    dev: DevServer, machines_dir: Path
) -> None:
    assert _sync(dev, machines_dir).exit_code == 0
    path = machines_dir / "order_saga.asl.json"
    changed = json.loads(path.read_text())
    changed["Comment"] = "order saga, second edition"
    path.write_text(json.dumps(changed, indent=2))

    planned = _sync(dev, machines_dir, "--dry-run")
    assert planned.exit_code == 0, planned.output
    assert planned.output.splitlines() == [
        "would update order_saga (definition)" if n == "order_saga" else f"unchanged {n}"
        for n in NAMES
    ]
    assert _versions(dev, "order_saga") == ["1"]  # a dry run changes nothing

    done = as_json(dev, "machines", "sync", str(machines_dir))
    assert [(r["name"], r["action"]) for r in done] == [
        (n, "updated" if n == "order_saga" else "unchanged") for n in NAMES
    ]
    assert done[NAMES.index("order_saga")]["stateMachineVersionArn"].endswith(":order_saga:2")
    assert _versions(dev, "order_saga") == ["1", "2"]
    assert json.loads(as_json(dev, "describe", "order_saga")["definition"]) == changed


def test_role_arn_names_each_machine_and_a_new_role_is_an_update(
    dev: DevServer, machines_dir: Path
) -> None:
    role = "arn:aws:iam::222222222222:role/workflows-{name}"
    result = _sync(dev, machines_dir, "--role-arn", role)
    assert result.exit_code == 0, result.output
    assert as_json(dev, "describe", "insurance_claim")["roleArn"] == (
        "arn:aws:iam::222222222222:role/workflows-insurance_claim"
    )
    moved = _sync(dev, machines_dir)  # back to the default role: an update
    assert moved.output.splitlines() == [f"updated {n} (version 2)" for n in NAMES]


def test_a_bad_definition_fails_alone_and_the_exit_status_says_so(
    dev: DevServer, machines_dir: Path
) -> None:
    (machines_dir / "broken.asl.json").write_text('{"StartAt": "Nowhere", "States": {}}')
    (machines_dir / "garbled.asl.json").write_text("{not json")
    result = _sync(dev, machines_dir)
    assert result.exit_code == 1
    lines = result.output.splitlines()
    order = sorted([*NAMES, "broken", "garbled"])
    broken, garbled = order.index("broken"), order.index("garbled")
    assert lines[broken].startswith("failed broken: InvalidDefinition: ")
    assert lines[garbled].startswith("failed garbled: ") and "is not JSON" in lines[garbled]
    assert [line.split()[0] for line in lines] == [
        "failed" if n in ("broken", "garbled") else "created" for n in order
    ]


def test_a_folder_without_definitions_is_one_line(tmp_path: Path) -> None:
    # Checked before any request: no API is needed (nothing listens on port 9).
    args = ["machines", "sync", str(tmp_path), "--endpoint-url", "http://127.0.0.1:9"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2
    assert result.output.strip() == f"{tmp_path} has no *.asl.json definitions"


def test_an_unreachable_api_is_one_line_not_one_per_machine(machines_dir: Path) -> None:
    for role in ([], ["--role-arn", "arn:aws:iam::111111111111:role/x-{name}"]):
        args = ["machines", "sync", str(machines_dir), "--endpoint-url", "http://127.0.0.1:9"]
        result = CliRunner().invoke(app, [*args, *role])
        assert result.exit_code == 1
        lines = result.output.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith(
            "cannot reach the stepq API at http://127.0.0.1:9"
        ), result.output

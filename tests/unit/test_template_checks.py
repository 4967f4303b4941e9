"""The deploy templates pass the offline checkers: cfn-lint, checkov, `sam validate --lint`.

checkov and the SAM CLI live in their own virtual environments (they pin
their own boto3 and friends): ``scripts/install_checkov.sh`` and
``scripts/install_sam_cli.sh``. Missing, their tests skip with a message
naming the script, except under ``CI=true``, where they fail.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

cfnlint_api = pytest.importorskip("cfnlint.api")
from cfnlint.decode import decode  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template.yaml"
INFRA = sorted((ROOT / "infra").glob("*.yaml"))
CHECKOV = ROOT / ".cache" / "checkov-venv" / "bin" / "checkov"
SAM = ROOT / ".cache" / "sam-venv" / "bin" / "sam"

# A template checkov must fail: guards the clean result against a checker
# that silently checks nothing (an unencrypted queue, a public bucket).
_INSECURE = """AWSTemplateFormatVersion: "2010-09-09"
Resources:
  Plain:
    Type: AWS::SQS::Queue
    Properties:
      SqsManagedSseEnabled: false
  Open:
    Type: AWS::S3::Bucket
"""


def _tool(path: Path, script: str) -> Path:
    if path.is_file():
        return path
    message = f"{path.relative_to(ROOT)} is missing: run scripts/{script}"
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


def _offline_env() -> dict[str, str]:
    """No real credentials, no metadata service, no telemetry: nothing leaves the machine."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_DEFAULT_REGION="us-east-1",
        AWS_EC2_METADATA_DISABLED="true",
        SAM_CLI_TELEMETRY="0",
        BC_SKIP_MAPPING="TRUE",  # checkov: no fetch of Bridgecrew's guideline mapping
        CHECKOV_RUN_SCA_PACKAGE_SCAN_V2="false",
    )
    return env


def test_infra_has_templates() -> None:
    # Guards the parametrised checks below against an empty glob.
    assert "observability.yaml" in [p.name for p in INFRA]


@pytest.mark.parametrize("path", INFRA, ids=lambda p: p.name)
def test_cfn_lint_is_clean_on_infra(path: Path) -> None:
    found = [m for m in cfnlint_api.lint_file(path) if m.rule.id[0] in "EW"]
    assert found == [], "\n".join(str(m) for m in found)


def _skips(path: Path) -> list[dict[str, Any]]:
    parsed, problems = decode(str(path))
    assert not problems, problems
    return [
        {"resource": name, **skip}
        for name, resource in parsed["Resources"].items()
        for skip in resource.get("Metadata", {}).get("checkov", {}).get("skip", [])
    ]


@pytest.mark.parametrize("path", [TEMPLATE, *INFRA], ids=lambda p: p.name)
def test_every_checkov_skip_says_why(path: Path) -> None:
    for skip in _skips(path):
        assert skip["id"].startswith("CKV"), skip
        assert len(skip.get("comment", "").split()) >= 8, skip  # a reason, not a shrug


def test_checkov_finds_no_failed_checks(tmp_path: Path) -> None:
    checkov = _tool(CHECKOV, "install_checkov.sh")
    insecure = tmp_path / "insecure.yaml"
    insecure.write_text(_INSECURE)
    files = [TEMPLATE, *INFRA, insecure]
    args = [str(checkov), "--skip-download", "--framework", "cloudformation", "--output", "json"]
    for path in files:
        args += ["--file", str(path)]
    done = subprocess.run(
        args, capture_output=True, text=True, cwd=ROOT, env=_offline_env(), timeout=600
    )
    assert done.returncode in (0, 1), done.stderr[-2000:]  # 1: some check failed
    report = json.loads(done.stdout)
    results = (report if isinstance(report, list) else [report])[0]["results"]
    failed: dict[str, list[str]] = {}
    for check in results["failed_checks"]:
        failed.setdefault(Path(check["file_abs_path"]).name, []).append(
            f"{check['check_id']} {check['resource']}"
        )
    # The guard: checkov did look, and fails what it should.
    assert len(failed.pop("insecure.yaml", [])) >= 2
    assert failed == {}, failed
    # Every justified skip is one checkov honoured (a stale skip is noise).
    honoured = {(c["check_id"], c["resource"].split(".")[-1]) for c in results["skipped_checks"]}
    for path in [TEMPLATE, *INFRA]:
        for skip in _skips(path):
            assert (skip["id"], skip["resource"]) in honoured, skip


def test_sam_validate_lint_is_clean() -> None:
    sam = _tool(SAM, "install_sam_cli.sh")
    done = subprocess.run(
        [str(sam), "validate", "--lint", "--template-file", str(TEMPLATE)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=_offline_env(),
        timeout=600,
    )
    assert done.returncode == 0, (done.stdout + done.stderr)[-3000:]
    assert "is a valid SAM Template" in done.stdout + done.stderr

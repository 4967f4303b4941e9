"""samconfig.toml: the SAM CLI settings ship without profiles, regions or secrets."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
SAMCONFIG = ROOT / "samconfig.toml"
PERSONAL = {"profile", "region", "s3_bucket", "image_repository", "role_arn", "signing_profiles"}


def _config() -> dict[str, Any]:
    return tomllib.loads(SAMCONFIG.read_text())


def test_no_profile_region_or_account_specific_setting() -> None:
    config = _config()
    for environment, commands in config.items():
        if environment == "version":
            continue
        for command, section in commands.items():
            assert not PERSONAL & set(section["parameters"]), (environment, command)
    text = SAMCONFIG.read_text()
    assert not re.search(r"\b\d{12}\b", text)  # no account id
    assert not re.search(r"AKIA[0-9A-Z]{16}|aws_secret|secret_access_key", text, re.IGNORECASE)


def test_deploy_settings_fit_the_template() -> None:
    deploy = _config()["default"]["deploy"]["parameters"]
    # Roles without names need CAPABILITY_IAM; the nested stack needs AUTO_EXPAND.
    assert set(deploy["capabilities"].split()) == {"CAPABILITY_IAM", "CAPABILITY_AUTO_EXPAND"}
    assert deploy["resolve_s3"] is True  # the template is over CloudFormation's inline limit
    assert (ROOT / "template.yaml").stat().st_size > 51_200
    template = (ROOT / "template.yaml").read_text()
    overrides = dict(pair.split("=", 1) for pair in deploy["parameter_overrides"].split())
    for name in overrides:
        assert re.search(rf"^  {name}:\n    Type:", template, re.MULTILINE), name
    assert _config()["default"]["validate"]["parameters"]["lint"] is True

"""``STEPQ_ASSUME_ROLE=1 stepq dev``: integrations run as the machine's role on dev's moto STS,
the path a deployed worker takes (there it is on by default; the setting's values are
unit-tested in tests/unit/test_integration_roles.py)."""

from __future__ import annotations

import pytest
from stepq.hosting.dev import DevServer

WHO = {
    "StartAt": "Who",
    "States": {
        "Who": {
            "Type": "Task",
            "Resource": "arn:aws:states:::aws-sdk:sts:getCallerIdentity",
            "End": True,
        }
    },
}


def test_dev_runs_integrations_as_the_machine_s_role_when_asked(
    aws_env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STEPQ_ASSUME_ROLE", "1")
    with DevServer(port=0, environ={}) as dev:
        dev.runtime.deploy("whoami", WHO)
        outcome = dev.runtime.wait(dev.runtime.start("whoami", {}, name="run-7"), timeout=20)
    assert outcome.status == "SUCCEEDED", (outcome.error, outcome.cause)
    # Without the setting the caller is dev's moto user (arn:aws:iam::...:user/moto).
    assert outcome.output["Arn"].endswith(":assumed-role/stepq-whoami/whoami.run-7")

"""``STEPQ_ASSUME_ROLE=1 stepq dev``: integrations run as the machine's role on dev's moto STS,
the path a deployed worker takes (there it is on by default)."""

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


@pytest.mark.parametrize(("setting", "caller"), [("1", "assumed-role"), ("0", "user")])
def test_dev_runs_integrations_as_the_machine_s_role_when_asked(
    aws_env: None, monkeypatch: pytest.MonkeyPatch, setting: str, caller: str
) -> None:
    monkeypatch.setenv("STEPQ_ASSUME_ROLE", setting)
    with DevServer(port=0, environ={}) as dev:
        dev.runtime.deploy("whoami", WHO)
        outcome = dev.runtime.wait(dev.runtime.start("whoami", {}, name="run-7"), timeout=20)
    assert outcome.status == "SUCCEEDED", (outcome.error, outcome.cause)
    arn = outcome.output["Arn"]
    if caller == "assumed-role":
        assert arn.endswith(":assumed-role/stepq-whoami/whoami.run-7")
    else:
        assert ":assumed-role/" not in arn

"""Integrations as the machine's role, on ``stepq dev``: with ``STEPQ_ASSUME_ROLE=1`` they
run on dev's moto STS, the path a deployed worker takes (there it is on by default; the
setting's values are unit-tested in tests/unit/test_integration_roles.py); and the role
is the one of the revision each execution started on, read from the API's catalog."""

from __future__ import annotations

import json

import pytest
from stepq.backends.aws.integrations import CatalogRoles
from stepq.hosting.dev import DevServer

from api.server_support import client

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


def test_catalog_roles_follow_the_revision_each_execution_started_on(dev: DevServer) -> None:
    sfn = client(dev)
    wait = {"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 600, "End": True}}}
    machine = sfn.create_state_machine(
        name="payroll",
        definition=json.dumps(wait),
        roleArn="arn:aws:iam::111111111111:role/payroll-v1",
    )["stateMachineArn"]
    first = sfn.start_execution(stateMachineArn=machine, name="first")["executionArn"]
    sfn.update_state_machine(
        stateMachineArn=machine, roleArn="arn:aws:iam::111111111111:role/payroll-v2"
    )
    second = sfn.start_execution(stateMachineArn=machine, name="second")["executionArn"]
    roles = CatalogRoles(dev.runtime.store)
    assert roles(first) == "arn:aws:iam::111111111111:role/payroll-v1"
    assert roles(second) == "arn:aws:iam::111111111111:role/payroll-v2"

"""What the ``stepq ops`` tests on a deployment share: moto in-process as the stack.

The CLI reaches it the way it reaches AWS (the settings path: ``STEPQ_*``,
boto3 clients without an endpoint, which moto intercepts); the roles that
would run there are driven by hand, so nothing moves unless a test moves it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from stepq.cli import app
from typer.testing import CliRunner

FUNCTIONS = ["work", "hold", "orphan", "unseen"]


@dataclass
class Deployment:
    settings: Any
    store: Any
    queues: Any  # SqsQueues: the port plus QueueAdmin

    def orchestrator(self, queues: Any = None) -> Any:
        from stepq.backends.aws.settings import runtime_config
        from stepq.clock import SystemClock
        from stepq.runtime.orchestrator import Orchestrator

        return Orchestrator(
            self.store, queues or self.queues, SystemClock(), runtime_config(self.settings)
        )


def moto_deployment() -> Iterator[Deployment]:
    """A deployment on moto in-process (a module fixture's body: ``yield from`` it)."""
    from moto import mock_aws
    from stepq.backends.aws.settings import Settings, build
    from stepq.hosting.serve import provision

    with pytest.MonkeyPatch.context() as patch:
        for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "STEPQ_API_URL"):
            patch.delenv(name, raising=False)
        import os

        for name in [n for n in os.environ if n.startswith("STEPQ_")]:
            patch.delenv(name)
        patch.setenv("AWS_ACCESS_KEY_ID", "testing")
        patch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        patch.setenv("AWS_DEFAULT_REGION", "us-east-1")
        patch.setenv("AWS_CONFIG_FILE", "/nonexistent/stepq-aws-config")
        patch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/stepq-aws-credentials")
        with mock_aws():
            settings = Settings.from_env({})
            provision(settings, FUNCTIONS)
            store, queues, _ = build(settings)
            yield Deployment(settings, store, queues)


def stepq(*args: str) -> Any:
    """One CLI command on the deployment (the settings path)."""
    return CliRunner().invoke(app, list(args))


def ok(*args: str) -> list[str]:
    result = stepq(*args)
    assert result.exit_code == 0, result.output
    return [line for line in result.output.splitlines() if line.strip()]


def as_json(*args: str) -> Any:
    result = stepq(*args, "--output", "json")
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def one_red_line(output: str) -> str:
    lines = [line for line in output.splitlines() if line.strip()]
    assert "Traceback" not in output and len(lines) == 1, output
    return lines[0]


def task(function: str, **extra: Any) -> dict[str, Any]:
    return {
        "Type": "Task",
        "Resource": f"arn:aws:lambda:us-east-1:111111111111:function:{function}",
        **extra,
    }


def callback(function: str) -> dict[str, Any]:
    return {
        "Type": "Task",
        "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken",
        "Parameters": {"FunctionName": function, "Payload": {"token.$": "$$.Task.Token"}},
    }


def machine(first: dict[str, Any]) -> dict[str, Any]:
    return {"StartAt": "First", "States": {"First": {**first, "End": True}}}


WAIT_AN_HOUR = machine({"Type": "Wait", "Seconds": 3600})

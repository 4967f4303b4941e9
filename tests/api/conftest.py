"""The API over real HTTP: ``stepq dev``'s server (``DevServer``) on a free loopback
port, and boto3's unchanged ``stepfunctions`` client pointed at it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from stepq.hosting.dev import DevServer

REGION = "us-east-1"
ACCOUNT = "111111111111"


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Dummy credentials and no profile or endpoint: nothing can reach real AWS."""
    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_DYNAMODB"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent/stepq-aws-config")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/stepq-aws-credentials")


@pytest.fixture
def dev_options() -> dict[str, Any]:
    """Override in a test module to give the server step functions or skip time."""
    return {}


@pytest.fixture
def dev(aws_env: None, dev_options: dict[str, Any]) -> Iterator[DevServer]:
    with DevServer(port=0, environ={}, **dev_options) as server:
        yield server


@pytest.fixture
def sfn(dev: DevServer) -> Any:
    import boto3
    from botocore.config import Config

    return boto3.client(
        "stepfunctions",
        endpoint_url=dev.url,
        region_name=REGION,
        # TestState and StartSyncExecution carry a ``sync-`` host prefix in AWS;
        # a local endpoint has no such host.
        config=Config(retries={"max_attempts": 1}, inject_host_prefix=False),
    )

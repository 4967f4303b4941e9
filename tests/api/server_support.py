"""What the API suites share: one ``stepq dev`` per test module, and boto3's client.

A server per test costs about a second to start; these modules start one and
give every test its own machines and executions instead (names from ``unique``).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from stepq.hosting.dev import DevServer

REGION = "us-east-1"
_names = itertools.count(1)


def unique(prefix: str = "run") -> str:
    return f"{prefix}-{next(_names)}"


@contextmanager
def module_server(**options: Any) -> Iterator[DevServer]:
    """A DevServer on a free loopback port with dummy credentials (nothing reaches AWS)."""
    with pytest.MonkeyPatch.context() as patch:
        for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_DYNAMODB"):
            patch.delenv(name, raising=False)
        patch.setenv("AWS_ACCESS_KEY_ID", "testing")
        patch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        patch.setenv("AWS_DEFAULT_REGION", REGION)
        patch.setenv("AWS_CONFIG_FILE", "/nonexistent/stepq-aws-config")
        patch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/stepq-aws-credentials")
        with DevServer(port=0, environ={}, **options) as server:
            yield server


def client(dev: DevServer, **config: Any) -> Any:
    """boto3's stepfunctions client, unchanged, pointed at ``dev``."""
    import boto3
    from botocore.config import Config

    return boto3.client(
        "stepfunctions",
        endpoint_url=dev.url,
        region_name=REGION,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        # TestState and StartSyncExecution carry a ``sync-`` host prefix in AWS;
        # a local endpoint has no such host.
        config=Config(retries={"max_attempts": 1}, **{"inject_host_prefix": False, **config}),
    )

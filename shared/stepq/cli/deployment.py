"""What the operator commands need to reach a deployment: its settings and quick clients.

Bad settings (``STEPQ_TABLE=ab``, an account that is not 12 digits) are one
line naming the variable. ``stepq ops`` commands are one-shot: their clients
give up on an unreachable endpoint after one retry and a short connect
timeout, instead of the long-lived roles' ten adaptive attempts.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from stepq.cli.app import CliError

CONNECT_TIMEOUT = 3.0


def load_settings(environ: Mapping[str, str]) -> Any:
    """``Settings.from_env(environ)``, or a CliError naming the bad variable."""
    from pydantic import ValidationError

    from stepq.backends.aws.settings import Settings

    try:
        return Settings.from_env(environ)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            where = ".".join(str(part) for part in error.get("loc", ())) or "settings"
            problems.append(f"{where}={error.get('input')!r}: {error.get('msg', 'invalid')}")
        raise CliError(f"bad setting {'; '.join(problems)}", 2) from None


def quick_clients(settings: Any) -> dict[str, Any]:
    """DynamoDB, SQS (and S3 with a bucket) clients that fail fast when nothing answers."""
    import boto3
    from botocore.config import Config

    session = boto3.session.Session()
    config = Config(
        connect_timeout=CONNECT_TIMEOUT,
        read_timeout=30,
        retries={"mode": "standard", "max_attempts": 2},
    )
    services = ("dynamodb", "sqs", "s3") if settings.bucket else ("dynamodb", "sqs")
    clients = {}
    for service in services:
        kwargs: dict[str, Any] = {"region_name": settings.region, "config": config}
        endpoint = settings.endpoint_for(service)
        if endpoint:
            kwargs["endpoint_url"] = endpoint
        clients[service] = session.client(service, **kwargs)
    return clients

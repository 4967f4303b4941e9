"""What the DynamoDB, SQS and S3 adapters share about botocore.

The retry configuration of their clients, and reading a ``ClientError``'s
code and message (each adapter maps the codes to its own errors). botocore
is imported only when a config is built, so ``s3_blobs`` stays lazy.
"""

from __future__ import annotations

from typing import Any

__all__ = ["client_config", "error_code", "error_message"]


def client_config() -> Any:
    """Adaptive retries, up to 10 attempts: botocore retries throttling and 5xx
    itself and rate-limits the client on throttles (the adapters never retry those)."""
    from botocore.config import Config

    return Config(retries={"mode": "adaptive", "max_attempts": 10})


def error_code(exc: Any, default: str = "") -> str:
    """The error code of a botocore ``ClientError`` (``default`` when it has none)."""
    return str(exc.response.get("Error", {}).get("Code", default))


def error_message(exc: Any) -> str:
    """The error message of a botocore ``ClientError`` ("" when it has none)."""
    return exc.response.get("Error", {}).get("Message", "")

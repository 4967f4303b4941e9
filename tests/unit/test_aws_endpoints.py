"""Per-service endpoints in ``Settings``: one service's own endpoint wins over the shared one."""

from __future__ import annotations

import pytest
from stepq.backends.aws.settings import Settings, make_client


def test_each_service_falls_back_to_the_shared_endpoint() -> None:
    settings = Settings.from_env({"STEPQ_ENDPOINT_URL": "http://127.0.0.1:5000"})
    assert [settings.endpoint_for(s) for s in ("dynamodb", "sqs", "s3", "lambda")] == [
        "http://127.0.0.1:5000"
    ] * 4


def test_a_service_endpoint_wins_for_that_service_only() -> None:
    settings = Settings.from_env(
        {
            "STEPQ_ENDPOINT_URL": "http://127.0.0.1:5000",
            "STEPQ_DYNAMODB_ENDPOINT_URL": "http://127.0.0.1:8000",
            "STEPQ_S3_ENDPOINT_URL": "http://127.0.0.1:9000",
        }
    )
    assert settings.endpoint_for("dynamodb") == "http://127.0.0.1:8000"
    assert settings.endpoint_for("s3") == "http://127.0.0.1:9000"
    assert settings.endpoint_for("sqs") == "http://127.0.0.1:5000"


def test_service_endpoint_alone_and_blank_means_unset() -> None:
    settings = Settings.from_env(
        {"STEPQ_SQS_ENDPOINT_URL": "http://127.0.0.1:9324", "STEPQ_DYNAMODB_ENDPOINT_URL": " "}
    )
    assert settings.endpoint_for("sqs") == "http://127.0.0.1:9324"
    assert settings.dynamodb_endpoint_url is None
    assert settings.endpoint_for("dynamodb") is None  # the real AWS endpoint


def test_make_client_uses_the_service_endpoint(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_DYNAMODB"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    settings = Settings.from_env(
        {
            "STEPQ_ENDPOINT_URL": "http://127.0.0.1:5000",
            "STEPQ_DYNAMODB_ENDPOINT_URL": "http://127.0.0.1:8000",
        }
    )
    assert make_client(settings, "dynamodb").meta.endpoint_url == "http://127.0.0.1:8000"
    assert make_client(settings, "sqs").meta.endpoint_url == "http://127.0.0.1:5000"

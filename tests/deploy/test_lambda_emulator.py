"""The harness plays Lambda faithfully: partial batch responses, a clean environment."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from deploy.aws_calls import Recorder
from deploy.lambda_emulator import LambdaFunction, SqsEventSource

HANDLER = """
import os

def handler(event, context):
    bodies = [r["body"] for r in event.get("Records", [])]
    if "raise" in bodies:
        raise RuntimeError("the whole batch fails")
    if "stranger" in bodies:
        return {"batchItemFailures": [{"itemIdentifier": "not-in-this-batch"}]}
    failed = [r["messageId"] for r in event.get("Records", []) if r["body"] == "fail"]
    return {
        "batchItemFailures": [{"itemIdentifier": i} for i in failed],
        "env": dict(os.environ),
        "remaining_ms": context.get_remaining_time_in_millis(),
    }
"""


@pytest.fixture
def sqs() -> Iterator[Any]:
    with mock_aws():
        yield boto3.client("sqs", region_name="us-east-1")


def _function(tmp_path: Path, environment: dict[str, str]) -> LambdaFunction:
    (tmp_path / "app.py").write_text(HANDLER)
    return LambdaFunction(
        logical_id="EchoFunction",
        name="echo",
        arn="arn:aws:lambda:us-east-1:123456789012:function:echo",
        handler="app.handler",
        code_dir=tmp_path,
        environment=environment,
        timeout_s=30,
        memory_mb=128,
        region="us-east-1",
        recorder=Recorder(),
        role_arn="arn:aws:iam::123456789012:role/echo",
    )


def _source(sqs: Any, function: LambdaFunction, *bodies: str) -> SqsEventSource:
    url = sqs.create_queue(QueueName="echo")["QueueUrl"]
    for body in bodies:
        sqs.send_message(QueueUrl=url, MessageBody=body)
    arn = "arn:aws:sqs:us-east-1:123456789012:echo"
    return SqsEventSource(function, url, arn, batch_size=10, report_failures=True, sqs=sqs)


def _visible(sqs: Any, url: str) -> list[dict[str, Any]]:
    return sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, AttributeNames=["All"]).get(
        "Messages", []
    )


def test_reported_failures_stay_on_the_queue_and_come_back(sqs: Any, tmp_path: Path) -> None:
    source = _source(sqs, _function(tmp_path, {}), "ok", "fail", "ok too")
    assert source.poll()
    assert [m["Body"] for m in source.failed] == ["fail"]
    assert _visible(sqs, source.queue_url) == []  # in flight until its visibility timeout
    source.expire_failed()
    (again,) = _visible(sqs, source.queue_url)  # the successes were deleted
    assert again["Body"] == "fail"
    assert again["Attributes"]["ApproximateReceiveCount"] == "2"


@pytest.mark.parametrize("poison", ["raise", "stranger"])
def test_an_error_or_a_foreign_identifier_fails_the_whole_batch(
    sqs: Any, tmp_path: Path, poison: str
) -> None:
    source = _source(sqs, _function(tmp_path, {}), "ok", poison)
    assert source.poll()
    assert sorted(m["Body"] for m in source.failed) == sorted(["ok", poison])


def test_a_function_sees_its_environment_and_lambdas_not_the_test_process(
    sqs: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STEPQ_ENDPOINT_URL", "http://127.0.0.1:1")  # must not leak in
    function = _function(tmp_path, {"STEPQ_TABLE": "from-the-template"})
    response = function.invoke({"Records": []})
    env = response["env"]
    assert env["STEPQ_TABLE"] == "from-the-template"
    assert env["AWS_LAMBDA_FUNCTION_NAME"] == "echo"
    assert env["AWS_REGION"] == "us-east-1"
    assert "STEPQ_ENDPOINT_URL" not in env
    assert 0 < response["remaining_ms"] <= 30_000
    assert os.environ["STEPQ_ENDPOINT_URL"] == "http://127.0.0.1:1"  # restored afterwards

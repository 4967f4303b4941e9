"""What tests that call the Lambda handlers share: a context, a fresh app import,
and SQS messages received from moto reshaped as the event source mapping delivers them."""

from __future__ import annotations

import importlib.util
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
REGION = "us-east-1"
ACCOUNT = "123456789012"  # moto's account


@dataclass
class FakeContext:
    """The parts of Lambda's context object the handlers read."""

    function_name: str = "stepq-test"
    memory_limit_in_mb: int = 512
    invoked_function_arn: str = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:stepq-test"
    aws_request_id: str = "req-1"

    def get_remaining_time_in_millis(self) -> int:
        return 60_000


def load_app(name: str) -> ModuleType:
    """A fresh import of functions/<name>/app.py (so its cached runtime starts empty)."""
    spec = importlib.util.spec_from_file_location(
        f"stepq_app_{name}_{uuid.uuid4().hex}", ROOT / "functions" / name / "app.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def queue_url(sqs: Any, prefix: str, name: str) -> str:
    return sqs.get_queue_url(QueueName=f"{prefix}-{name}")["QueueUrl"]


def receive_all(sqs: Any, prefix: str, queue: str, wait: float = 0.0) -> list[dict[str, Any]]:
    """Every message visible in ``queue`` (waiting up to ``wait`` s for the first)."""
    url, out = queue_url(sqs, prefix, queue), []
    deadline = time.monotonic() + wait
    while True:
        reply = sqs.receive_message(
            QueueUrl=url,
            MaxNumberOfMessages=10,
            MessageAttributeNames=["All"],
            MessageSystemAttributeNames=["All"],
        )
        if reply.get("Messages"):
            out.extend(reply["Messages"])
            continue
        if out or time.monotonic() >= deadline:
            return out
        time.sleep(0.1)


def sqs_records(sqs: Any, prefix: str, queue: str, wait: float = 0.0) -> list[dict[str, Any]]:
    """The event source mapping's records for what ``queue`` holds (received now)."""
    arn = f"arn:aws:sqs:{REGION}:{ACCOUNT}:{prefix}-{queue}"
    return [
        {
            "messageId": m["MessageId"],
            "receiptHandle": m["ReceiptHandle"],
            "body": m["Body"],
            "attributes": m.get("Attributes", {}),
            "messageAttributes": {
                k: {"stringValue": v.get("StringValue"), "dataType": v["DataType"]}
                for k, v in m.get("MessageAttributes", {}).items()
            },
            "md5OfBody": m["MD5OfBody"],
            "eventSource": "aws:sqs",
            "eventSourceARN": arn,
            "awsRegion": REGION,
        }
        for m in receive_all(sqs, prefix, queue, wait)
    ]

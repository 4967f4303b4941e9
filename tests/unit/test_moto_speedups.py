"""backends.moto.speedups changes how much work moto does, never what it answers."""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from typing import Any

import pytest

boto3 = pytest.importorskip("boto3")
moto = pytest.importorskip("moto")

from stepq.backends.aws.dynamodb_store import create_table  # noqa: E402
from stepq.backends.moto import speedups  # noqa: E402


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Any, Any]]:
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.setenv(key, "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    assert speedups.apply() is True
    assert speedups.apply() is True  # idempotent
    with moto.mock_aws():
        yield (
            boto3.client("dynamodb", region_name="us-east-1"),
            boto3.client("sqs", region_name="us-east-1"),
        )


def _pages(client: Any, **query: Any) -> list[list[str]]:
    pages, start = [], None
    while True:
        extra = {"ExclusiveStartKey": start} if start else {}
        reply = client.query(TableName="t", **query, **extra)
        pages.append([item["sk"]["S"] for item in reply["Items"]])
        start = reply.get("LastEvaluatedKey")
        if not start:
            return pages


def test_key_queries_answer_as_a_scan_says(aws: tuple[Any, Any]) -> None:
    dynamodb, _ = aws
    create_table(dynamodb, "t")
    rng = random.Random(7)
    written: dict[str, list[str]] = {}
    for _n in range(300):
        pk = f"EX#{rng.randrange(12)}"
        sk = f"C#{rng.randrange(10_000):010d}"
        dynamodb.put_item(TableName="t", Item={"pk": {"S": pk}, "sk": {"S": sk}})
        written.setdefault(pk, []).append(sk)
    scanned: dict[str, set[str]] = {}
    for item in dynamodb.scan(TableName="t")["Items"]:
        scanned.setdefault(item["pk"]["S"], set()).add(item["sk"]["S"])
    assert {pk: set(sks) for pk, sks in written.items()} == scanned
    for pk in [*scanned, "EX#absent"]:
        expected = sorted(scanned.get(pk, ()))
        for forward in (True, False):
            want = expected if forward else expected[::-1]
            for limit in (1, 3, 1000):
                pages = _pages(
                    dynamodb,
                    KeyConditionExpression="pk = :p AND begins_with(sk, :c)",
                    ExpressionAttributeValues={":p": {"S": pk}, ":c": {"S": "C#"}},
                    ScanIndexForward=forward,
                    Limit=limit,
                )
                assert [sk for page in pages for sk in page] == want
                assert all(len(page) <= limit for page in pages)
            low = "C#0000005000"
            pages = _pages(
                dynamodb,
                KeyConditionExpression="pk = :p AND sk >= :low",
                ExpressionAttributeValues={":p": {"S": pk}, ":low": {"S": low}},
                ScanIndexForward=forward,
            )
            assert [sk for page in pages for sk in page] == [sk for sk in want if sk >= low]


def test_index_queries_are_left_alone(aws: tuple[Any, Any]) -> None:
    dynamodb, _ = aws
    create_table(dynamodb, "t")
    for n in range(20):
        dynamodb.put_item(
            TableName="t",
            Item={
                "pk": {"S": f"TM#{n}"},
                "sk": {"S": "TM"},
                "gsi3pk": {"S": "TIMERS#0"},
                "gsi3sk": {"S": f"2026-01-01T00:00:{n:02d}"},
            },
        )
    indexes = dynamodb.describe_table(TableName="t")["Table"]["GlobalSecondaryIndexes"]
    index = next(i["IndexName"] for i in indexes if i["KeySchema"][0]["AttributeName"] == "gsi3pk")
    reply = dynamodb.query(
        TableName="t",
        IndexName=index,
        KeyConditionExpression="gsi3pk = :p AND gsi3sk <= :due",
        ExpressionAttributeValues={":p": {"S": "TIMERS#0"}, ":due": {"S": "2026-01-01T00:00:09"}},
    )
    assert [item["pk"]["S"] for item in reply["Items"]] == [f"TM#{n}" for n in range(10)]


def test_messages_past_retention_are_still_not_delivered(aws: tuple[Any, Any]) -> None:
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.sqs.models import sqs_backends

    _, sqs = aws
    url = sqs.create_queue(QueueName="q", Attributes={"MessageRetentionPeriod": "60"})["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="new")
    sqs.send_message(QueueUrl=url, MessageBody="old")
    queue = sqs_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].queues["q"]
    old = next(m for m in queue._messages if m.body == "old")
    old.sent_timestamp -= 120_000  # sent two minutes ago: past its 60 s retention
    bodies = [
        m["Body"] for m in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    ]
    assert bodies == ["new"]


def test_item_results_answer_as_motos_serializer_does(aws: tuple[Any, Any]) -> None:
    """Every item operation through the direct JSON path and moto's own, compared."""
    from moto.dynamodb import responses

    fast = responses.DynamoResult.execute_result
    original = next(
        cell.cell_contents
        for cell in fast.__closure__ or ()
        if getattr(cell.cell_contents, "__name__", "") == "execute_result"
    )
    compared: list[str] = []

    def both(self: Any, context: Any) -> Any:
        ours, theirs = fast(self, context), original(self, context)
        assert ours[0] == theirs[0]
        assert ours[1]["Content-Type"] == theirs[1]["Content-Type"]
        assert json.loads(ours[2] or "{}") == json.loads(theirs[2] or "{}"), (
            context.operation_model.name
        )
        compared.append(context.operation_model.name)
        return ours

    dynamodb, _ = aws
    create_table(dynamodb, "t")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(responses.DynamoResult, "execute_result", both)
        item = {"pk": {"S": "p"}, "sk": {"S": "1"}, "b": {"B": b"\x00\xff"}, "n": {"N": "2.5"}}
        item["m"] = {"M": {"l": {"L": [{"S": "x"}, {"BOOL": True}, {"NULL": True}]}}}
        dynamodb.put_item(TableName="t", Item=item, ReturnConsumedCapacity="TOTAL")
        got = dynamodb.get_item(TableName="t", Key={"pk": item["pk"], "sk": item["sk"]})
        assert got["Item"] == item  # the bytes came back as bytes
        dynamodb.query(
            TableName="t",
            KeyConditionExpression="pk = :p",
            ExpressionAttributeValues={":p": {"S": "p"}},
            Limit=1,
        )
        dynamodb.update_item(
            TableName="t",
            Key={"pk": item["pk"], "sk": item["sk"]},
            UpdateExpression="SET n = :n",
            ExpressionAttributeValues={":n": {"N": "3"}},
            ReturnValues="ALL_NEW",
        )
        dynamodb.delete_item(TableName="t", Key={"pk": item["pk"], "sk": item["sk"]})
    assert compared == ["PutItem", "GetItem", "Query", "UpdateItem", "DeleteItem"]

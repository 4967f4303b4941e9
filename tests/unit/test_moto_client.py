"""MotoClient answers as boto3 does in front of the same moto, errors included."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

boto3 = pytest.importorskip("boto3")
moto = pytest.importorskip("moto")

from botocore.exceptions import ClientError  # noqa: E402
from stepq.backends.aws.dynamodb_store import create_table  # noqa: E402
from stepq.backends.moto.client import MotoClient  # noqa: E402


@pytest.fixture
def clients(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, tuple[Any, Any]]]:
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.setenv(key, "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    with moto.mock_aws():
        yield {
            service: (boto3.client(service, region_name="us-east-1"), MotoClient(service))
            for service in ("dynamodb", "sqs")
        }


def _error(call: Any) -> tuple[str, str]:
    with pytest.raises(ClientError) as caught:
        call()
    return caught.value.response["Error"]["Code"], caught.value.operation_name


def test_items_round_trip_with_binary_values(clients: dict[str, tuple[Any, Any]]) -> None:
    boto, direct = clients["dynamodb"]
    create_table(boto, "t")
    item = {"pk": {"S": "EX#1"}, "sk": {"S": "C#1"}, "body": {"B": b"\x00\xffzlib"}}
    item["many"] = {"BS": [b"a", b"\x01"]}
    item["n"] = {"N": "7"}
    direct.put_item(TableName="t", Item=item)
    key = {"pk": {"S": "EX#1"}, "sk": {"S": "C#1"}}
    assert (
        direct.get_item(TableName="t", Key=key)["Item"]
        == boto.get_item(TableName="t", Key=key)["Item"]
    )
    assert direct.get_item(TableName="t", Key=key)["Item"]["body"] == {"B": b"\x00\xffzlib"}
    query = {
        "TableName": "t",
        "KeyConditionExpression": "pk = :p",
        "ExpressionAttributeValues": {":p": {"S": "EX#1"}},
    }
    assert direct.query(**query)["Items"] == boto.query(**query)["Items"]


def test_errors_carry_the_codes_boto3_gives(clients: dict[str, tuple[Any, Any]]) -> None:
    boto, direct = clients["dynamodb"]
    create_table(boto, "t")
    item = {"pk": {"S": "EX#1"}, "sk": {"S": "C#1"}}
    direct.put_item(TableName="t", Item=item)
    for client in (boto, direct):
        assert _error(
            lambda c=client: c.put_item(
                TableName="t", Item=item, ConditionExpression="attribute_not_exists(sk)"
            )
        ) == ("ConditionalCheckFailedException", "PutItem")
        assert _error(lambda c=client: c.get_item(TableName="absent", Key=item))[0] == (
            "ResourceNotFoundException"
        )
    sqs_boto, sqs_direct = clients["sqs"]
    codes = {_error(lambda c=c: c.get_queue_url(QueueName="absent"))[0] for c in clients["sqs"]}
    assert len(codes) == 1  # the same code through both, whatever moto calls it
    url = sqs_direct.create_queue(QueueName="q")["QueueUrl"]
    sqs_direct.send_message_batch(QueueUrl=url, Entries=[{"Id": "1", "MessageBody": "hi"}])
    (message,) = sqs_boto.receive_message(QueueUrl=url)["Messages"]
    assert message["Body"] == "hi"


def test_botocore_only_attributes_are_refused_clearly() -> None:
    client = MotoClient("dynamodb")
    with pytest.raises(AttributeError, match="boto3 client"):
        client.get_waiter("table_exists")
    with pytest.raises(ValueError, match="speaks"):
        MotoClient("s3")


def _outcome(call: Any) -> Any:
    """A call's result, or its error as botocore reports it (without request ids)."""
    try:
        return ("ok", call())
    except ClientError as exc:
        return ("error", exc.operation_name, exc.response["Error"], exc.response.get("Item"))


def test_item_operations_answer_alike_directly_and_through_motos_request_path(
    clients: dict[str, tuple[Any, Any]],
) -> None:
    """The direct path (handler methods) against the stubbed one (moto's HTTP handling)."""
    boto, client = clients["dynamodb"]
    create_table(boto, "t")
    calls: list[tuple[str, dict[str, Any]]] = []
    for i in range(12):
        item = {"pk": {"S": "EX#1"}, "sk": {"S": f"C#{i:03d}"}, "body": {"B": bytes([i]) * 40}}
        item.update(gsi3pk={"S": "T"}, gsi3sk={"S": f"2026-{i:02d}"}, n={"N": str(i)})
        calls.append(("PutItem", {"TableName": "t", "Item": item}))
    key = {"pk": {"S": "EX#1"}, "sk": {"S": "C#003"}}
    calls += [
        (  # a taken slot: the old item comes back with the error
            "PutItem",
            {
                "TableName": "t",
                "Item": {**key, "x": {"S": "y"}},
                "ConditionExpression": "attribute_not_exists(sk)",
                "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
            },
        ),
        ("GetItem", {"TableName": "t", "Key": key, "ConsistentRead": True}),
        ("GetItem", {"TableName": "t", "Key": {"pk": {"S": "none"}, "sk": {"S": "x"}}}),
        ("GetItem", {"TableName": "absent", "Key": key}),
        (
            "Query",
            {
                "TableName": "t",
                "KeyConditionExpression": "pk = :p AND begins_with(sk, :c)",
                "ExpressionAttributeValues": {":p": {"S": "EX#1"}, ":c": {"S": "C#"}},
                "ScanIndexForward": False,
                "Limit": 5,
                "ReturnConsumedCapacity": "TOTAL",
            },
        ),
        (
            "Query",
            {
                "TableName": "t",
                "IndexName": "timers_by_due",
                "KeyConditionExpression": "gsi3pk = :p AND gsi3sk < :b",
                "ExpressionAttributeValues": {":p": {"S": "T"}, ":b": {"S": "2026-07"}},
                "Limit": 3,
                "ExclusiveStartKey": {
                    "pk": {"S": "EX#1"},
                    "sk": {"S": "C#001"},
                    "gsi3pk": {"S": "T"},
                    "gsi3sk": {"S": "2026-01"},
                },
            },
        ),
        ("Query", {"TableName": "t", "KeyConditionExpression": "nonsense ="}),
        (
            "UpdateItem",
            {
                "TableName": "t",
                "Key": key,
                "UpdateExpression": "SET n = n + :one REMOVE gsi3sk",
                "ExpressionAttributeValues": {":one": {"N": "1"}},
                "ReturnValues": "ALL_NEW",
            },
        ),
        (
            "DeleteItem",
            {
                "TableName": "t",
                "Key": key,
                "ConditionExpression": "attribute_exists(gsi3sk)",
            },
        ),
        ("DeleteItem", {"TableName": "t", "Key": key, "ReturnValues": "ALL_OLD"}),
        ("GetItem", {"TableName": "t", "Key": key}),
    ]
    direct: list[Any] = []
    stubbed: list[Any] = []
    for operation, params in calls:
        direct.append(_outcome(lambda o=operation, p=params: client._call(o, dict(p))))
    # The same calls again on a fresh table, through moto's request handling.
    boto.delete_table(TableName="t")
    create_table(boto, "t")
    for operation, params in calls:
        stubbed.append(_outcome(lambda o=operation, p=params: client._stubbed(o, dict(p))))
    assert direct == stubbed
    errors = [outcome[2]["Code"] for outcome in direct if outcome[0] == "error"]
    assert errors == [
        "ConditionalCheckFailedException",  # the taken slot
        "ResourceNotFoundException",  # the absent table
        "ValidationException",  # the bad key condition
        "ConditionalCheckFailedException",  # the delete: gsi3sk was removed
    ]
    assert direct[12][3] == calls[3][1]["Item"]  # the old item comes with the error
    assert direct[-1] == ("ok", {})  # deleted

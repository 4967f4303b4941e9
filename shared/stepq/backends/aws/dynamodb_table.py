"""The DynamoDB table behind ``DynamoDBStore``: its layout, its errors, its creation.

CONTRACT (re-exported by ``dynamodb_store``, which others import)::

    create_table(client, name) -> None   # idempotent, on-demand, with indexes and TTL
    GSI_STATUS, GSI_START, GSI_TIMERS, TIMER_SHARD, TTL_ATTRIBUTE

The item layout, indexes and costs are in docs/STORAGE.md. In short:

=====================  ===================  ======================  =====================
item                   pk                   sk                      index keys
=====================  ===================  ======================  =====================
machine version        ``SM#<name>``        ``V#<version:010d>``    -
commit                 ``EX#<id>``          ``C#<seq:010d>``        first: gsi1pk, gsi2sk
                                                                    final: gsi1pk, gsi1sk
timer                  ``TM#<timer_id>``    ``TM``                  gsi3pk, gsi3sk
idempotency key        ``IK#<key>``         ``IK``                  - (TTL ``expires_at``)
step idempotency       ``IDEMPOTENCY#<s>``  ``<s>#<md5 of key>``    - (TTL; s = the step)
signing key            ``KEY#signing``      ``KEY``                 -
=====================  ===================  ======================  =====================
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from stepq.backends.aws.botocore_common import error_code, error_message
from stepq.errors import ConflictError, StoreError

Item = dict[str, dict[str, Any]]  # a low-level (typed) DynamoDB item

TIMER_SHARD = "TIMERS"  # one GSI partition for all timers: ~1000 timer writes/s

GSI_STATUS = "by_machine_status"  # gsi1pk=machine, gsi1sk=status#start#id
GSI_START = "by_machine_start"  # gsi1pk=machine, gsi2sk=start#id
GSI_TIMERS = "timers_by_due"  # gsi3pk=TIMERS, gsi3sk=due#timer_id
TTL_ATTRIBUTE = "expires_at"

# Attributes an execution listing needs; input/output stay out of the
# indexes so a big input is not written three times (ListExecutions omits them too).
_SUMMARY = [
    "machine_version",
    "name",
    "status",
    "start_time",
    "stop_time",
]


class ConditionFailed(ConflictError):
    """A condition expression was false; ``old`` is the item that made it so, if returned."""

    def __init__(self, message: str, old: Item | None = None) -> None:
        super().__init__(message)
        self.old = old


def translate(exc: ClientError, what: str, table: str) -> StoreError:
    """A botocore ``ClientError`` as a ``ports`` error (``ConditionFailed`` for a false condition)."""
    code = error_code(exc, "Unknown")
    message = error_message(exc)
    if code == "ConditionalCheckFailedException":
        return ConditionFailed(f"{what}: condition failed", exc.response.get("Item"))
    if code == "TransactionCanceledException":
        reasons = exc.response.get("CancellationReasons") or []
        codes = [r.get("Code") for r in reasons]
        if "ConditionalCheckFailed" in codes:
            return ConditionFailed(f"{what}: condition failed")
        if "TransactionConflict" in codes:
            return ConflictError(f"{what}: another transaction holds the item ({message})")
    if code == "ResourceNotFoundException":
        # A missing table is a deployment fault, not a missing execution.
        return StoreError(f"{what}: DynamoDB table {table!r} not found: {message}")
    return StoreError(f"{what}: DynamoDB {code}: {message}")


# --- table creation (local use and tests) -----------------------------------------


def _index(name: str, pk: str, sk: str, include: list[str] | None) -> dict[str, Any]:
    projection: dict[str, Any] = {"ProjectionType": "ALL"}
    if include is not None:
        projection = {"ProjectionType": "INCLUDE", "NonKeyAttributes": include}
    return {
        "IndexName": name,
        "KeySchema": [
            {"AttributeName": pk, "KeyType": "HASH"},
            {"AttributeName": sk, "KeyType": "RANGE"},
        ],
        "Projection": projection,
    }


def create_table(client: Any, name: str) -> None:
    """Create the table, its indexes and TTL (on-demand); a no-op if it exists."""
    keys = ["pk", "sk", "gsi1pk", "gsi1sk", "gsi2sk", "gsi3pk", "gsi3sk"]
    try:
        client.create_table(
            TableName=name,
            BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[{"AttributeName": k, "AttributeType": "S"} for k in keys],
            KeySchema=[
                {"AttributeName": "pk", "KeyType": "HASH"},
                {"AttributeName": "sk", "KeyType": "RANGE"},
            ],
            GlobalSecondaryIndexes=[
                _index(GSI_STATUS, "gsi1pk", "gsi1sk", _SUMMARY),
                _index(GSI_START, "gsi1pk", "gsi2sk", _SUMMARY),
                _index(GSI_TIMERS, "gsi3pk", "gsi3sk", None),
            ],
        )
    except ClientError as exc:
        if error_code(exc) != "ResourceInUseException":
            raise translate(exc, f"create_table {name!r}", name) from exc
    try:
        client.get_waiter("table_exists").wait(
            TableName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 60}
        )
    except (ClientError, BotoCoreError) as exc:
        raise StoreError(f"create_table {name!r}: table did not become active: {exc}") from exc
    _enable_ttl(client, name)


def _enable_ttl(client: Any, name: str) -> None:
    """Turn TTL on; a backend without TTL only loses the clean-up (claim_key checks expiry itself)."""
    try:
        status = client.describe_time_to_live(TableName=name).get("TimeToLiveDescription", {})
        if status.get("TimeToLiveStatus") in ("ENABLED", "ENABLING"):
            return
        client.update_time_to_live(
            TableName=name,
            TimeToLiveSpecification={"AttributeName": TTL_ATTRIBUTE, "Enabled": True},
        )
    except (ClientError, BotoCoreError, AttributeError):
        return

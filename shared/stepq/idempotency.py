"""Make a step's side effect happen once, on AWS Lambda Powertools' idempotency utility.

The worker delivers a task at least once; every delivery of one task attempt
carries the same ``context.idempotency_key``. ``idempotent_step`` records the
first successful result under that key (one conditional write) and answers a
repeated delivery with the stored result, without running the body again::

    persistence = stepq_table_persistence()  # the stepq table, named by STEPQ_TABLE

    @idempotent_step(persistence)
    def charge(event, context):
        return payments.charge(event["order"])  # runs once per task attempt

The record is keyed on the key alone, never on the event. By default records
live in the stepq table itself (single-table design), as items::

    pk = IDEMPOTENCY#<key_prefix>    sk = <key_prefix>#<md5 of the key as JSON>

with the table's TTL attribute ``expires_at`` (epoch seconds) as Powertools'
expiry. ``key_prefix`` is the step's ``module.qualname`` unless given, so one
step's records form one item collection. No other stepq item has a ``pk``
starting ``IDEMPOTENCY#`` (``SM#``, ``EX#``, ``TM#``, ``IK#``), and the
records carry no index attributes, so they never show in a listing.

The alternative, for very high write rates of one step: Powertools' own
table (partition key ``id`` (S), TTL attribute ``expiration`` (N)), through
``dynamodb_persistence``; ``create_idempotency_table`` makes one. See
docs/IDEMPOTENCY.md.

Powertools (and boto3 with it) is imported on first use only, so importing
this module costs nothing where the ``aws`` extra is not installed.
"""

from __future__ import annotations

import copy
import functools
import json
import os
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from stepq.clock import monotonic
from stepq.errors import MissingIdempotencyKeyError, MissingTableNameError
from stepq.runtime.steps import StepFunction, decode_payload

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.idempotency import (
        BasePersistenceLayer,
        DynamoDBPersistenceLayer,
    )

__all__ = [
    "EXPIRY_ATTRIBUTE",
    "KEY_ATTRIBUTE",
    "PARTITION_PREFIX",
    "TABLE_ENVIRONMENT_VARIABLE",
    "MissingIdempotencyKeyError",
    "MissingTableNameError",
    "create_idempotency_table",
    "dynamodb_persistence",
    "idempotent_step",
    "stepq_table_persistence",
]

# Powertools' own table (dynamodb_persistence): its DynamoDBPersistenceLayer
# defaults (key_attr, expiry_attr).
KEY_ATTRIBUTE = "id"
EXPIRY_ATTRIBUTE = "expiration"

# The stepq table (stepq_table_persistence): records are pk = PARTITION_PREFIX +
# key_prefix, sk = "<key_prefix>#<md5 of the key as JSON>"; TTL on dynamodb_store.TTL_ATTRIBUTE.
PARTITION_PREFIX = "IDEMPOTENCY#"
# The stepq table's name in every function of template.yaml (and Settings.table).
TABLE_ENVIRONMENT_VARIABLE = "STEPQ_TABLE"

# The keyword argument Powertools hashes: a synthetic {"key": ...}, never the event.
_DATA_ARGUMENT = "stepq_idempotency"
_RESULT = "result"


class _FixedRemainingTime:
    """Stands in for a Lambda context so Powertools puts an expiry on the in-progress lock.

    Without one, Powertools warns and an in-progress record left by a worker
    that died mid-step blocks the key until the whole record expires.
    """

    def __init__(self, seconds: float) -> None:
        self._millis = int(seconds * 1000)

    def get_remaining_time_in_millis(self) -> int:
        return self._millis


def idempotent_step(
    persistence: BasePersistenceLayer,
    *,
    expires_after_seconds: int = 3600,
    in_progress_timeout_seconds: float = 300,
    in_progress_wait_seconds: float = 60,
    key_prefix: str | None = None,
) -> Callable[[StepFunction], StepFunction]:
    """Decorate a step ``fn(event, context)`` so one task attempt's side effect happens once.

    ``expires_after_seconds``: how long a stored result answers redeliveries.
    ``in_progress_timeout_seconds``: the life of the lock a running delivery
    holds; keep it at least the step's longest run and at most the task
    queue's visibility timeout, so a redelivery after a crash can take over.
    ``in_progress_wait_seconds``: how long a concurrent duplicate delivery
    waits for the running one (and returns its result) before raising
    Powertools' ``IdempotencyAlreadyInProgressError``; 0 raises at once.
    ``key_prefix``: the record id prefix, by default the step's
    ``module.qualname`` (independent of ``AWS_LAMBDA_FUNCTION_NAME``, so a
    step hosted in Lambda and in a local worker agree). On the stepq table
    (``stepq_table_persistence``) it also names the step's partition,
    ``IDEMPOTENCY#<key_prefix>``.
    """
    if expires_after_seconds <= 0:
        raise ValueError(f"expires_after_seconds must be positive, got {expires_after_seconds}")
    if in_progress_timeout_seconds < 0 or in_progress_wait_seconds < 0:
        raise ValueError("in_progress_timeout_seconds and in_progress_wait_seconds must be >= 0")

    def decorate(fn: StepFunction) -> StepFunction:
        from aws_lambda_powertools.utilities.idempotency import (
            IdempotencyConfig,
            idempotent_function,
        )
        from aws_lambda_powertools.utilities.idempotency.exceptions import (
            IdempotencyAlreadyInProgressError,
        )

        name = f"{fn.__module__}.{fn.__qualname__}"
        prefix = key_prefix or name
        config = IdempotencyConfig(
            event_key_jmespath="key",
            raise_on_no_idempotency_key=True,
            expires_after_seconds=expires_after_seconds,
        )
        config.register_lambda_context(_FixedRemainingTime(in_progress_timeout_seconds))
        # Powertools configures a persistence layer once, with the first config
        # it meets, and rewrites its key prefix on every call: one copy per step
        # keeps each step's settings and prefix its own (the client is shared).
        store = copy.copy(persistence)
        store.configured = False
        if _on_stepq_table(store):
            store.static_pk_value = PARTITION_PREFIX + prefix  # one item collection per step

        def body(event: Any, context: Any, **_: Any) -> dict[str, Any]:
            # The envelope: Powertools replays a falsy stored result (0, "", {}) as None.
            result = decode_payload(fn(event, context))  # bytes -> JSON, as the worker would
            try:
                json.dumps(result)
            except (TypeError, ValueError) as exc:
                raise TypeError(f"{name} returned a result that is not JSON: {exc}") from None
            return {_RESULT: result}

        guarded = idempotent_function(
            body,
            data_keyword_argument=_DATA_ARGUMENT,
            persistence_store=store,
            config=config,
            key_prefix=prefix,
        )

        @functools.wraps(fn)
        def step(event: Any, context: Any) -> Any:
            key = getattr(context, "idempotency_key", None)
            if not isinstance(key, str) or not key:
                raise MissingIdempotencyKeyError(
                    f"{name} is an idempotent step but its context has no idempotency_key "
                    f"(got {key!r}); run it through the stepq worker or pass a context "
                    "with a non-empty idempotency_key"
                )
            deadline = monotonic() + in_progress_wait_seconds
            pause = 0.05
            while True:
                try:
                    envelope = guarded(event, context, **{_DATA_ARGUMENT: {"key": key}})
                    break
                except IdempotencyAlreadyInProgressError:
                    # Another delivery of this attempt is running: wait for its
                    # result (or its lock to expire) rather than report a failure
                    # that might reach the orchestrator first.
                    left = deadline - monotonic()
                    if left <= 0:
                        raise
                    time.sleep(min(pause, left))
                    pause = min(pause * 2, 1.0)
            return envelope[_RESULT]

        return step

    return decorate


def stepq_table_persistence(
    table_name: str | None = None,
    *,
    client: Any = None,
    endpoint_url: str | None = None,
    region_name: str | None = None,
    boto_config: Any = None,
) -> DynamoDBPersistenceLayer:
    """Powertools' DynamoDB persistence layer on the stepq table itself (the default).

    ``table_name`` defaults to ``$STEPQ_TABLE``, which every function of
    template.yaml gets; with neither, ``MissingTableNameError``. Records are
    items ``pk = IDEMPOTENCY#<key_prefix>``, ``sk = <key_prefix>#<md5 of the
    key as JSON>``, expiring through the table's TTL attribute ``expires_at``. The
    worker's ``DynamoDBCrudPolicy`` on the table covers every call Powertools
    makes (GetItem, PutItem, UpdateItem, DeleteItem). ``client``,
    ``endpoint_url``, ``region_name`` and ``boto_config`` as for
    ``dynamodb_persistence``.
    """
    if table_name is None:
        table_name = os.environ.get(TABLE_ENVIRONMENT_VARIABLE, "").strip()
    if not table_name:
        raise MissingTableNameError(
            "stepq_table_persistence needs the stepq table's name: pass table_name=... "
            f"or set {TABLE_ENVIRONMENT_VARIABLE} (the functions of template.yaml have it)"
        )
    from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer

    from stepq.backends.aws.dynamodb_store import TTL_ATTRIBUTE

    return DynamoDBPersistenceLayer(
        table_name=table_name,
        key_attr="pk",
        sort_key_attr="sk",
        # idempotent_step makes it IDEMPOTENCY#<key_prefix>, one partition per step.
        static_pk_value=PARTITION_PREFIX,
        expiry_attr=TTL_ATTRIBUTE,
        boto3_client=_client(client, endpoint_url, region_name, boto_config),
    )


def dynamodb_persistence(
    table_name: str,
    *,
    client: Any = None,
    endpoint_url: str | None = None,
    region_name: str | None = None,
    boto_config: Any = None,
) -> DynamoDBPersistenceLayer:
    """Powertools' DynamoDB persistence layer on a table of its own (``id`` key, ``expiration`` TTL).

    The alternative to ``stepq_table_persistence`` for very high write rates:
    there, all records of one step share one partition key. ``client`` (a
    boto3 DynamoDB client) wins; otherwise one is built from ``endpoint_url``
    (DynamoDB Local, moto server), ``region_name`` and ``boto_config`` (a
    ``botocore.config.Config``).
    """
    from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer

    return DynamoDBPersistenceLayer(
        table_name=table_name,
        key_attr=KEY_ATTRIBUTE,
        expiry_attr=EXPIRY_ATTRIBUTE,
        boto3_client=_client(client, endpoint_url, region_name, boto_config),
    )


def _client(client: Any, endpoint_url: str | None, region_name: str | None, config: Any) -> Any:
    if client is not None:
        return client
    import boto3

    session = boto3.session.Session()  # not the default one: that is not thread-safe
    return session.client(
        "dynamodb", region_name=region_name, endpoint_url=endpoint_url, config=config
    )


def _on_stepq_table(store: Any) -> bool:
    """Made by ``stepq_table_persistence``: a composite key whose partition is still the bare prefix."""
    return (
        getattr(store, "sort_key_attr", None) is not None
        and getattr(store, "static_pk_value", None) == PARTITION_PREFIX
    )


def create_idempotency_table(client: Any, name: str) -> None:
    """Create Powertools' table (``id`` S hash key, TTL on ``expiration``), on-demand; a no-op if it exists."""
    from botocore.exceptions import ClientError

    try:
        client.create_table(
            TableName=name,
            BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[{"AttributeName": KEY_ATTRIBUTE, "AttributeType": "S"}],
            KeySchema=[{"AttributeName": KEY_ATTRIBUTE, "KeyType": "HASH"}],
        )
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") != "ResourceInUseException":
            raise
    client.get_waiter("table_exists").wait(
        TableName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 60}
    )
    status = client.describe_time_to_live(TableName=name).get("TimeToLiveDescription", {})
    if status.get("TimeToLiveStatus") not in ("ENABLED", "ENABLING"):
        client.update_time_to_live(
            TableName=name,
            TimeToLiveSpecification={"AttributeName": EXPIRY_ATTRIBUTE, "Enabled": True},
        )

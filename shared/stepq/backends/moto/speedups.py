"""Faster paths through moto for the embedded backend, with the same answers.

moto answers a DynamoDB Query on a table's key by sorting every item of the
table, and an SQS receive or send by recounting every message of the queue
(the queue's attributes, with datetime arithmetic per message). Both grow
with the data, so a run with a few hundred executions spends most of its
time there. These patches keep moto's results and change only the work:

- Query on the table's own key reads the one partition it names (moto then
  sorts and pages it exactly as before). Index queries are unchanged.
- The retention check on receive reads the retention period, not every
  attribute of the queue (which counts the queue's messages).
- SQS's clock reads ``_wall()`` directly when asked for "now" (moto goes
  through naive datetimes for the same number).
- DynamoDB's item operations (GetItem, Query, PutItem, ...) answer with their
  result as JSON directly: moto's shape-driven serializer walks every
  attribute value of every item (most of a Query's time) to produce the same
  JSON. Only the output shape's own top-level members are kept, as the
  serializer keeps them. Results holding anything but JSON values (bytes:
  base64, as the serializer writes them) and errors take moto's own path.

``apply()`` is idempotent and checks the moto version it was written for
(5.x); on any other, or if moto's internals moved, it changes nothing and
moto runs as shipped. The store and queue contract suites run on moto with
these patches (tests/contract), so a divergence fails there.
"""

from __future__ import annotations

import base64
import functools
import json
import logging
import threading
import time
from typing import Any

log = logging.getLogger(__name__)

# moto's clock is the wall clock (not stepq's seam): the same reading, faster.
_wall = time.time  # noqa: TID251
_applied = False
_lock = threading.Lock()
_partition = threading.local()  # set only around one Query on a table's key


def apply() -> bool:
    """Install the patches (once per process); returns whether they are active."""
    global _applied
    with _lock:
        if _applied:
            return True
        try:
            import moto
            from moto.core import responses as core_responses
            from moto.core import utils as core_utils
            from moto.dynamodb import responses as dynamodb_responses
            from moto.dynamodb.models.table import Table
            from moto.sqs import models as sqs_models
        except ImportError:
            return False
        if not str(getattr(moto, "__version__", "")).startswith("5."):
            log.info("moto %s: running it unpatched", getattr(moto, "__version__", "?"))
            return False
        needed = (
            hasattr(Table, "query") and hasattr(Table, "all_items"),
            hasattr(sqs_models.SQSBackend, "is_message_valid_based_on_retention_period"),
            sqs_models.unix_time is core_utils.unix_time,
            sqs_models.unix_time_millis is core_utils.unix_time_millis,
            core_responses.method_names_from_class is core_utils.method_names_from_class,
            hasattr(getattr(dynamodb_responses, "DynamoResult", None), "execute_result"),
        )
        if not all(needed):
            log.info("moto's internals moved: running it unpatched")
            return False
        _patch_table_query(Table)
        _patch_sqs(sqs_models)
        _patch_method_names(core_responses)
        _patch_dynamodb_results(dynamodb_responses.DynamoResult)
        _applied = True
        return True


def _patch_table_query(table_class: Any) -> None:
    original_query = table_class.query
    original_all_items = table_class.all_items

    def all_items(self: Any) -> list[Any]:
        override = getattr(_partition, "items", None)
        if override is not None and override[0] is self:
            return override[1]
        return original_all_items(self)

    def query(self: Any, hash_key: Any, *args: Any, **kwargs: Any) -> Any:
        index_name = kwargs.get("index_name", args[6] if len(args) > 6 else None)
        if index_name or hash_key is None or not self.range_key_attr:
            return original_query(self, hash_key, *args, **kwargs)
        # moto keeps items as {hash key: {range key: item}}; its key-query path
        # filters all_items() by the hash key, so giving it the one partition
        # yields the same list (it sorts by range key afterwards).
        partition = self.items.get(hash_key)
        _partition.items = (self, list(partition.values()) if partition else [])
        try:
            return original_query(self, hash_key, *args, **kwargs)
        finally:
            _partition.items = None

    table_class.all_items = all_items
    table_class.query = query


# Operations whose output is items and counters: plain JSON, nothing to reshape.
_PLAIN_JSON_OPERATIONS = frozenset(
    {
        "GetItem",
        "PutItem",
        "UpdateItem",
        "DeleteItem",
        "Query",
        "Scan",
        "BatchGetItem",
        "BatchWriteItem",
        "TransactGetItems",
        "TransactWriteItems",
    }
)


def _patch_dynamodb_results(result_class: Any) -> None:
    original = result_class.execute_result

    def execute_result(self: Any, context: Any) -> Any:
        result = self.result
        service = context.service_model
        if (
            context.operation_model.name not in _PLAIN_JSON_OPERATIONS
            or not isinstance(result, dict)
            or service.protocol != "json"
        ):
            return original(self, context)
        shape = context.operation_model.output_shape
        if shape is not None:  # moto adds keys of its own that the serializer drops
            result = {k: v for k, v in result.items() if k in shape.members}
        try:
            body = json.dumps(result, separators=(",", ":"), default=_base64)
        except TypeError:  # something the serializer must shape: its own path
            return original(self, context)
        version = service.metadata.get("jsonVersion", "1.0")
        return 200, {"Content-Type": f"application/x-amz-json-{version}"}, body

    result_class.execute_result = execute_result


def _base64(value: Any) -> str:
    if isinstance(value, (bytes, bytearray)):
        return base64.b64encode(bytes(value)).decode("ascii")
    raise TypeError(type(value).__name__)


def _patch_sqs(sqs_models: Any) -> None:
    def unix_time(dt: Any = None) -> float:
        return _wall() if dt is None else _original_unix_time(dt)

    def unix_time_millis(dt: Any = None) -> float:
        return _wall() * 1000.0 if dt is None else _original_unix_time(dt) * 1000.0

    def is_message_valid_based_on_retention_period(
        self: Any, queue_name: str, message: Any
    ) -> bool:
        retention = int(self.get_queue(queue_name).message_retention_period)
        return retention + message.sent_timestamp / 1000 > _wall()

    _original_unix_time = sqs_models.unix_time
    sqs_models.unix_time = unix_time
    sqs_models.unix_time_millis = unix_time_millis
    sqs_models.SQSBackend.is_message_valid_based_on_retention_period = (
        is_message_valid_based_on_retention_period
    )


def _patch_method_names(core_responses: Any) -> None:
    original = core_responses.method_names_from_class

    @functools.cache
    def cached(clazz: type) -> tuple[str, ...]:
        return tuple(original(clazz))

    def method_names_from_class(clazz: Any) -> list[str]:
        return list(cached(clazz))

    core_responses.method_names_from_class = method_names_from_class

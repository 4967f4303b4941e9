"""AWS wiring from the environment: settings, boto3 clients, the runtime objects.

CONTRACT (others code against these signatures)::

    Settings.from_env(environ=None) -> Settings        # reads os.environ by default
    build(settings, clients=None, *, session=None) -> (store, queues, blobs)
    runtime_config(settings) -> RuntimeConfig           # region, account, task routing
    make_client(settings, service, *, session=None)     # one boto3 client
    client_config() -> botocore.config.Config           # adaptive retries
    logical_queue(event_source_arn, prefix) -> str      # "arn:...:stepq-events" -> "events"
    consume_batch(records, queues, prefix, handle_batch, logger=None) -> dict
    localstack_session(**kwargs) -> a boto3-compatible Session

Environment (all optional; the defaults suit a local run):

    STEPQ_TABLE         DynamoDB table name (default ``stepq``)
    STEPQ_QUEUE_PREFIX  physical SQS name prefix: ``<prefix>-events`` (default ``stepq``)
    STEPQ_BUCKET        S3 bucket for claim checks of large payloads (unset: none)
    STEPQ_ENDPOINT_URL  one endpoint for every service, e.g. http://localhost:4566
                        (LocalStack) or a moto server URL; unset: the real AWS endpoints
    STEPQ_DYNAMODB_ENDPOINT_URL, STEPQ_SQS_ENDPOINT_URL, STEPQ_S3_ENDPOINT_URL
                        one service's endpoint, winning over STEPQ_ENDPOINT_URL (e.g. the
                        table on DynamoDB Local, the queues on a moto server)
    AWS_REGION          region (falls back to AWS_DEFAULT_REGION, then us-east-1)
    STEPQ_ACCOUNT       account id used in execution ARNs (default 111111111111)
    STEPQ_FUNCTIONS     module (``pkg.mod`` or a ``.py`` path) of step functions (worker)
    STEPQ_TASK_QUEUES   comma-separated step functions that have their own task queue;
                        tasks for any other function go to ``tasks-unknown``. Unset: one
                        queue per function (``tasks-<name>``, created with ``ensure``).

Settings are a pydantic model validated from the environment mapping rather
than a ``pydantic-settings`` class: the same validation, one dependency fewer
in the Lambda bundle. Nothing here builds a client at import time.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import Any

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, field_validator

from stepq.clock import Clock, SystemClock
from stepq.errors import StepqError
from stepq.runtime.batch import BatchResult
from stepq.runtime.messages import task_queue
from stepq.runtime.orchestrator import RuntimeConfig
from stepq.runtime.poison import fail_owners
from stepq.runtime.ports import Blobs, Queues, Received, Store
from stepq.runtime.queue_messages import ID_ATTRIBUTE, ClaimCheckError, parse_body

__all__ = [
    "DEFAULT_TASK_QUEUE",
    "Settings",
    "build",
    "client_config",
    "consume_batch",
    "localstack_session",
    "logical_queue",
    "make_client",
    "runtime_config",
]

DEFAULT_TASK_QUEUE = task_queue(None)  # "tasks-unknown"


class Settings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore", populate_by_name=True)

    table: str = Field("stepq", alias="STEPQ_TABLE", min_length=3, max_length=255)
    queue_prefix: str = Field("stepq", alias="STEPQ_QUEUE_PREFIX", max_length=60)
    bucket: str | None = Field(None, alias="STEPQ_BUCKET")
    endpoint_url: str | None = Field(None, alias="STEPQ_ENDPOINT_URL")
    dynamodb_endpoint_url: str | None = Field(None, alias="STEPQ_DYNAMODB_ENDPOINT_URL")
    sqs_endpoint_url: str | None = Field(None, alias="STEPQ_SQS_ENDPOINT_URL")
    s3_endpoint_url: str | None = Field(None, alias="STEPQ_S3_ENDPOINT_URL")
    region: str = Field(
        "us-east-1", validation_alias=AliasChoices("region", "AWS_REGION", "AWS_DEFAULT_REGION")
    )
    account: str = Field("111111111111", alias="STEPQ_ACCOUNT", pattern=r"^\d{12}$")
    functions: str | None = Field(None, alias="STEPQ_FUNCTIONS")
    task_queues: tuple[str, ...] | None = Field(None, alias="STEPQ_TASK_QUEUES")

    @field_validator(
        "bucket",
        "endpoint_url",
        "dynamodb_endpoint_url",
        "sqs_endpoint_url",
        "s3_endpoint_url",
        "functions",
        mode="before",
    )
    @classmethod
    def _blank_is_unset(cls, value: Any) -> Any:
        # CloudFormation cannot omit an env var conditionally; "" means unset.
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("task_queues", mode="before")
    @classmethod
    def _split(cls, value: Any) -> Any:
        if isinstance(value, str):
            names = tuple(n.strip() for n in value.split(",") if n.strip())
            return names or None
        return value

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        return cls.model_validate(dict(os.environ if environ is None else environ))

    def endpoint_for(self, service: str) -> str | None:
        """The endpoint of ``service`` ("dynamodb", "sqs", "s3"): its own, else the shared one."""
        own = {
            "dynamodb": self.dynamodb_endpoint_url,
            "sqs": self.sqs_endpoint_url,
            "s3": self.s3_endpoint_url,
        }.get(service)
        return own or self.endpoint_url


def client_config() -> Any:
    """Adaptive retries: botocore backs off and rate-limits itself on throttling."""
    from botocore.config import Config

    return Config(retries={"mode": "adaptive", "max_attempts": 10})


def make_client(settings: Settings, service: str, *, session: Any = None) -> Any:
    """A boto3 client for ``service`` honouring the region and endpoint settings."""
    if session is None:
        import boto3

        session = boto3.session.Session()  # not the default one: not thread-safe
    kwargs: dict[str, Any] = {"region_name": settings.region, "config": client_config()}
    endpoint = settings.endpoint_for(service)
    if endpoint:
        kwargs["endpoint_url"] = endpoint
    return session.client(service, **kwargs)


def build(
    settings: Settings,
    clients: Mapping[str, Any] | None = None,
    *,
    session: Any = None,
) -> tuple[Store, Queues, Blobs | None]:
    """The store, queues and blob store; ``clients`` ({"dynamodb", "sqs", "s3"}) win over built ones."""
    from stepq.runtime.queues_sqs import SqsQueues
    from stepq.runtime.store_dynamodb import DynamoDBStore

    given = dict(clients or {})
    shared = [session]

    def client(service: str) -> Any:
        if service not in given:
            if shared[0] is None:  # one session for all clients: it loads the API models once
                import boto3

                shared[0] = boto3.session.Session()
            given[service] = make_client(settings, service, session=shared[0])
        return given[service]

    blobs: Blobs | None = None
    if settings.bucket:
        from stepq.runtime.blobs import S3Blobs

        blobs = S3Blobs(settings.bucket, client=client("s3"), region=settings.region)
    store = DynamoDBStore(settings.table, client=client("dynamodb"), blobs=blobs)
    # With a bucket, queue messages over the claim threshold travel through it too.
    queues = SqsQueues(client=client("sqs"), prefix=settings.queue_prefix, blobs=blobs)
    return store, queues, blobs


def runtime_config(settings: Settings) -> RuntimeConfig:
    """Region and account for execution ARNs; task routing to the queues that exist."""
    config = RuntimeConfig(region=settings.region, account=settings.account)
    if settings.task_queues is not None:
        own = frozenset(settings.task_queues)

        def route(function_name: str | None) -> str:
            return task_queue(function_name) if function_name in own else DEFAULT_TASK_QUEUE

        config.route = route
    return config


def logical_queue(event_source_arn: str, prefix: str) -> str:
    """The logical queue name of an SQS ARN (``...:stepq-events`` -> ``events``)."""
    physical = event_source_arn.rsplit(":", 1)[-1]
    head = f"{prefix}-" if prefix else ""
    if not physical.startswith(head):
        raise StepqError(f"queue {physical!r} does not carry the prefix {prefix!r}")
    return physical[len(head) :]


def _received(record: Any) -> Received:
    """A Lambda SQS record as the ``Received`` the queues port dead-letters."""
    attributes = record.message_attributes or {}
    stepq_id = (attributes.get(ID_ATTRIBUTE) or {}).get("stringValue")
    count = (record.attributes or {}).get("ApproximateReceiveCount") or "1"
    raw = record.body or ""
    return Received(
        body=parse_body(raw),
        raw=raw,
        receipt=record.receipt_handle,
        receive_count=int(count),
        message_id=stepq_id or record.message_id,
    )


def consume_batch(
    records: list[Any],
    queues: Queues,
    prefix: str,
    handle_batch: Callable[[list[Received]], BatchResult],
    logger: Any = None,
    clock: Clock | None = None,
    store: Store | None = None,
) -> dict[str, Any]:
    """Handle a Lambda SQS batch whole; returns the partial batch response.

    Powertools' ``BatchProcessor`` hands records over one at a time, but
    stepq commits one execution's records together and sends everything a
    batch decided in as few requests as it can, so the batch goes to the
    handler whole and the ``batchItemFailures`` response (the format the
    event source mapping reads with ``ReportBatchItemFailures``) is built
    here. A message that can never be processed is dead-lettered with its
    reason and counts as handled; any other failure is reported for retry.
    """
    failures: list[str] = []
    by_source: dict[str, list[tuple[Any, Received]]] = {}
    resolve = getattr(queues, "resolve", None)  # fetch claim-checked bodies back
    for record in records:
        received = _received(record)
        if resolve is not None:
            try:
                received = resolve(received)
            except ClaimCheckError:  # the blob store failed just now: retry the record
                if logger is not None:
                    logger.exception("reading a claim-checked body failed; left for retry")
                failures.append(record.message_id)
                continue
        by_source.setdefault(record.event_source_arn, []).append((record, received))
    for source, items in by_source.items():
        received = [r for _, r in items]
        record_id = {id(r): record.message_id for record, r in items}
        try:
            name = logical_queue(source, prefix)
            result = handle_batch(received)
        except Exception:
            if logger is not None:
                logger.exception("batch failed; every record is left for retry")
            failures.extend(record.message_id for record, _ in items)
            continue
        for message, reason in result.dead:
            execution_id = (message.body or {}).get("execution_id")
            if logger is not None:
                logger.warning(
                    "dead-lettering a malformed message", reason=reason, execution_id=execution_id
                )
            try:
                queues.dead_letter(name, message, reason)
            except Exception:
                if logger is not None:
                    logger.exception("dead-lettering failed; left for retry")
                failures.append(record_id[id(message)])
        failures.extend(record_id[id(r)] for r in result.failed)
        if result.dead and store is not None:
            try:  # their executions fail (the scheduler's sweep would find them later)
                fail_owners(store, queues, name, result.dead, clock or SystemClock())
            except Exception:
                if logger is not None:
                    logger.exception("failing the executions of dead messages failed")
    return {"batchItemFailures": [{"itemIdentifier": i} for i in failures]}


def localstack_session(**kwargs: Any) -> Any:
    """A boto3-compatible session aimed at LocalStack, from ``localstack-client``.

    stepq does not depend on ``localstack-client``; install it to use this
    (``pip install localstack-client``), then ``build(settings, session=localstack_session())``.
    Without it, ``STEPQ_ENDPOINT_URL=http://localhost:4566`` does the same.
    """
    try:
        from localstack_client.session import Session  # type: ignore[import-not-found]
    except ImportError as exc:
        raise StepqError(
            "localstack_session() needs the localstack-client package "
            "(pip install localstack-client), or set STEPQ_ENDPOINT_URL=http://localhost:4566"
        ) from exc
    return Session(**kwargs)

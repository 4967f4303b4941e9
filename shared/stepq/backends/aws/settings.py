"""AWS wiring from the environment: settings, boto3 clients, the runtime objects.

CONTRACT (others code against these signatures)::

    Settings.from_env(environ=None) -> Settings        # reads os.environ by default
    build(settings, clients=None, *, session=None) -> (store, queues, blobs)
    runtime_config(settings) -> RuntimeConfig           # region, account, task routing
    make_client(settings, service, *, session=None)     # one boto3 client
    client_config() -> botocore.config.Config           # adaptive retries
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
    STEPQ_TASK_VISIBILITY_TIMEOUT  the task queues' visibility timeout in seconds (worker;
                        default: 720 on Lambda as template.yaml sets it, 60 for stepq worker)
    STEPQ_RETENTION_DAYS  days a finished execution is kept (its items expire through
                        DynamoDB TTL between that and 30 days more: runtime/retention.py);
                        unset, empty or 0: kept forever. template.yaml sets it (90).
    STEPQ_MAIL_FROM     the verified SES identity people's e-mail is sent from (worker;
                        template.yaml's MailFrom); unset or empty: e-mail is refused,
                        "no sender configured (MailFrom)"
    STEPQ_TASK_QUEUES   comma-separated step functions that have their own task queue;
                        tasks for any other function go to ``tasks-unknown``. Unset: one
                        queue per function (``tasks-<name>``, created with ``ensure``).

Settings are a pydantic model validated from the environment mapping rather
than a ``pydantic-settings`` class: the same validation, one dependency fewer
in the Lambda bundle. Nothing here builds a client at import time.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, field_validator

from stepq.backends.aws.botocore_common import client_config
from stepq.errors import StepqError
from stepq.runtime.applier.config import RuntimeConfig
from stepq.runtime.messages import task_queue
from stepq.runtime.ports import Blobs, Queues, Store

__all__ = [
    "DEFAULT_TASK_QUEUE",
    "Settings",
    "build",
    "client_config",
    "localstack_session",
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
    # None: nothing expires. The deployed functions get RetentionDays (template.yaml).
    retention_days: int | None = Field(None, alias="STEPQ_RETENTION_DAYS", ge=0, le=36500)
    # The task queues' visibility timeout; the worker keeps running tasks' messages
    # invisible by this much at a time. Unset: the host's default.
    task_visibility_timeout: int | None = Field(
        None, alias="STEPQ_TASK_VISIBILITY_TIMEOUT", ge=0, le=43200
    )

    # The sender of the people's e-mail (SES); None: no e-mail is sent.
    mail_from: str | None = Field(None, alias="STEPQ_MAIL_FROM", max_length=320)

    @field_validator(
        "bucket",
        "mail_from",
        "endpoint_url",
        "dynamodb_endpoint_url",
        "sqs_endpoint_url",
        "s3_endpoint_url",
        "functions",
        "retention_days",
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
    from stepq.backends.aws.dynamodb_store import DynamoDBStore
    from stepq.backends.aws.sqs_queues import SqsQueues

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
        from stepq.backends.aws.s3_blobs import S3Blobs

        blobs = S3Blobs(settings.bucket, client=client("s3"), region=settings.region)
    store = DynamoDBStore(
        settings.table,
        client=client("dynamodb"),
        blobs=blobs,
        retention_days=settings.retention_days,
    )
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

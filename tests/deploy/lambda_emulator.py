"""Lambda, played in-process: a function's real handler, its environment, its events.

Each function is its own module import of ``<CodeUri>/app.py`` (as each
Lambda function has its own interpreter), run with exactly the environment
the template gives it plus what Lambda itself sets, and nothing from the
test process. Events are built as Lambda builds them: SQS batches by an
event source mapping that honours partial batch responses, the EventBridge
schedule event, API Gateway proxy requests.
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import os
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from types import ModuleType
from typing import Any

from stepq.clock import SystemClock, monotonic

from deploy.aws_calls import Recorder


@dataclass
class LambdaContext:
    """The context object Lambda passes (what Powertools reads of it)."""

    function_name: str
    invoked_function_arn: str
    memory_limit_in_mb: int
    timeout_s: int
    function_version: str = "$LATEST"
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    log_group_name: str = ""
    log_stream_name: str = "offline"
    _started: float = field(default_factory=monotonic)

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self.timeout_s - (monotonic() - self._started)) * 1000))


@dataclass
class LambdaFunction:
    logical_id: str
    name: str
    arn: str
    handler: str  # "app.handler"
    code_dir: Path
    environment: dict[str, str]  # from the template, resolved
    timeout_s: int
    memory_mb: int
    region: str
    recorder: Recorder
    role_arn: str
    stdout: list[str] = field(default_factory=list)  # what every invocation printed
    invocations: int = 0
    _module: ModuleType | None = None

    def lambda_environment(self) -> dict[str, str]:
        """The template's variables plus the ones Lambda sets; no developer profile."""
        return {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "LANG": "en_US.UTF-8",
            "TZ": ":UTC",
            "AWS_REGION": self.region,
            "AWS_DEFAULT_REGION": self.region,
            "AWS_LAMBDA_FUNCTION_NAME": self.name,
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(self.memory_mb),
            "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{self.name}",
            "AWS_EXECUTION_ENV": "AWS_Lambda_python3.12",
            "LAMBDA_TASK_ROOT": str(self.code_dir),
            "_HANDLER": self.handler,
            # The role's temporary credentials in Lambda; moto accepts any.
            "AWS_ACCESS_KEY_ID": "ASIAOFFLINE",
            "AWS_SECRET_ACCESS_KEY": "offline",
            "AWS_SESSION_TOKEN": "offline",
            "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
            "AWS_EC2_METADATA_DISABLED": "true",
            "AWS_XRAY_CONTEXT_MISSING": "LOG_ERROR",
            "AWS_XRAY_DAEMON_ADDRESS": "127.0.0.1:2000",
            # Lambda sets this per invocation; not sampled: the Tracer sends nothing.
            "_X_AMZN_TRACE_ID": f"Root=1-{uuid.uuid4().hex[:8]}-{uuid.uuid4().hex[:24]};"
            f"Parent={uuid.uuid4().hex[:16]};Sampled=0",
            **self.environment,
        }

    @contextlib.contextmanager
    def _inside(self) -> Iterator[None]:
        saved = dict(os.environ)
        os.environ.clear()
        os.environ.update(self.lambda_environment())
        sys.path.insert(0, str(self.code_dir))
        try:
            with self.recorder.acting_as(self.logical_id):
                yield
        finally:
            sys.path.remove(str(self.code_dir))
            os.environ.clear()
            os.environ.update(saved)

    def _handler(self) -> Any:
        module_path, attribute = self.handler.rsplit(".", 1)
        if self._module is None:
            path = self.code_dir / (module_path.replace(".", "/") + ".py")
            spec = importlib.util.spec_from_file_location(f"offline_{self.logical_id}", path)
            if spec is None or spec.loader is None:
                raise ImportError(f"{self.logical_id}: cannot load {path}")
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)  # a cold start: module-level code runs here
            self._module = module
        return getattr(self._module, attribute)

    def invoke(self, event: dict[str, Any]) -> Any:
        """One invocation; what it prints (logs, EMF) is kept in ``stdout``."""
        context = LambdaContext(self.name, self.arn, self.memory_mb, self.timeout_s)
        printed = io.StringIO()
        self.invocations += 1
        with self._inside():
            handler = self._handler()
            try:
                with contextlib.redirect_stdout(printed):
                    return handler(event, context)
            finally:
                self.stdout.append(printed.getvalue())


@dataclass
class SqsEventSource:
    """An event source mapping: polls a queue, invokes with batches, deletes what succeeded.

    One receive (at most 10 messages) is one batch: a BatchSize over 10 with a
    batching window, which Lambda fills over several receives, is not modelled.
    """

    function: LambdaFunction
    queue_url: str
    queue_arn: str
    batch_size: int
    report_failures: bool  # FunctionResponseTypes: [ReportBatchItemFailures]
    sqs: Any  # the poller's client (Lambda's, acting with the function's role)
    failed: list[dict[str, Any]] = field(default_factory=list)  # messages left on the queue

    def poll(self) -> bool:
        """One batch, if the queue has one; True if the function was invoked."""
        received = self.receive()
        if not received:
            return False
        self.deliver(received)
        return True

    def receive(self) -> list[dict[str, Any]]:
        """One receive of the poller: the messages it would invoke the function with."""
        messages: list[dict[str, Any]] = self.sqs.receive_message(
            QueueUrl=self.queue_url,
            MaxNumberOfMessages=min(self.batch_size, 10),
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
            WaitTimeSeconds=0,
        ).get("Messages", [])
        return messages

    def deliver(
        self, received: list[dict[str, Any]], function: LambdaFunction | None = None
    ) -> None:
        """Invoke ``function`` (by default the mapping's) with ``received`` as one batch;
        delete what it handled, keep what failed (``failed``) for its visibility to end."""
        function = function or self.function
        event = {"Records": [self._record(m) for m in received]}
        try:
            response = function.invoke(event)
            failures = self._failures(response, {m["MessageId"] for m in received})
        except Exception:  # the whole batch stays on the queue (Lambda retries it)
            failures = {m["MessageId"] for m in received}
        done = [m for m in received if m["MessageId"] not in failures]
        for start in range(0, len(done), 10):
            chunk = done[start : start + 10]
            self.sqs.delete_message_batch(
                QueueUrl=self.queue_url,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(chunk)
                ],
            )
        self.failed += [m for m in received if m["MessageId"] in failures]

    def _failures(self, response: Any, ids: set[str]) -> set[str]:
        if not self.report_failures:
            return set()
        items = (
            (response or {}).get("batchItemFailures") or [] if isinstance(response, dict) else []
        )
        named = {str(i.get("itemIdentifier") or "") for i in items}
        # Lambda fails the whole batch on an identifier that is not in it.
        return ids if named - ids else named

    def expire_failed(self) -> int:
        """The visibility timeout of the records left on the queue ends now (they come back)."""
        count = 0
        for message in self.failed:
            with contextlib.suppress(Exception):  # moved to the DLQ, or deleted meanwhile
                self.sqs.change_message_visibility(
                    QueueUrl=self.queue_url,
                    ReceiptHandle=message["ReceiptHandle"],
                    VisibilityTimeout=0,
                )
                count += 1
        self.failed.clear()
        return count

    def _record(self, message: dict[str, Any]) -> dict[str, Any]:
        attributes = {
            name: {
                "stringValue": value.get("StringValue"),
                "binaryValue": value.get("BinaryValue"),
                "stringListValues": [],
                "binaryListValues": [],
                "dataType": value["DataType"],
            }
            for name, value in (message.get("MessageAttributes") or {}).items()
        }
        return {
            "messageId": message["MessageId"],
            "receiptHandle": message["ReceiptHandle"],
            "body": message["Body"],
            "attributes": message.get("Attributes", {}),
            "messageAttributes": attributes,
            "md5OfBody": message["MD5OfBody"],
            "eventSource": "aws:sqs",
            "eventSourceARN": self.queue_arn,
            "awsRegion": self.function.region,
        }


def schedule_event(rule_arn: str, account: str, region: str, now: datetime) -> dict[str, Any]:
    """The event EventBridge sends a scheduled rule's Lambda target."""
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": account,
        "time": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": region,
        "resources": [rule_arn],
        "detail": {},
    }


def rest_api_event(
    body: str, headers: dict[str, str], *, api_id: str, stage: str, account: str, caller: str
) -> dict[str, Any]:
    """An API Gateway REST API proxy event (payload 1.0) for ``POST /``, IAM-authenticated."""
    return {
        "resource": "/",
        "path": "/",
        "httpMethod": "POST",
        "headers": headers,
        "multiValueHeaders": {k: [v] for k, v in headers.items()},
        "queryStringParameters": None,
        "multiValueQueryStringParameters": None,
        "pathParameters": None,
        "stageVariables": None,
        "requestContext": {
            "resourcePath": "/",
            "httpMethod": "POST",
            "path": f"/{stage}/",
            "stage": stage,
            "accountId": account,
            "apiId": api_id,
            "requestId": str(uuid.uuid4()),
            "identity": {"userArn": caller, "accountId": account, "sourceIp": "127.0.0.1"},
        },
        "body": body,
        "isBase64Encoded": False,
    }


def http_api_event(
    body: str, headers: dict[str, str], *, api_id: str, stage: str, account: str, caller: str
) -> dict[str, Any]:
    """An API Gateway HTTP API event (payload 2.0) for ``POST /``, IAM-authenticated."""
    return {
        "version": "2.0",
        "routeKey": "POST /",
        "rawPath": "/" if stage == "$default" else f"/{stage}/",
        "rawQueryString": "",
        "headers": {k.lower(): v for k, v in headers.items()},
        "requestContext": {
            "accountId": account,
            "apiId": api_id,
            "stage": stage,
            "requestId": str(uuid.uuid4()),
            "http": {
                "method": "POST",
                "path": "/",
                "protocol": "HTTP/1.1",
                "sourceIp": "127.0.0.1",
            },
            "authorizer": {"iam": {"userArn": caller, "accountId": account}},
        },
        "body": body,
        "isBase64Encoded": False,
    }


class TimeTravel:
    """The runtime's clock seam (``stepq.clock.SystemClock``) moved forward on demand.

    Lambda's clock is the wall clock; a one-day Wait cannot take a day here,
    so the handlers' ``SystemClock.now`` reads the real time plus an offset.
    """

    def __init__(self) -> None:
        self.offset = timedelta()
        self._original = SystemClock.now

    def advance(self, seconds: float) -> None:
        self.offset += timedelta(seconds=seconds)

    def now(self) -> datetime:
        return self._original(SystemClock()) + self.offset

    @contextlib.contextmanager
    def installed(self) -> Iterator[None]:
        travel = self
        SystemClock.now = lambda self: travel.now()  # type: ignore[method-assign]
        try:
            yield
        finally:
            SystemClock.now = self._original  # type: ignore[method-assign]


__all__ = [
    "LambdaContext",
    "LambdaFunction",
    "SqsEventSource",
    "TimeTravel",
    "http_api_event",
    "rest_api_event",
    "schedule_event",
]

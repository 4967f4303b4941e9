"""Each Lambda handler's EMF output (stdout) on moto: the metrics it must emit, counted once.

The handlers in ``functions/*/app.py`` are called as Lambda calls them: SQS
records received from moto and reshaped the way the event source mapping
delivers them, the scheduler's EventBridge event, an API Gateway request.
What they print is parsed as CloudWatch would read it (namespace ``Stepq``,
the ``service`` dimension, each dimension set a blob declares).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("aws_lambda_powertools")
moto = pytest.importorskip("moto")

from lambda_support import FakeContext, queue_url, receive_all, sqs_records  # noqa: E402
from lambda_support import load_app as _load  # noqa: E402
from stepq.api.catalog import MachineDoc  # noqa: E402
from stepq.backends.aws import settings as aws  # noqa: E402
from stepq.backends.aws.dynamodb_store import create_table  # noqa: E402
from stepq.clock import ManualClock, SystemClock  # noqa: E402
from stepq.runtime import codec  # noqa: E402
from stepq.runtime.orchestrator import Orchestrator  # noqa: E402
from stepq.runtime.ports import Timer  # noqa: E402
from stepq.runtime.signing import Keys  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
REGION = "us-east-1"
ACCOUNT = "123456789012"  # moto's account
PREFIX = "mx"

PASS3 = {
    "StartAt": "A",
    "States": {
        "A": {"Type": "Pass", "Next": "B"},
        "B": {"Type": "Pass", "Next": "C"},
        "C": {"Type": "Pass", "End": True},
    },
}
GREETER = {  # fails its first attempt, retried once
    "StartAt": "Greet",
    "States": {
        "Greet": {
            "Type": "Task",
            "Resource": "arn:aws:states:::lambda:invoke",
            "Parameters": {"FunctionName": "hello", "Payload.$": "$"},
            "OutputPath": "$.Payload",
            "Retry": [{"ErrorEquals": ["ValueError"], "IntervalSeconds": 1, "MaxAttempts": 2}],
            "End": True,
        }
    },
}
ORPHAN = {  # its task queue is never created: sending its work fails
    "StartAt": "Call",
    "States": {
        "Call": {
            "Type": "Task",
            "Resource": f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:nobody",
            "End": True,
        }
    },
}
STEPS = """
def hello(event, context):
    if context.attempt == 0:
        raise ValueError("the first attempt fails")
    return {"greeting": "Hello, " + event["name"] + "!"}
"""


@dataclass
class Env:
    settings: aws.Settings
    store: Any
    sqs: Any


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Env]:
    steps = tmp_path / "steps_for_metrics.py"
    steps.write_text(STEPS)
    for key, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_REGION": REGION,
        "AWS_DEFAULT_REGION": REGION,
        "STEPQ_TABLE": "stepq-metrics",
        "STEPQ_QUEUE_PREFIX": PREFIX,
        "STEPQ_ACCOUNT": ACCOUNT,
        "STEPQ_FUNCTIONS": str(steps),
        "POWERTOOLS_LOG_LEVEL": "WARNING",
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_METRICS_NAMESPACE": "Stepq",
        # Per-step timings written every invocation (deployed: held up to a minute,
        # tests/unit/test_metrics_emf.py), so each handler call shows them.
        "STEPQ_METRICS_HOLD_SECONDS": "0",
    }.items():
        monkeypatch.setenv(key, value)
    for key in (
        "STEPQ_ENDPOINT_URL",
        "STEPQ_BUCKET",
        "STEPQ_TASK_QUEUES",
        "AWS_PROFILE",
        "POWERTOOLS_DEV",
        "POWERTOOLS_METRICS_DISABLED",
    ):
        monkeypatch.delenv(key, raising=False)
    with moto.mock_aws():
        settings = aws.Settings.from_env()
        store, queues, _ = aws.build(settings)
        create_table(store._client, settings.table)
        for name in ("events", "tasks-hello", "tasks-unknown", "inbox"):
            queues.ensure(name)
        for machine, definition in (("pass3", PASS3), ("greeter", GREETER)):
            revision = store.put_machine(machine, definition)
            doc = MachineDoc(creationDate="2026-01-01T00:00:00+00:00", revision=revision)
            store.put_doc("machine", machine, doc.model_dump(), None)
        yield Env(settings, store, queues._client)


def _url(sqs: Any, name: str) -> str:
    return queue_url(sqs, PREFIX, name)


def _receive(sqs: Any, queue: str, wait: float = 0.0) -> list[dict[str, Any]]:
    return receive_all(sqs, PREFIX, queue, wait)


def _records(sqs: Any, queue: str, wait: float = 0.0) -> list[dict[str, Any]]:
    return sqs_records(sqs, PREFIX, queue, wait)


def _signed(env: Env, queue: str, body: dict[str, Any]) -> str:
    return json.dumps(Keys(env.store).sign(queue, body))


# --- reading EMF --------------------------------------------------------------------


def _blobs(out: str) -> list[dict[str, Any]]:
    """The EMF blobs among stdout's lines (the Logger's JSON lines are not)."""
    blobs = []
    for line in out.splitlines():
        if line.startswith("{") and '"_aws"' in line:
            blob = json.loads(line)
            if "CloudWatchMetrics" in blob.get("_aws", {}):
                blobs.append(blob)
    return blobs


def _values(blobs: list[dict[str, Any]], name: str, service: str, **dims: str) -> list[float]:
    """Every value of ``name`` CloudWatch files under exactly ``service`` and ``dims``."""
    wanted = {"service", *dims}
    found: list[float] = []
    for blob in blobs:
        for directive in blob["_aws"]["CloudWatchMetrics"]:
            declared = {m["Name"]: m["Unit"] for m in directive["Metrics"]}
            if directive["Namespace"] != "Stepq" or name not in declared:
                continue
            sets = [set(s) for s in directive["Dimensions"]]
            if wanted not in sets or blob.get("service") != service:
                continue
            if any(blob.get(k) != v for k, v in dims.items()):
                continue
            value = blob[name]
            found.extend(value if isinstance(value, list) else [value])
    return found


def _total(blobs: list[dict[str, Any]], name: str, service: str, **dims: str) -> float:
    return sum(_values(blobs, name, service, **dims))


def _unit(blobs: list[dict[str, Any]], name: str) -> str:
    units = {
        m["Unit"]
        for blob in blobs
        for d in blob["_aws"]["CloudWatchMetrics"]
        for m in d["Metrics"]
        if m["Name"] == name
    }
    assert len(units) == 1, (name, units)
    return units.pop()


# --- the tests ----------------------------------------------------------------------


def test_inbox_start_of_a_pass_machine_counts_its_commit(
    env: Env, capsys: pytest.CaptureFixture[str]
) -> None:
    url = _url(env.sqs, "inbox")
    start = {"action": "StartExecution", "stateMachineName": "pass3", "input": {"x": 1}}
    env.sqs.send_message(QueueUrl=url, MessageBody=json.dumps(start))
    env.sqs.send_message(QueueUrl=url, MessageBody="not json")
    app = _load("inbox")
    capsys.readouterr()

    response = app.handler({"Records": _records(env.sqs, "inbox")}, FakeContext())

    assert response == {"batchItemFailures": []}
    blobs = _blobs(capsys.readouterr().out)
    service = "stepq-inbox"
    assert _total(blobs, "ExecutionsStarted", service) == 1
    assert _total(blobs, "ExecutionsSucceeded", service) == 1
    assert _total(blobs, "Transitions", service) == 3  # A, B, C entered
    assert _total(blobs, "ConditionalWrites", service) == 1
    assert _total(blobs, "ConditionalWriteConflicts", service) == 0
    assert len(_values(blobs, "HistoryAppendLatency", service)) == 1
    # The malformed message, dead-lettered: counted per queue and per service.
    assert _total(blobs, "DlqArrivals", service, queue="inbox") == 1
    assert _total(blobs, "DlqArrivals", service) == 1
    assert _unit(blobs, "Transitions") == "Count"
    assert _unit(blobs, "HistoryAppendLatency") == "Milliseconds"


def test_orchestrator_and_worker_count_a_retried_task_once_and_not_its_redelivery(
    env: Env, capsys: pytest.CaptureFixture[str]
) -> None:
    orchestrator_app, worker_app = _load("orchestrator"), _load("worker")
    config = aws.runtime_config(env.settings)
    starter = Orchestrator(env.store, None, ManualClock(), config)  # type: ignore[arg-type]
    body = starter.start_message("greeter", "g-1", {"name": "Ada"}).body
    arn = str(body["execution_id"])
    env.sqs.send_message(QueueUrl=_url(env.sqs, "events"), MessageBody=_signed(env, "events", body))
    capsys.readouterr()

    # Commit 1: started, Greet entered, its task sent.
    orchestrator_app.handler({"Records": _records(env.sqs, "events")}, FakeContext())
    blobs = _blobs(capsys.readouterr().out)
    assert _total(blobs, "ExecutionsStarted", "stepq-orchestrator") == 1
    assert _total(blobs, "Transitions", "stepq-orchestrator") == 1
    assert _total(blobs, "ConditionalWrites", "stepq-orchestrator") == 1

    # The first attempt fails: the worker's commit decides a retry.
    worker_app.handler({"Records": _records(env.sqs, "tasks-hello")}, FakeContext())
    blobs = _blobs(capsys.readouterr().out)
    worker = "stepq-worker"
    assert _total(blobs, "TaskRetries", worker, step="Greet", error="ValueError") == 1
    assert _total(blobs, "TaskRetries", worker) == 1
    assert len(_values(blobs, "TaskLatency", worker, step="hello")) == 1
    assert len(_values(blobs, "TaskLatency", worker)) == 1
    assert _total(blobs, "ExecutionsSucceeded", worker) == 0

    # The retry's timer (a one-second SQS delay) reaches the orchestrator: attempt 2 is sent.
    orchestrator_app.handler({"Records": _records(env.sqs, "events", wait=5)}, FakeContext())
    capsys.readouterr()
    second = _records(env.sqs, "tasks-hello")
    assert len(second) == 1
    worker_app.handler({"Records": second}, FakeContext())
    blobs = _blobs(capsys.readouterr().out)
    assert _total(blobs, "ExecutionsSucceeded", worker) == 1
    assert _total(blobs, "TaskRetries", worker) == 0
    assert _total(blobs, "LeaseExpirations", worker) == 0
    assert env.store.get_execution(arn).status == "SUCCEEDED"

    # The same record again, its visibility timeout having run out: a lease expired,
    # and nothing is run or committed twice.
    again = [
        {**r, "attributes": {**r["attributes"], "ApproximateReceiveCount": "2"}} for r in second
    ]
    worker_app.handler({"Records": again}, FakeContext())
    blobs = _blobs(capsys.readouterr().out)
    assert _total(blobs, "LeaseExpirations", worker) == 1
    for name in ("ExecutionsSucceeded", "Transitions", "ConditionalWrites", "TaskRetries"):
        assert _total(blobs, name, worker) == 0, name
    assert _values(blobs, "TaskLatency", worker) == []


def test_scheduler_reports_lateness_lag_and_what_sqs_dead_lettered(
    env: Env, capsys: pytest.CaptureFixture[str]
) -> None:
    due = SystemClock().now() - timedelta(seconds=90)
    env.store.put_timer(
        Timer("t-late", "arn:x", codec.instant(due) or "", {"id": "t-late", "type": "x"})
    )
    # A message SQS itself moves to the events DLQ (received more than maxReceiveCount times).
    events = _url(env.sqs, "events")
    dlq_arn = env.sqs.get_queue_attributes(
        QueueUrl=_url(env.sqs, "events-dlq"), AttributeNames=["QueueArn"]
    )["Attributes"]["QueueArn"]
    policy = json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "1"})
    env.sqs.set_queue_attributes(QueueUrl=events, Attributes={"RedrivePolicy": policy})
    env.sqs.send_message(QueueUrl=events, MessageBody=_signed(env, "events", {"id": "lost"}))
    for _ in range(2):
        env.sqs.receive_message(QueueUrl=events, VisibilityTimeout=0)
    app = _load("scheduler")
    capsys.readouterr()

    result = app.handler({"source": "aws.events", "detail-type": "Scheduled Event"}, FakeContext())

    assert result["fired"] == 1
    blobs = _blobs(capsys.readouterr().out)
    service = "stepq-scheduler"
    [late] = _values(blobs, "TimerLateness", service)
    assert 90_000 <= late < 150_000
    assert _values(blobs, "SchedulerLag", service) == [0.0]
    assert _unit(blobs, "TimerLateness") == "Milliseconds"
    assert _total(blobs, "DlqArrivals", service, queue="events") == 1


def test_api_start_counts_its_commit_under_the_api_service(
    env: Env, capsys: pytest.CaptureFixture[str]
) -> None:
    app = _load("api")
    machine = f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:pass3"
    request = {
        "resource": "/",
        "path": "/",
        "httpMethod": "POST",
        "headers": {
            "Content-Type": "application/x-amz-json-1.0",
            "X-Amz-Target": "AWSStepFunctions.StartExecution",
        },
        "requestContext": {"stage": "prod", "identity": {"userArn": "arn:aws:iam::1:user/a"}},
        "body": json.dumps({"stateMachineArn": machine, "name": "api-1", "input": "{}"}),
        "isBase64Encoded": False,
    }
    capsys.readouterr()

    reply = app.handler(request, FakeContext())

    assert reply["statusCode"] == 200, reply["body"]
    blobs = _blobs(capsys.readouterr().out)
    assert _total(blobs, "ExecutionsStarted", "stepq-api") == 1
    assert _total(blobs, "ExecutionsSucceeded", "stepq-api") == 1
    assert _total(blobs, "Transitions", "stepq-api") == 3


def test_runtime_log_lines_carry_the_execution_arn(
    env: Env, capsys: pytest.CaptureFixture[str]
) -> None:
    # Its task queue was never created: sending its work fails after the commit.
    env.store.put_machine("orphan", ORPHAN)
    app = _load("orchestrator")
    # A Logger of a service seen before keeps its handler, whose stream an earlier
    # test's capsys may have held: write to this test's stdout.
    app.obs.logger.registered_handler.stream = sys.stdout  # type: ignore[attr-defined]
    config = aws.runtime_config(env.settings)
    starter = Orchestrator(env.store, None, ManualClock(), config)  # type: ignore[arg-type]
    body = starter.start_message("orphan", "o-1", {}).body
    env.sqs.send_message(QueueUrl=_url(env.sqs, "events"), MessageBody=_signed(env, "events", body))
    capsys.readouterr()

    response = app.handler({"Records": _records(env.sqs, "events")}, FakeContext())

    assert len(response["batchItemFailures"]) == 1  # left for redelivery
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines() if x.startswith("{")]
    logged = [x for x in lines if x.get("name", "").startswith("stepq.")]
    failed = [x for x in logged if str(x.get("message", "")).startswith("sending failed")]
    assert failed, logged  # the runtime's own line, written as the function's JSON
    assert all(x["execution_arn"] == body["execution_id"] for x in failed)
    assert all(x["service"] == "stepq-orchestrator" for x in failed)

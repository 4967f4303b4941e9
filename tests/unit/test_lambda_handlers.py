"""The Lambda handlers on moto (in process), and the wiring in ``stepq.backends.aws.settings``.

Records are real SQS messages received from moto and reshaped the way the
Lambda event source mapping delivers them, so receipt handles are genuine.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("aws_lambda_powertools")
moto = pytest.importorskip("moto")

from hypothesis import given  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from lambda_support import FakeContext, queue_url, receive_all, sqs_records  # noqa: E402
from lambda_support import load_app as _load  # noqa: E402
from pydantic import ValidationError  # noqa: E402
from stepq.backends.aws import settings as aws  # noqa: E402
from stepq.backends.aws.dynamodb_store import create_table  # noqa: E402
from stepq.clock import ManualClock  # noqa: E402
from stepq.errors import StepqError  # noqa: E402
from stepq.hosting import lambda_sqs  # noqa: E402
from stepq.runtime.orchestrator import Orchestrator  # noqa: E402
from stepq.runtime.ports import Timer  # noqa: E402
from stepq.runtime.signing import Keys  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
REGION = "us-east-1"
ACCOUNT = "123456789012"  # moto's account
PREFIX = "sq"

GREETER = {
    "StartAt": "Greet",
    "States": {
        "Greet": {
            "Type": "Task",
            "Resource": "arn:aws:states:::lambda:invoke",
            "Parameters": {"FunctionName": "hello", "Payload.$": "$"},
            "OutputPath": "$.Payload",
            "End": True,
        }
    },
}
ORPHAN = {  # its task queue is never created: dispatching fails (not poison)
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
    return {"greeting": "Hello, " + event["name"] + "!"}
"""


@dataclass
class Env:
    """What the moto-backed fixture set up."""

    settings: aws.Settings
    store: Any
    sqs: Any


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Env]:
    steps = tmp_path / "steps_for_test.py"
    steps.write_text(STEPS)
    for key, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_REGION": REGION,
        "AWS_DEFAULT_REGION": REGION,
        "STEPQ_TABLE": "stepq-test",
        "STEPQ_QUEUE_PREFIX": PREFIX,
        "STEPQ_ACCOUNT": ACCOUNT,
        "STEPQ_FUNCTIONS": str(steps),
        "POWERTOOLS_LOG_LEVEL": "WARNING",
    }.items():
        monkeypatch.setenv(key, value)
    for key in ("STEPQ_ENDPOINT_URL", "STEPQ_BUCKET", "STEPQ_TASK_QUEUES", "AWS_PROFILE"):
        monkeypatch.delenv(key, raising=False)
    with moto.mock_aws():
        settings = aws.Settings.from_env()
        store, queues, _ = aws.build(settings)
        create_table(store._client, settings.table)
        for name in ("events", "tasks-hello"):
            queues.ensure(name)
        store.put_machine("greeter", GREETER)
        store.put_machine("orphan", ORPHAN)
        yield Env(settings, store, queues._client)


@pytest.fixture
def sqs(env: Env) -> Any:
    return env.sqs


def _url(sqs: Any, name: str) -> str:
    return queue_url(sqs, PREFIX, name)


def _send_raw(sqs: Any, queue: str, bodies: list[str]) -> None:
    for body in bodies:
        sqs.send_message(QueueUrl=_url(sqs, queue), MessageBody=body)


def _drain(sqs: Any, queue: str) -> list[dict[str, Any]]:
    return receive_all(sqs, PREFIX, queue)


def _lambda_event(sqs: Any, queue: str) -> dict[str, Any]:
    """What the event source mapping hands the function for the messages in ``queue``."""
    return {"Records": sqs_records(sqs, PREFIX, queue)}


def _start_body(env: Env, machine: str, name: str, execution_input: Any) -> str:
    orchestrator = Orchestrator(env.store, None, ManualClock(), aws.runtime_config(env.settings))  # type: ignore[arg-type]
    body = orchestrator.start_message(machine, name, execution_input).body
    return _signed(env, "events", body)


def _signed(env: Env, queue: str, body: dict[str, Any]) -> str:
    """``body`` as the runtime sends it to ``queue``: signed with the table's key."""
    return json.dumps(Keys(env.store).sign(queue, body))


def _failed_ids(response: dict[str, Any]) -> list[str]:
    return sorted(f["itemIdentifier"] for f in response["batchItemFailures"])


def _dead(sqs: Any, queue: str) -> list[tuple[str, str]]:
    return sorted(
        (m["Body"], m["MessageAttributes"]["stepq-reason"]["StringValue"])
        for m in _drain(sqs, f"{queue}-dlq")
    )


# --- orchestrator -------------------------------------------------------------------


def test_orchestrator_mixed_batch(env: Env, sqs: Any) -> None:
    good = _start_body(env, "greeter", "run-1", {"name": "Ada"})
    failing = _start_body(env, "orphan", "run-2", {})
    _send_raw(sqs, "events", [good, "not json", _signed(env, "events", {"v": 1}), failing])
    event = _lambda_event(sqs, "events")
    assert len(event["Records"]) == 4

    response = _load("orchestrator").handler(event, FakeContext())

    failing_id = next(r["messageId"] for r in event["Records"] if r["body"] == failing)
    assert _failed_ids(response) == [failing_id]
    assert _dead(sqs, "events") == sorted(
        [
            ("not json", "unauthenticated: bad or missing signature"),
            (_signed(env, "events", {"v": 1}), "field 'id' is missing or not a str"),
        ]
    )
    (task,) = _drain(sqs, "tasks-hello")
    body = json.loads(task["Body"])
    arn = f"arn:aws:states:{REGION}:{ACCOUNT}:execution:greeter:run-1"
    assert body["execution_id"] == arn
    store = env.store
    assert store.get_execution(arn).status == "RUNNING"


def test_orchestrator_all_failing_batch_reports_each_record(env: Env, sqs: Any) -> None:
    _send_raw(sqs, "events", [_start_body(env, "orphan", f"o-{i}", {}) for i in range(2)])
    event = _lambda_event(sqs, "events")
    response = _load("orchestrator").handler(event, FakeContext())
    assert _failed_ids(response) == sorted(r["messageId"] for r in event["Records"])
    assert _dead(sqs, "events") == []


# --- worker -----------------------------------------------------------------------


def test_worker_runs_the_step_and_the_execution_finishes(env: Env, sqs: Any) -> None:
    orchestrator_app, worker_app = _load("orchestrator"), _load("worker")
    _send_raw(sqs, "events", [_start_body(env, "greeter", "run-1", {"name": "Ada"})])
    assert orchestrator_app.handler(_lambda_event(sqs, "events"), FakeContext()) == {
        "batchItemFailures": []
    }

    bad = {"v": 1, "id": "x", "execution_id": "y"}
    _send_raw(sqs, "tasks-hello", [_signed(env, "tasks-hello", bad)])
    response = worker_app.handler(_lambda_event(sqs, "tasks-hello"), FakeContext())
    assert response == {"batchItemFailures": []}
    ((body, reason),) = _dead(sqs, "tasks-hello")
    assert json.loads(body)["id"] == "x"
    assert reason == "field 'command' is missing or not a dict"

    # The worker committed the result itself: no hop back through the events queue.
    assert _lambda_event(sqs, "events")["Records"] == []
    store = env.store
    header = store.get_execution(f"arn:aws:states:{REGION}:{ACCOUNT}:execution:greeter:run-1")
    assert header.status == "SUCCEEDED"
    assert header.output == {"greeting": "Hello, Ada!"}


def test_worker_without_functions_module_fails_every_record(
    env: Env, sqs: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("STEPQ_FUNCTIONS")
    _send_raw(sqs, "tasks-hello", ["{}", "{}"])
    event = _lambda_event(sqs, "tasks-hello")
    response = _load("worker").handler(event, FakeContext())
    assert _failed_ids(response) == sorted(r["messageId"] for r in event["Records"])


# --- scheduler --------------------------------------------------------------------

SCHEDULED_EVENT = {
    "version": "0",
    "id": "53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa",
    "detail-type": "Scheduled Event",
    "source": "aws.events",
    "account": ACCOUNT,
    "time": "2026-01-01T00:00:00Z",
    "region": REGION,
    "resources": [f"arn:aws:events:{REGION}:{ACCOUNT}:rule/stepq-every-minute"],
    "detail": {},
}


def test_scheduler_fires_due_timers_once(env: Env, sqs: Any) -> None:
    store = env.store
    due = datetime(2020, 1, 1, tzinfo=UTC).isoformat()
    later = datetime(2999, 1, 1, tzinfo=UTC).isoformat()
    store.put_timer(Timer("timer|e|1", "e", due, {"v": 1, "id": "timer|e|1", "execution_id": "e"}))
    store.put_timer(
        Timer("timer|e|2", "e", later, {"v": 1, "id": "timer|e|2", "execution_id": "e"})
    )
    app = _load("scheduler")

    assert app.handler(SCHEDULED_EVENT, FakeContext()) == {
        "fired": 1,
        "ticks": 1,
        "poisoned": 0,
        "reconciled": 0,
    }
    (sent,) = _drain(sqs, "events")
    assert json.loads(sent["Body"])["id"] == "timer|e|1"
    again = app.handler(SCHEDULED_EVENT, FakeContext())
    assert again == {"fired": 0, "ticks": 1, "poisoned": 0, "reconciled": 0}


# --- wiring (no AWS calls) --------------------------------------------------------


def test_settings_from_env_defaults_and_parsing() -> None:
    defaults = aws.Settings.from_env({})
    assert (defaults.table, defaults.queue_prefix, defaults.region) == (
        "stepq",
        "stepq",
        "us-east-1",
    )
    assert defaults.bucket is defaults.endpoint_url is defaults.task_queues is None
    parsed = aws.Settings.from_env(
        {
            "AWS_DEFAULT_REGION": "eu-west-1",
            "STEPQ_BUCKET": "",
            "STEPQ_TASK_QUEUES": " hello, ,charge ",
            "STEPQ_ENDPOINT_URL": "http://127.0.0.1:4566",
        }
    )
    assert parsed.region == "eu-west-1"
    assert parsed.bucket is None
    assert parsed.task_queues == ("hello", "charge")
    assert (
        aws.Settings.from_env({"AWS_REGION": "eu-north-1", "AWS_DEFAULT_REGION": "x"}).region
        == "eu-north-1"
    )
    with pytest.raises(ValidationError):
        aws.Settings.from_env({"STEPQ_ACCOUNT": "12"})


def test_route_sends_unlisted_functions_to_the_default_queue() -> None:
    config = aws.runtime_config(
        aws.Settings.from_env({"STEPQ_TASK_QUEUES": "hello", "STEPQ_ACCOUNT": ACCOUNT})
    )
    assert config.account == ACCOUNT
    assert config.route("hello") == "tasks-hello"
    assert config.route("other") == config.route(None) == aws.DEFAULT_TASK_QUEUE == "tasks-unknown"
    per_function = aws.runtime_config(aws.Settings.from_env({}))
    assert per_function.route("other") == "tasks-other"


def test_make_client_uses_endpoint_and_adaptive_retries() -> None:
    settings = aws.Settings.from_env(
        {"STEPQ_ENDPOINT_URL": "http://127.0.0.1:4566", "AWS_REGION": "eu-west-1"}
    )
    client = aws.make_client(settings, "sqs")
    assert client.meta.endpoint_url == "http://127.0.0.1:4566"
    assert client.meta.region_name == "eu-west-1"
    assert client.meta.config.retries["mode"] == "adaptive"


def test_build_uses_injected_clients_and_makes_blobs_only_with_a_bucket() -> None:
    sentinel = {"dynamodb": object(), "sqs": object(), "s3": object()}
    store, queues, blobs = aws.build(aws.Settings.from_env({}), clients=sentinel)
    assert blobs is None
    assert store._client is sentinel["dynamodb"]
    assert queues._client is sentinel["sqs"]
    _, _, blobs = aws.build(aws.Settings.from_env({"STEPQ_BUCKET": "b"}), clients=sentinel)
    assert blobs is not None and blobs.put.__self__._client is sentinel["s3"]  # type: ignore[attr-defined]


def test_warm_builds_once_and_tries_again_after_a_failed_build() -> None:
    built: list[object] = []

    def build() -> object:
        built.append(object())
        if len(built) == 1:
            raise RuntimeError("misconfigured")
        return built[-1]

    get = lambda_sqs.warm(build)
    with pytest.raises(RuntimeError):
        get()
    first = get()
    assert get() is first is built[1]
    assert len(built) == 2


@pytest.mark.parametrize(
    ("arn", "prefix", "name"),
    [
        ("arn:aws:sqs:us-east-1:1:stepq-events", "stepq", "events"),
        ("arn:aws:sqs:us-east-1:1:a-b-tasks-x-y", "a-b", "tasks-x-y"),
        ("arn:aws:sqs:us-east-1:1:events", "", "events"),
    ],
)
def test_logical_queue(arn: str, prefix: str, name: str) -> None:
    assert lambda_sqs.logical_queue(arn, prefix) == name


def test_logical_queue_refuses_a_foreign_queue() -> None:
    with pytest.raises(StepqError):
        lambda_sqs.logical_queue("arn:aws:sqs:us-east-1:1:other-events", "stepq")


_SQS_NAME = st.text(alphabet="abcdefghijklmnopqrstuvwxyzABC0123456789_-", min_size=1, max_size=30)


@given(prefix=_SQS_NAME, name=_SQS_NAME)
def test_logical_queue_inverts_the_physical_name(prefix: str, name: str) -> None:
    # SqsQueues names a queue "<prefix>-<name>"; the handler must get <name> back.
    assert (
        lambda_sqs.logical_queue(f"arn:aws:sqs:{REGION}:{ACCOUNT}:{prefix}-{name}", prefix) == name
    )

"""The inbox and API Lambda handlers (functions/inbox, functions/api) on moto, in process.

Inbox records are real SQS messages received from moto and reshaped the way
the event source mapping delivers them; API events are API Gateway proxy
events of both payload formats (REST 1.0 and HTTP API 2.0).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("aws_lambda_powertools")
moto = pytest.importorskip("moto")

from lambda_support import FakeContext, queue_url, receive_all, sqs_records  # noqa: E402
from lambda_support import load_app as _load  # noqa: E402
from stepq.api.catalog import MachineDoc  # noqa: E402
from stepq.api.protocol import ApiError  # noqa: E402
from stepq.backends.aws import settings as aws  # noqa: E402
from stepq.backends.aws.dynamodb_store import create_table  # noqa: E402
from stepq.hosting.lambda_api import request_of  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
REGION = "us-east-1"
ACCOUNT = "123456789012"
PREFIX = "ib"
ECHO = {"StartAt": "Done", "States": {"Done": {"Type": "Pass", "End": True}}}


@dataclass
class Env:
    store: Any
    sqs: Any


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> Iterator[Env]:
    for key, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_REGION": REGION,
        "AWS_DEFAULT_REGION": REGION,
        "STEPQ_TABLE": "stepq-inbox-test",
        "STEPQ_QUEUE_PREFIX": PREFIX,
        "STEPQ_ACCOUNT": ACCOUNT,
        "POWERTOOLS_LOG_LEVEL": "WARNING",
    }.items():
        monkeypatch.setenv(key, value)
    for key in ("STEPQ_ENDPOINT_URL", "STEPQ_BUCKET", "STEPQ_TASK_QUEUES", "AWS_PROFILE"):
        monkeypatch.delenv(key, raising=False)
    with moto.mock_aws():
        settings = aws.Settings.from_env()
        store, queues, _ = aws.build(settings)
        create_table(store._client, settings.table)
        for name in ("events", "tasks-unknown", "inbox"):
            queues.ensure(name)
        revision = store.put_machine("echo", ECHO)
        doc = MachineDoc(creationDate="2026-01-01T00:00:00+00:00", revision=revision)
        store.put_doc("machine", "echo", doc.model_dump(), None)
        yield Env(store, queues._client)


def _url(sqs: Any, name: str) -> str:
    return queue_url(sqs, PREFIX, name)


def _drain(sqs: Any, queue: str) -> list[dict[str, Any]]:
    return receive_all(sqs, PREFIX, queue)


def _lambda_event(sqs: Any, queue: str) -> dict[str, Any]:
    return {"Records": sqs_records(sqs, PREFIX, queue)}


# --- inbox --------------------------------------------------------------------------


def test_inbox_handler_starts_and_dead_letters_with_reasons(env: Env) -> None:
    url = _url(env.sqs, "inbox")
    start = {"action": "StartExecution", "stateMachineName": "echo", "input": {"x": 1}}
    good = env.sqs.send_message(QueueUrl=url, MessageBody=json.dumps(start))["MessageId"]
    env.sqs.send_message(QueueUrl=url, MessageBody="not json")
    unknown = json.dumps({**start, "stateMachineName": "nope"})
    env.sqs.send_message(QueueUrl=url, MessageBody=unknown)
    event = _lambda_event(env.sqs, "inbox")
    assert len(event["Records"]) == 3

    response = _load("inbox").handler(event, FakeContext())

    assert response == {"batchItemFailures": []}
    execution = f"arn:aws:states:{REGION}:{ACCOUNT}:execution:echo:{good}"
    header = env.store.get_execution(execution)  # started: commit 1 written
    assert (header.name, header.input) == (good, {"x": 1})
    dead = sorted(
        (m["Body"], m["MessageAttributes"]["stepq-reason"]["StringValue"])
        for m in _drain(env.sqs, "inbox-dlq")
    )
    assert [body for body, _ in dead] == sorted(["not json", unknown])
    reasons = dict(dead)
    assert reasons["not json"].startswith("not JSON")
    assert reasons[unknown].startswith("StateMachineDoesNotExist")


# --- API ----------------------------------------------------------------------------

JSON10 = "application/x-amz-json-1.0"


def _rest_event(target: str, body: str = "{}", **more: Any) -> dict[str, Any]:
    return {
        "resource": "/",
        "path": "/",
        "httpMethod": "POST",
        "headers": {"Content-Type": JSON10, "X-Amz-Target": target},
        "requestContext": {"stage": "prod", "identity": {"userArn": "arn:aws:iam::1:user/a"}},
        "body": body,
        "isBase64Encoded": False,
        **more,
    }


def _http_event(target: str, body: str = "{}") -> dict[str, Any]:
    return {
        "version": "2.0",
        "rawPath": "/prod",
        "headers": {"content-type": JSON10, "x-amz-target": target},
        "requestContext": {"stage": "prod", "http": {"method": "POST", "path": "/prod"}},
        "body": base64.b64encode(body.encode()).decode(),
        "isBase64Encoded": True,
    }


STRANGE_EVENTS = [
    "not an event",
    {"httpMethod": "POST", "path": "/", "headers": "x"},
    {"httpMethod": "POST", "path": "/", "headers": {}, "body": "%%", "isBase64Encoded": True},
    {"httpMethod": "GET", "path": "/", "headers": {}},
]


def test_api_handler_answers_ping_and_refuses_what_it_cannot_serve(env: Env) -> None:
    app = _load("api")
    for make in (_rest_event, _http_event):  # REST API (1.0) and HTTP API (2.0) payloads
        ping = app.handler(make("Stepq.Ping"), FakeContext())
        assert ping["statusCode"] == 200
        assert json.loads(ping["body"]) == {"region": REGION, "account": ACCOUNT}
        unknown = app.handler(make("AWSStepFunctions.NoSuchThing"), FakeContext())
        assert unknown["statusCode"] == 400
        error = json.loads(unknown["body"])
        assert error["__type"] == "UnknownOperationException" and error["message"]
        assert unknown["headers"]["x-amzn-ErrorType"] == "UnknownOperationException"
    for event in STRANGE_EVENTS:  # Step Functions' error shape, never a traceback
        reply = app.handler(event, FakeContext())
        assert 400 <= reply["statusCode"] < 500, event
        assert json.loads(reply["body"])["__type"], event


def test_the_caller_and_the_stage_free_path_reach_the_request() -> None:
    request = request_of(_rest_event("Stepq.Ping"))
    assert (request.method, request.path, request.caller) == ("POST", "/", "arn:aws:iam::1:user/a")
    assert request_of(_http_event("Stepq.Ping")).path == "/"


def test_the_api_lambda_long_polls_activities_within_api_gateways_29_seconds(
    env: Env,
) -> None:
    from stepq.hosting.lambda_api import API_GATEWAY_POLL_SECONDS, build_context

    ctx = build_context(aws.Settings.from_env())
    assert ctx.receive_wait == API_GATEWAY_POLL_SECONDS < 29


# --- POST /people: the Cognito-authorized path (template.yaml's StepqPeopleApi) -------
# Events as a COGNITO_USER_POOLS authorizer (REST 1.0) or a JWT authorizer (HTTP
# API 2.0) delivers them: the person is the ``cognito:username`` claim. People
# reach only the people operations; machines (IAM) keep the whole API at POST /.

MACHINE = "arn:aws:iam::123456789012:user/operator"


def _people_event(target: str, username: str, body: str = "{}") -> dict[str, Any]:
    claims = {"cognito:username": username, "token_use": "id", "sub": "0000-1111"}
    return {
        "resource": "/people",
        "path": "/people",
        "httpMethod": "POST",
        "headers": {"Content-Type": JSON10, "X-Amz-Target": target},
        "requestContext": {
            "stage": "prod",
            "resourcePath": "/people",
            # A Cognito authorizer leaves the IAM fields empty.
            "identity": {"userArn": None, "sourceIp": "127.0.0.1"},
            "authorizer": {"claims": claims},
        },
        "body": body,
        "isBase64Encoded": False,
    }


def _machine_event(target: str, body: str = "{}") -> dict[str, Any]:
    return {
        "resource": "/",
        "path": "/",
        "httpMethod": "POST",
        "headers": {"Content-Type": JSON10, "X-Amz-Target": target},
        "requestContext": {"stage": "prod", "identity": {"userArn": MACHINE}},
        "body": body,
        "isBase64Encoded": False,
    }


def _call(app: Any, event: dict[str, Any]) -> tuple[int, Any]:
    reply = app.handler(event, FakeContext())
    return reply["statusCode"], json.loads(reply["body"])


def test_a_person_at_post_people_is_the_cognito_user(env: Env) -> None:
    app = _load("api")
    status, body = _call(app, _people_event("Stepq.WhoAmI", "tom"))
    assert status == 200, body
    assert (body["id"], body["kind"]) == ("tom", "person")
    # The same handler at POST / with IAM: a machine.
    status, body = _call(app, _machine_event("Stepq.WhoAmI"))
    assert status == 200, body
    assert (body["id"], body["kind"]) == (MACHINE, "machine")


def test_a_person_reaches_only_the_people_operations(env: Env) -> None:
    app = _load("api")
    for target in (
        "AWSStepFunctions.ListStateMachines",
        "AWSStepFunctions.DeleteStateMachine",
        "Stepq.RedriveDeadLetters",
        "Stepq.SearchExecutions",
    ):
        status, body = _call(app, _people_event(target, "tom"))
        assert (status, body["__type"]) == (403, "AccessDeniedException"), target
    # A machine still has the Step Functions API.
    status, body = _call(app, _machine_event("AWSStepFunctions.ListStateMachines"))
    assert status == 200, body


def test_a_user_named_like_an_arn_never_passes_as_a_machine(env: Env) -> None:
    app = _load("api")
    status, body = _call(app, _people_event("Stepq.WhoAmI", MACHINE))
    assert (status, body["__type"]) == (403, "AccessDeniedException")
    with pytest.raises(ApiError):
        request_of(_people_event("Stepq.WhoAmI", "arn:x"))


def test_the_http_api_people_path_loses_its_stage() -> None:
    event = {
        "version": "2.0",
        "rawPath": "/prod/people",
        "headers": {"content-type": JSON10, "x-amz-target": "Stepq.WhoAmI"},
        "requestContext": {
            "stage": "prod",
            "http": {"method": "POST", "path": "/prod/people"},
            "authorizer": {"jwt": {"claims": {"cognito:username": "jane"}}},
        },
        "body": "{}",
    }
    request = request_of(event)
    assert (request.path, request.caller) == ("/people", "jane")


def test_other_paths_stay_unknown(env: Env) -> None:
    app = _load("api")
    event = _people_event("Stepq.WhoAmI", "tom")
    event["path"] = "/people/else"
    status, body = _call(app, event)
    assert (status, body["__type"]) == (404, "UnknownOperationException")

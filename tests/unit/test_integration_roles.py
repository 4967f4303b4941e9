"""Service integrations run as the state machine's role (STS AssumeRole), on moto in-process.

The worker's own credentials may only assume ``role/stepq-*`` (the stack's
``IntegrationRolePattern``); each machine's role holds what its tasks call.
With moto's IAM enforcement on, that is checked for real: the worker alone
cannot send to the queue, the task run as ``stepq-orders`` can, and a role
outside the pattern fails the task with ``States.TaskFailed``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import boto3
import pytest
from stepq.backends.aws.integrations import AwsIntegrations, CatalogRoles, assume_roles_setting
from stepq.backends.aws.integrations.roles import default_role, execution_of, session_name
from stepq.backends.memory.store import MemoryStore
from stepq.clock import ManualClock, SystemClock
from stepq.core.events import RunTask
from stepq.runtime.ports import Commit, ExecutionHeader
from stepq.runtime.steps import StepContext

moto = pytest.importorskip("moto")

ACCOUNT = "123456789012"  # moto's
REGION = "us-east-1"
SEND = "arn:aws:states:::sqs:sendMessage"
WHO = "arn:aws:states:::aws-sdk:sts:getCallerIdentity"


def execution(machine: str = "orders", name: str = "run-1") -> str:
    return f"arn:aws:states:{REGION}:{ACCOUNT}:execution:{machine}:{name}"


def context(execution_arn: str, attempt: int = 0) -> StepContext:
    """A task's context as the worker builds it (the key starts with the execution ARN)."""
    command = RunTask(
        task_id=f"t{attempt}",
        resource=SEND,
        function_name=None,
        input=None,
        attempt=attempt,
        idempotency_key=f"{execution_arn}:/Send:1:{attempt}",
    )
    return StepContext.for_task(command)


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "STEPQ_ASSUME_ROLE", "STEPQ_ROLE_SESSION"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    with moto.mock_aws():
        yield


def assume_calls(session: Any) -> list[dict[str, Any]]:
    """Every AssumeRole the session's clients make (botocore's own event)."""
    calls: list[dict[str, Any]] = []
    session.events.register(
        "provide-client-params.sts.AssumeRole", lambda params, **_: calls.append(dict(params))
    )
    return calls


def keys_used(session: Any, operation: str) -> list[str]:
    """The access key id each request of ``operation`` was signed with."""
    keys: list[str] = []
    session.events.register(
        f"before-send.{operation}", lambda request, **_: keys.append(_access_key(request))
    )
    return keys


def integrations(session: Any, **options: Any) -> AwsIntegrations:
    return AwsIntegrations(session=session, region=REGION, assume_roles=True, **options)


# --- whose credentials --------------------------------------------------------------------


def test_the_call_carries_the_assumed_role_s_credentials(aws: None) -> None:
    session = boto3.session.Session()
    sent = keys_used(session, "sqs.SendMessage")
    run = integrations(session)
    queue = boto3.client("sqs", region_name=REGION).create_queue(QueueName="q")["QueueUrl"]

    who = run(WHO, {}, context(execution()))
    assert who.error is None, who.cause
    assert who.output["Arn"] == (f"arn:aws:sts::{ACCOUNT}:assumed-role/stepq-orders/orders.run-1")
    sent_ok = run(SEND, {"QueueUrl": queue, "MessageBody": {"n": 1}}, context(execution()))
    assert sent_ok.error is None, sent_ok.cause
    assert sent[0].startswith("ASIA") and sent[0] != "testing"  # STS's, not the worker's

    off = AwsIntegrations(session=session, region=REGION, assume_roles=False)
    assert off(WHO, {}, context(execution())).output["Arn"].endswith(":user/moto")


def _access_key(request: Any) -> str:
    header = request.headers["Authorization"]
    text = header.decode() if isinstance(header, bytes) else str(header)
    return text.split("Credential=")[1].split("/")[0]


# --- least privilege, enforced by moto's IAM ---------------------------------------------


@pytest.fixture
def enforced(aws: None, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """The worker's user (may only assume role/stepq-*), the role stepq-orders (may send
    to the queue), a queue; then moto checks every request's IAM from here on."""
    from moto import settings
    from moto.core.authorization import ActionAuthenticatorMixin

    iam = boto3.client("iam", region_name=REGION)
    iam.create_user(UserName="worker")
    key = iam.create_access_key(UserName="worker")["AccessKey"]
    iam.put_user_policy(
        UserName="worker",
        PolicyName="assume-stepq-roles",
        PolicyDocument=_policy("sts:AssumeRole", f"arn:aws:iam::{ACCOUNT}:role/stepq-*"),
    )
    queue = boto3.client("sqs", region_name=REGION).create_queue(QueueName="orders")
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:user/worker"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
    for role in ("stepq-orders", "admin"):
        iam.create_role(RoleName=role, AssumeRolePolicyDocument=json.dumps(trust))
        iam.put_role_policy(
            RoleName=role, PolicyName="send", PolicyDocument=_policy("sqs:SendMessage", "*")
        )
    monkeypatch.setattr(settings, "INITIAL_NO_AUTH_ACTION_COUNT", 0)
    monkeypatch.setattr(ActionAuthenticatorMixin, "request_count", 0)
    return {"id": key["AccessKeyId"], "secret": key["SecretAccessKey"], "queue": queue["QueueUrl"]}


def _policy(action: str, resource: str) -> str:
    statement = {"Effect": "Allow", "Action": action, "Resource": resource}
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


def test_only_the_machine_s_role_may_call_the_service(enforced: dict[str, str]) -> None:
    worker = boto3.session.Session(
        aws_access_key_id=enforced["id"], aws_secret_access_key=enforced["secret"]
    )
    message = {"QueueUrl": enforced["queue"], "MessageBody": "hello"}

    as_worker = AwsIntegrations(session=worker, region=REGION, assume_roles=False)
    refused = as_worker(SEND, message, context(execution()))
    assert refused.error == "SQS.AmazonSQSException"
    assert "AccessDenied" in (refused.cause or "")

    as_role = integrations(worker)
    sent = as_role(SEND, message, context(execution()))
    assert sent.error is None, sent.cause
    assert sent.output["MessageId"]


def test_a_role_that_cannot_be_assumed_fails_the_task_with_a_clear_cause(
    enforced: dict[str, str],
) -> None:
    worker = boto3.session.Session(
        aws_access_key_id=enforced["id"], aws_secret_access_key=enforced["secret"]
    )
    admin = f"arn:aws:iam::{ACCOUNT}:role/admin"  # outside role/stepq-*
    run = integrations(worker, roles=lambda _execution: admin)
    outcome = run(SEND, {"QueueUrl": enforced["queue"], "MessageBody": "x"}, context(execution()))
    assert outcome.error == "States.TaskFailed"
    assert outcome.cause is not None
    assert outcome.cause.startswith(
        f"stepq could not assume the state machine's role {admin} (session orders.run-1)"
    )
    assert "AccessDenied" in outcome.cause
    assert enforced["secret"] not in outcome.cause


# --- caching ------------------------------------------------------------------------------


def test_credentials_are_kept_per_role_and_session_until_near_expiry(aws: None) -> None:
    session = boto3.session.Session()
    calls = assume_calls(session)
    keys = keys_used(session, "sts.GetCallerIdentity")
    clock = ManualClock(SystemClock().now())  # moto's expiry is wall-clock time
    run = integrations(session, clock=clock)

    run(WHO, {}, context(execution("orders", "a")))
    run(WHO, {}, context(execution("orders", "a"), attempt=1))  # same execution
    assert keys[0] == keys[1]
    assert len(calls) == 1
    assert calls[0]["DurationSeconds"] == 3600

    run(WHO, {}, context(execution("orders", "b")))  # its own session
    run(WHO, {}, context(execution("billing", "a")))  # its own role
    assert [c["RoleSessionName"] for c in calls] == ["orders.a", "orders.b", "billing.a"]
    assert calls[2]["RoleArn"] == f"arn:aws:iam::{ACCOUNT}:role/stepq-billing"

    clock.advance(timedelta(minutes=54).total_seconds())
    run(WHO, {}, context(execution("orders", "a")))
    assert len(calls) == 3  # 6 minutes left: still good
    clock.advance(timedelta(minutes=2).total_seconds())
    run(WHO, {}, context(execution("orders", "a")))
    assert len(calls) == 4  # within 5 minutes of expiry: assumed again
    assert keys[-1] != keys[0]  # and the call signed with the new credentials


def test_machine_scoped_sessions_share_one_assume_per_role(aws: None) -> None:
    session = boto3.session.Session()
    calls = assume_calls(session)
    run = integrations(session, role_session="machine")
    for name in ("a", "b", "c"):
        assert run(WHO, {}, context(execution("orders", name))).error is None
    assert [c["RoleSessionName"] for c in calls] == ["stepq-orders"]


# --- which role, which session name -------------------------------------------------------


def test_catalog_roles_read_the_revision_the_execution_runs_on() -> None:
    store = MemoryStore()
    arn = execution("orders", "x")
    header = ExecutionHeader(arn, "orders", 2, "x", "RUNNING", "2026-01-01T00:00:00Z")
    store.create_execution(
        header,
        Commit(seq=1, snapshot={}, events=[], commands=[], cause_id="s", at="2026-01-01T00:00:00Z"),
    )
    store.put_doc("machine", "orders", {"roleArn": "arn:aws:iam::1:role/now"}, None)
    roles = CatalogRoles(store)
    assert roles(arn) == "arn:aws:iam::1:role/now"  # no revision document: the machine's

    store.put_doc("revision", "orders:2", {"roleArn": "arn:aws:iam::1:role/then"}, None)
    assert roles(arn) == "arn:aws:iam::1:role/now"  # kept per execution
    assert CatalogRoles(store)(arn) == "arn:aws:iam::1:role/then"
    unknown = execution("orders", "never-started")
    assert CatalogRoles(store)(unknown) == f"arn:aws:iam::{ACCOUNT}:role/stepq-orders"


def test_names_derived_from_the_execution() -> None:
    arn = execution("orders", "run-1")
    assert default_role(arn) == f"arn:aws:iam::{ACCOUNT}:role/stepq-orders"
    assert default_role(arn.replace("arn:aws:", "arn:aws-cn:")).startswith("arn:aws-cn:iam::")
    assert session_name(arn) == "orders.run-1"
    assert session_name(arn, "machine") == "stepq-orders"
    long = execution("m" * 80, "n" * 80)
    name = session_name(long)
    assert len(name) == 64 and name != session_name(execution("m" * 80, "n" * 79))
    assert session_name(execution("orders", "a#b")) == "orders.a-b"
    assert execution_of(context(arn)) == arn
    extra = StepContext("f", "r", extra={"execution_arn": arn})
    assert execution_of(extra) == arn
    assert execution_of(StepContext("f", "r")) is None


def test_a_task_without_an_execution_fails_rather_than_run_as_the_worker(aws: None) -> None:
    outcome = integrations(boto3.session.Session())(WHO, {}, StepContext("f", "r"))
    assert outcome.error == "States.TaskFailed"
    assert "which execution" in (outcome.cause or "")


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({}, False),
        ({"AWS_LAMBDA_FUNCTION_NAME": "stepq-worker"}, True),
        ({"AWS_LAMBDA_FUNCTION_NAME": "stepq-worker", "STEPQ_ASSUME_ROLE": "0"}, False),
        ({"STEPQ_ASSUME_ROLE": "1"}, True),
    ],
)
def test_the_setting_is_on_in_lambda_and_off_elsewhere(
    environ: dict[str, str], expected: bool
) -> None:
    assert assume_roles_setting(environ) is expected
    assert AwsIntegrations(environ=environ).assume_roles is expected


def test_a_bad_setting_is_refused() -> None:
    with pytest.raises(ValueError, match="STEPQ_ASSUME_ROLE"):
        assume_roles_setting({"STEPQ_ASSUME_ROLE": "maybe"})

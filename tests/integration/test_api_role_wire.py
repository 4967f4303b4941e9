"""``stepq worker --role api`` and ``--role inbox`` as processes, over the wire.

The table lives on DynamoDB Local and the queues on a moto server, as in
test_runtime_over_the_wire.py. The API role is reached with raw HTTP and with
boto3's unchanged ``stepfunctions`` client; the inbox role with messages
sent to the moto server's inbox queue as an outside producer sends them.
"""

from __future__ import annotations

import http.client
import json
import os
import subprocess
import time
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest
import stepq_test_servers as servers
from stepq.api.catalog import MachineDoc
from stepq.backends.aws.settings import Settings, build
from stepq.errors import NotFoundError
from stepq.runtime.ports import Store
from stepq_roles import SERVING, role_process, stepq_command

pytestmark = pytest.mark.integration

REPO = servers.REPO
ECHO = {"StartAt": "Done", "States": {"Done": {"Type": "Pass", "End": True}}}


@pytest.fixture
def environ(dynamodb_local: servers.Server, moto_server: servers.Server) -> dict[str, str]:
    """One fresh deployment: its own table and queue prefix on the shared servers."""
    moto_server.reset()
    run = uuid.uuid4().hex[:8]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("STEPQ_", "AWS_"))}
    env.update({k: v for k, v in servers.dummy_aws_env().items() if v is not None})
    env.update(
        {
            "STEPQ_TABLE": f"stepq-api-{run}",
            "STEPQ_QUEUE_PREFIX": f"api{run}",
            "STEPQ_ENDPOINT_URL": moto_server.url,
            "STEPQ_DYNAMODB_ENDPOINT_URL": dynamodb_local.url,
            "STEPQ_ACCOUNT": "123456789012",
            "PYTHONUNBUFFERED": "1",
        }
    )
    return env


def _catalogued(env: dict[str, str], name: str) -> Store:
    store, _, _ = build(Settings.from_env(env))
    revision = store.put_machine(name, ECHO)
    doc = MachineDoc(creationDate="2026-01-01T00:00:00+00:00", revision=revision)
    store.put_doc("machine", name, doc.model_dump(), None)
    return store


def _post(url: str, target: str, body: bytes = b"{}", **headers: str) -> tuple[int, Any]:
    parsed = urlparse(url)
    connection = http.client.HTTPConnection(parsed.hostname or "", parsed.port, timeout=10)
    try:
        sent = {"Content-Type": "application/x-amz-json-1.0", "X-Amz-Target": target, **headers}
        connection.request("POST", "/", body=body, headers=sent)
        reply = connection.getresponse()
        return reply.status, json.loads(reply.read() or b"{}")
    finally:
        connection.close()


def _sfn(url: str) -> Any:
    import boto3
    from botocore.config import Config

    return boto3.client(
        "stepfunctions",
        endpoint_url=url,
        region_name="us-east-1",
        config=Config(retries={"max_attempts": 1}),
    )


def test_the_api_role_serves_the_api_on_loopback(environ: dict[str, str], tmp_path: Path) -> None:
    with role_process("api", environ, tmp_path / "api.log", "--port", "0") as output:
        match = SERVING.search(output())
        assert match, output()
        url = match.group(1)
        assert urlparse(url).hostname == "127.0.0.1"
        status, body = _post(url, "Stepq.Ping")
        assert (status, body) == (200, {"region": "us-east-1", "account": "123456789012"})
        status, body = _post(url, "Stepq.Ping", Host="attacker.example")
        assert (status, body["__type"]) == (403, "AccessDeniedException")
        status, body = _post(url, "AWSStepFunctions.NoSuchOperation")
        assert (status, body["__type"]) == (400, "UnknownOperationException")


def test_boto3_starts_an_execution_through_the_apirole_process(
    environ: dict[str, str], tmp_path: Path
) -> None:
    from stepq.api.handler import load_operations
    from stepq.api.registry import OPERATIONS

    load_operations()
    if "StartExecution" not in OPERATIONS:  # another part of issue 10: not on this branch
        pytest.skip("StartExecution is not implemented on this branch yet")
    with role_process("api", environ, tmp_path / "api.log", "--port", "0") as output:
        match = SERVING.search(output())
        assert match, output()
        store = _catalogued(environ, "echo")
        machine = "arn:aws:states:us-east-1:123456789012:stateMachine:echo"
        sfn = _sfn(match.group(1))
        started = sfn.start_execution(stateMachineArn=machine, name="w1", input='{"a": 1}')
        header = store.get_execution(started["executionArn"])
        assert (header.name, header.input) == ("w1", {"a": 1})


def test_the_api_role_exits_with_one_line_when_its_endpoint_is_down(
    environ: dict[str, str],
) -> None:
    down = f"http://127.0.0.1:{servers.free_port()}"
    env = {**environ, "STEPQ_ENDPOINT_URL": down, "STEPQ_DYNAMODB_ENDPOINT_URL": down}
    done = subprocess.run(
        [*stepq_command(), "worker", "--role", "api", "--port", "0"],
        env=env,
        cwd=REPO,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1
    assert "Traceback" not in done.stdout + done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and f"cannot reach {down}" in lines[0], done.stderr


def _wait_for(store: Store, execution: str) -> Any:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            return store.get_execution(execution)
        except NotFoundError:
            time.sleep(0.1)
    pytest.fail(f"{execution} was never started", pytrace=False)


def test_the_inbox_role_starts_executions_and_dead_letters_bad_messages(
    environ: dict[str, str], tmp_path: Path
) -> None:
    import boto3

    with role_process("inbox", environ, tmp_path / "inbox.log"):
        store = _catalogued(environ, "echo")
        sqs = boto3.client(
            "sqs", endpoint_url=environ["STEPQ_ENDPOINT_URL"], region_name="us-east-1"
        )
        prefix = environ["STEPQ_QUEUE_PREFIX"]
        url = sqs.get_queue_url(QueueName=f"{prefix}-inbox")["QueueUrl"]
        start = {"action": "StartExecution", "stateMachineName": "echo", "input": {"n": 1}}
        message_id = sqs.send_message(QueueUrl=url, MessageBody=json.dumps(start))["MessageId"]
        sqs.send_message(QueueUrl=url, MessageBody=json.dumps({"action": "Nope"}))
        execution = f"arn:aws:states:us-east-1:123456789012:execution:echo:{message_id}"
        header = _wait_for(store, execution)
        assert (header.name, header.input) == (message_id, {"n": 1})
        dead_url = sqs.get_queue_url(QueueName=f"{prefix}-inbox-dlq")["QueueUrl"]
        deadline = time.monotonic() + 30
        dead: list[dict[str, Any]] = []
        while not dead and time.monotonic() < deadline:
            reply = sqs.receive_message(
                QueueUrl=dead_url, MessageAttributeNames=["All"], WaitTimeSeconds=1
            )
            dead = reply.get("Messages", [])
        assert [m["Body"] for m in dead] == ['{"action": "Nope"}']
        reason = dead[0]["MessageAttributes"]["stepq-reason"]["StringValue"]
        assert reason.startswith("field 'action' is missing or not one of")

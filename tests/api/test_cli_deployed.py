"""The deployed API's IAM auth, offline: ``stepq.client`` and the CLI sign for execute-api.

``Gateway`` (api/gateway_support.py) stands in for API Gateway with AWS_IAM
auth on loopback: it checks each request's SigV4 signature for ``execute-api``
and the stage path, and forwards what passes to ``stepq dev``'s API. The CLI
is given the URL of a host that does not exist (``stepq-api.test``) and
reaches it through the gateway as its HTTP proxy, as it would reach a
deployed stack (no loopback URL, so it signs); nothing leaves 127.0.0.1.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import stepq
from stepq.cli import app
from stepq.hosting.dev import DevServer
from stepq.runtime.steps import load_functions
from typer.testing import CliRunner

from api.gateway_support import DEPLOYED, KEY_ID, REGION, SECRET, Gateway
from api.server_support import module_server

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "state_machine"
STACK_STEPS = ROOT / "functions" / "worker" / "steps.py"  # FunctionsModule's default
PASS_MACHINE = {"StartAt": "Hello", "States": {"Hello": {"Type": "Pass", "End": True}}}


@pytest.fixture(scope="module")
def dev() -> Iterator[DevServer]:
    """One ``stepq dev`` for the module, running the examples' step functions and
    the deployed stack's default module (``hello``)."""
    steps: dict[str, Any] = {}
    for module in [*sorted(EXAMPLES.glob("*.py")), STACK_STEPS]:
        steps.update(load_functions(str(module)))
    with module_server(functions=steps) as server:
        yield server


@pytest.fixture
def gateway(dev: DevServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[Gateway]:
    """The gateway in front of ``dev``; the caller's credentials are the gateway's key."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", KEY_ID)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET)
    monkeypatch.setenv("AWS_REGION", REGION)
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    server = Gateway(dev.url)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def _outcome(sfn: Any, arn: str) -> dict[str, Any]:
    for _ in range(200):
        described = sfn.describe_execution(executionArn=arn)
        if described["status"] != "RUNNING":
            return dict(described)
        time.sleep(0.05)
    raise AssertionError(f"{arn} still running")


# --- stepq.client ------------------------------------------------------------------------


def test_stepq_client_reaches_the_iam_authorised_api(gateway: Gateway) -> None:
    sfn = stepq.client(gateway.url, region=REGION)
    machine = sfn.create_state_machine(
        name="passing",
        definition=json.dumps(PASS_MACHINE),
        roleArn="arn:aws:iam::111111111111:role/stepq-passing",
    )["stateMachineArn"]
    started = sfn.start_execution(stateMachineArn=machine, input='{"who": "gateway"}')
    outcome = _outcome(sfn, started["executionArn"])
    assert outcome["status"] == "SUCCEEDED"
    assert json.loads(outcome["output"]) == {"who": "gateway"}
    assert "AWSStepFunctions.StartExecution" in gateway.passed
    assert gateway.refused == []


def test_an_unchanged_client_is_refused_and_the_one_line_hook_lets_it_in(
    gateway: Gateway,
) -> None:
    import boto3
    from botocore.exceptions import ClientError

    plain = boto3.client("stepfunctions", endpoint_url=gateway.url, region_name=REGION)
    with pytest.raises(ClientError) as refused:
        plain.list_state_machines()
    # As from API Gateway: the code is the status, the header names the error.
    assert refused.value.response["Error"]["Code"] == "403"
    headers = refused.value.response["ResponseMetadata"]["HTTPHeaders"]
    assert headers["x-amzn-errortype"] == "InvalidSignatureException"
    assert "execute-api" in refused.value.response["Error"]["Message"]
    assert gateway.refused == ["AWSStepFunctions.ListStateMachines"]

    plain.meta.events.register("before-sign.sfn", stepq.sign_for_execute_api)
    assert isinstance(plain.list_state_machines()["stateMachines"], list)
    assert gateway.passed == ["AWSStepFunctions.ListStateMachines"]


def test_a_wrong_secret_fails_the_signature_check(
    gateway: Gateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    from botocore.exceptions import ClientError

    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "not-the-secret")
    with pytest.raises(ClientError) as refused:
        stepq.client(gateway.url, region=REGION).list_state_machines()
    assert "does not match" in refused.value.response["Error"]["Message"]
    assert gateway.passed == []


# --- the CLI -----------------------------------------------------------------------------


def _cli(*args: str) -> Any:
    return CliRunner().invoke(app, [*args, "--endpoint-url", DEPLOYED])


def test_the_cli_signs_for_execute_api_when_the_api_is_not_loopback(
    gateway: Gateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HTTP_PROXY", gateway.proxy)  # the only way to stepq-api.test
    synced = _cli("machines", "sync", str(EXAMPLES))
    assert synced.exit_code == 0, synced.output
    assert synced.output.splitlines() == [
        f"created {p.name.removesuffix('.asl.json')} (version 1)"
        for p in sorted(EXAMPLES.glob("*.asl.json"))
    ]
    started = _cli(
        "start",
        "order_saga",
        "--input",
        '{"order_id": "o-1", "amount": 42, "items": ["book"]}',
        "--wait",
        "--timeout",
        "30",
    )
    assert started.exit_code == 0, started.output
    assert "SUCCEEDED" in started.output
    assert "AWSStepFunctions.StartExecution" in gateway.passed
    assert "Stepq.Ping" in gateway.passed  # stepq's own operations are signed the same way
    assert gateway.refused == []
    for shown in (synced.output, started.output):
        assert SECRET not in shown and KEY_ID not in shown


def test_the_cli_says_in_one_line_when_the_gateway_refuses(
    gateway: Gateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HTTP_PROXY", gateway.proxy)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "not-the-secret")
    result = _cli("machines")
    assert result.exit_code == 1
    assert result.output.strip().splitlines() == [
        "InvalidSignatureException: The request signature we calculated does not match."
    ]
    assert "not-the-secret" not in result.output
    # Names need the API's account (Stepq.Ping, stepq's own operation): refused alike.
    described = _cli("describe", "order_saga")
    assert described.exit_code == 1
    assert described.output.strip().splitlines() == [
        "InvalidSignatureException: The request signature we calculated does not match."
    ]


def test_the_cli_without_credentials_for_a_deployed_api_is_one_line(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent/stepq-aws-config")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/stepq-aws-credentials")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")  # no instance metadata lookup
    monkeypatch.setenv("AWS_REGION", REGION)
    result = _cli("machines")
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("no AWS credentials found"), result.output


def test_the_first_machine_of_deploy_md_runs_as_it_says(
    gateway: Gateway, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    doc = (ROOT / "docs" / "DEPLOY.md").read_text()
    definition = doc.split("cat > state_machine/hello.asl.json <<'JSON'\n", 1)[1]
    (tmp_path / "hello.asl.json").write_text(definition.split("\nJSON\n", 1)[0])
    monkeypatch.setenv("HTTP_PROXY", gateway.proxy)
    synced = _cli("machines", "sync", str(tmp_path))
    assert synced.output.splitlines() == ["created hello (version 1)"], synced.output
    started = _cli("start", "hello", "--input", '{"name": "stepq"}', "--wait", "-o", "json")
    assert started.exit_code == 0, started.output
    assert json.loads(json.loads(started.output)["output"]) == {"greeting": "Hello, stepq!"}


def test_a_missing_profile_is_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_PROFILE", "no-such-profile")
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent/stepq-aws-config")
    result = _cli("machines")
    assert result.exit_code == 2
    assert (
        result.output.strip()
        == "AWS settings: The config profile (no-such-profile) could not be found"
    )

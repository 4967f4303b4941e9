"""The CLI's client commands against another Step Functions API: moto's server.

moto's server speaks the same JSON 1.0 protocol but knows no stepq
operations, so this checks the paths for an API that is not stepq: full ARNs,
``--role-arn``, and ``stepq list``'s fallback from ``Stepq.SearchExecutions`` to
ListExecutions machine by machine. moto does not run the machines (its
executions stay RUNNING with a canned history), which is enough here.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from stepq.cli import app
from typer.testing import CliRunner

EXAMPLES = Path(__file__).resolve().parents[2] / "state_machine"
ACCOUNT = "123456789012"  # moto's default account
MACHINE = f"arn:aws:states:us-east-1:{ACCOUNT}:stateMachine"
EXECUTION = f"arn:aws:states:us-east-1:{ACCOUNT}:execution"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/stepq-test"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def moto_url() -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


@pytest.fixture
def url(moto_url: str, aws_env: None) -> str:
    return moto_url


def run(url: str, *args: str) -> Any:
    return CliRunner().invoke(app, [*args, "--api-url", url])


def ok(url: str, *args: str) -> str:
    result = run(url, *args)
    assert result.exit_code == 0, result.output
    return str(result.output)


def as_json(url: str, *args: str) -> Any:
    return json.loads(ok(url, *args, "--output", "json"))


def test_create_start_describe_list_history_stop_on_a_step_functions_api(url: str) -> None:
    path = str(EXAMPLES / "insurance_claim.asl.json")
    # Not a stepq API: no account to build a role from, and one line saying so.
    refused = run(url, "create", path)
    assert refused.exit_code == 2 and "give --role-arn" in refused.output
    created = ok(url, "create", path, "--role-arn", ROLE, "--name", "claims")
    assert created.strip() == f"created {MACHINE}:claims"
    ok(url, "update", path, "--name", f"{MACHINE}:claims")
    started = as_json(url, "start", f"{MACHINE}:claims", "--name", "c-1", "--input", '{"a": 1}')
    arn = f"{EXECUTION}:claims:c-1"
    assert started["executionArn"] == arn
    ok(url, "start", f"{MACHINE}:claims", "--name", "d-1")
    described = as_json(url, "describe", arn)
    assert described["status"] == "RUNNING" and json.loads(described["input"]) == {"a": 1}
    text = ok(url, "describe", arn)
    assert "RUNNING" in text and '"a": 1' in text
    machine = as_json(url, "describe", f"{MACHINE}:claims")
    assert json.loads(machine["definition"])["StartAt"] == "RegisterClaim"
    # A name prefix is beyond ListExecutions: SearchExecutions is unknown here, so
    # every machine's ListExecutions is read and filtered.
    names = [e["name"] for e in as_json(url, "list", "--name-prefix", "c-")]
    assert names == ["c-1"]
    everything = as_json(url, "list", "--machine", f"{MACHINE}:claims")
    assert sorted(e["name"] for e in everything) == ["c-1", "d-1"]
    assert "c-1" in ok(url, "list", "--machine", f"{MACHINE}:claims", "--status", "RUNNING")
    assert [m["name"] for m in as_json(url, "machines")] == ["claims"]
    events = as_json(url, "history", arn)
    timeline = ok(url, "history", arn)
    assert events and events[0]["type"] in timeline
    ok(url, "stop", arn, "--error", "Operator", "--cause", "test")
    assert as_json(url, "describe", arn)["status"] == "ABORTED"
    graph = as_json(url, "graph", f"{MACHINE}:claims", "--execution", arn)
    assert graph["graph"].startswith("flowchart TD")


def test_api_errors_are_the_code_and_message(url: str) -> None:
    result = run(url, "describe", f"{EXECUTION}:nope:nope")
    assert result.exit_code == 1
    line = result.output.strip()
    assert line.startswith("ExecutionDoesNotExist: ") and "\n" not in line
    result = run(url, "stop", f"{EXECUTION}:nope:nope")
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert result.output.strip().startswith("ExecutionDoesNotExist: ")

"""The durable runtime end to end over the wire, as separate processes.

The table lives on DynamoDB Local and the queues on a moto server (two
endpoints: ``--endpoint-url`` names the moto server, and
STEPQ_DYNAMODB_ENDPOINT_URL sends DynamoDB calls to DynamoDB Local). The
three loops run as ``stepq worker --role ...`` subprocesses; the test starts
executions with ``stepq.runtime.client.Client`` built from the same settings
and polls the store until they finish.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import stepq_test_servers as servers
from stepq.backends.aws.settings import Settings, build, make_client, runtime_config
from stepq.clock import SystemClock
from stepq.errors import NotFoundError
from stepq.runtime.client import Client
from stepq.runtime.orchestrator import Orchestrator
from stepq.runtime.ports import ExecutionHeader, Store
from stepq_roles import stepq_command

pytestmark = pytest.mark.integration

REPO = servers.REPO
SAGA = REPO / "state_machine" / "order_saga.asl.json"
STEPS = REPO / "state_machine" / "order_saga.py"
ROLES = ("worker", "orchestrator", "scheduler")
RUN_SECONDS = 60.0


@dataclass
class Loop:
    role: str
    process: subprocess.Popen[bytes]
    log: Path

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-3000:]


@pytest.fixture
def wire_environ(dynamodb_local: servers.Server, moto_server: servers.Server) -> dict[str, str]:
    """The environment of the three processes and of the test's client: one fresh deployment."""
    moto_server.reset()  # nothing left from earlier tests on the shared server
    return deployment_environ(moto_server.url, STEPQ_DYNAMODB_ENDPOINT_URL=dynamodb_local.url)


def deployment_environ(endpoint_url: str, **more: str) -> dict[str, str]:
    """This process's environment with dummy AWS credentials and a fresh table and prefix."""
    run = uuid.uuid4().hex[:8]
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("STEPQ_", "AWS_"))}
    environ.update({k: v for k, v in servers.dummy_aws_env().items() if v is not None})
    environ.update(
        {
            "STEPQ_TABLE": f"stepq-wire-{run}",
            "STEPQ_QUEUE_PREFIX": f"wire{run}",
            "STEPQ_ENDPOINT_URL": endpoint_url,
            "STEPQ_FUNCTIONS": str(STEPS),
            "PYTHONUNBUFFERED": "1",
            **more,
        }
    )
    return environ


@contextmanager
def running_loops(environ: dict[str, str], folder: Path) -> Iterator[list[Loop]]:
    """``stepq worker --role R --endpoint-url URL --create`` for each role; stopped on exit."""
    started: list[Loop] = []
    try:
        for role in ROLES:
            log = folder / f"{role}.log"
            with log.open("wb") as sink:
                process = subprocess.Popen(
                    [
                        *stepq_command(),
                        "worker",
                        "--role",
                        role,
                        "--endpoint-url",
                        environ["STEPQ_ENDPOINT_URL"],
                        "--functions",
                        str(STEPS),
                        "--create",
                        "--interval",
                        "1",
                    ],
                    env=environ,
                    cwd=REPO,
                    stdin=subprocess.DEVNULL,
                    stdout=sink,
                    stderr=subprocess.STDOUT,
                )
            started.append(Loop(role, process, log))
        _wait_until_running(started)
        yield started
    finally:
        for loop in started:
            if loop.process.poll() is None:
                loop.process.terminate()  # SIGTERM: each loop ends its current poll and exits
        for loop in started:
            try:
                loop.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                loop.process.kill()
                loop.process.wait(timeout=5)


@pytest.fixture
def loops(wire_environ: dict[str, str], tmp_path: Path) -> Iterator[list[Loop]]:
    with running_loops(wire_environ, tmp_path) as started:
        yield started


def _wait_until_running(started: list[Loop], timeout: float = 60.0) -> None:
    """Every process has provisioned and entered its loop (it prints 'running against')."""
    deadline = time.monotonic() + timeout
    waiting = list(started)
    while waiting and time.monotonic() < deadline:
        for loop in list(waiting):
            if loop.process.poll() is not None:
                pytest.fail(f"stepq {loop.role} exited early:\n{loop.output()}", pytrace=False)
            if "running against" in loop.output():
                waiting.remove(loop)
        time.sleep(0.1)
    if waiting:
        logs = "\n".join(f"--- {loop.role}\n{loop.output()}" for loop in waiting)
        pytest.fail(f"not running after {timeout:.0f}s:\n{logs}", pytrace=False)


def _client(environ: dict[str, str]) -> tuple[Settings, Store, Client]:
    settings = Settings.from_env(environ)
    store, queues, _ = build(settings)
    orchestrator = Orchestrator(store, queues, SystemClock(), runtime_config(settings))
    return settings, store, Client(orchestrator, queues)


def _wait_for(store: Store, execution_id: str, loops: list[Loop]) -> ExecutionHeader:
    deadline = time.monotonic() + RUN_SECONDS
    while time.monotonic() < deadline:
        for loop in loops:
            if loop.process.poll() is not None:
                pytest.fail(f"stepq {loop.role} died:\n{loop.output()}", pytrace=False)
        try:
            header = store.get_execution(execution_id)
        except NotFoundError:  # the start event is still on its way
            header = None
        if header is not None and header.status != "RUNNING":
            return header
        time.sleep(0.2)
    logs = "\n".join(f"--- {loop.role}\n{loop.output()}" for loop in loops)
    pytest.fail(f"{execution_id} still running after {RUN_SECONDS:.0f}s:\n{logs}", pytrace=False)


def _event_types(store: Store, execution_id: str) -> list[str]:
    return [event["type"] for event in store.history(execution_id)]


def _run_order_saga(environ: dict[str, str], loops: list[Loop]) -> None:
    """Deploy the order saga, run the happy path and the compensated one, check both."""
    _, store, client = _client(environ)
    store.put_machine("order_saga", json.loads(SAGA.read_text()))
    order = {"order_id": "o-1001", "amount": 42.5, "items": ["book", "lamp"]}
    happy = client.start_execution("order_saga", "happy", order)
    compensated = client.start_execution("order_saga", "compensated", {**order, "fail_at": "ship"})

    done = _wait_for(store, happy, loops)
    assert done.status == "SUCCEEDED", (done.error, done.cause)
    output: Any = done.output
    assert output["order_id"] == "o-1001"
    assert output["status"] == "CONFIRMED"
    assert output["charge_id"].startswith("ch-")
    assert output["tracking"].startswith("1Z-")
    types = _event_types(store, happy)
    assert types[0] == "ExecutionStarted" and types[-1] == "ExecutionSucceeded"
    assert types.count("TaskStateEntered") == 3  # Charge, Reserve, Ship: each ran once

    failed = _wait_for(store, compensated, loops)
    assert (failed.status, failed.error) == ("FAILED", "OrderFailed")
    entered = [
        event.get("details", {}).get("name")
        for event in store.history(compensated)
        if event["type"] == "TaskStateEntered"
    ]
    assert entered == ["Charge", "Reserve", "Ship", "Release", "Refund"]


def test_order_saga_runs_over_the_wire_in_three_processes(
    loops: list[Loop], wire_environ: dict[str, str]
) -> None:
    _run_order_saga(wire_environ, loops)

    # Per-service endpoints really split the traffic: the table is on DynamoDB
    # Local only, the queues on the moto server.
    settings = Settings.from_env(wire_environ)
    assert settings.table in make_client(settings, "dynamodb").list_tables()["TableNames"]
    moto_only = Settings.from_env({**wire_environ, "STEPQ_DYNAMODB_ENDPOINT_URL": ""})
    assert settings.table not in make_client(moto_only, "dynamodb").list_tables()["TableNames"]
    queues = make_client(settings, "sqs").list_queues(QueueNamePrefix=settings.queue_prefix)
    names = {url.rsplit("/", 1)[-1] for url in queues.get("QueueUrls", [])}
    assert {f"{settings.queue_prefix}-events", f"{settings.queue_prefix}-tasks-charge"} <= names

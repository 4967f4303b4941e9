"""The examples through stepq against LocalStack, for real: no Docker, no skip in CI.

LocalStack (``localstack-core`` from .cache/localstack-venv, see
localstack_server.py) serves SQS and S3 on a loopback port; the table is on
DynamoDB Local. stepq reaches LocalStack through the session helper the
LocalStack docs show, ``localstack_client.session.Session``
(``stepq.backends.aws.settings.localstack_session``), and DynamoDB Local
through a client of its own, passed to ``build``.

The roles (orchestrator, worker, scheduler) run in this process on those
endpoints, stepped by hand on a manual clock that jumps to the next timer
whenever every queue is empty, so the insurance claim's one-day cooling-off
and three-day timeout take no time; the order saga also runs as the three
``stepq worker`` processes a user starts. Payloads over the claim-check
thresholds travel through LocalStack's S3.

Under ``CI=true`` (or STEPQ_REQUIRE_TEST_SERVICES=1) a LocalStack or DynamoDB
Local that cannot run fails these tests; elsewhere they skip, naming the
install script. ``make localstack`` installs both and runs this file alone
(about a minute: LocalStack's start is a quarter of it).
"""

from __future__ import annotations

import base64
import os
import uuid
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import localstack_server
import pytest
import stepq_test_servers as servers
from stepq.backends.aws.dynamodb_store import create_table
from stepq.backends.aws.settings import Settings, build, localstack_session, make_client
from stepq.clock import ManualClock, monotonic
from stepq.errors import NotFoundError
from stepq.hosting.pump import Pump
from stepq.runtime.applier.config import RuntimeConfig
from stepq.runtime.client import Client
from stepq.runtime.inbox import INBOX_QUEUE
from stepq.runtime.messages import EVENTS_QUEUE, task_queue
from stepq.runtime.orchestrator import Orchestrator
from stepq.runtime.ports import ExecutionHeader
from stepq.runtime.scheduler import Scheduler
from stepq.runtime.worker import Worker
from stepq.testing import example

# One LocalStack per test process (a session fixture); under xdist, --dist loadfile
# keeps this file on one worker, so one LocalStack per run.
pytestmark = [pytest.mark.integration, pytest.mark.localstack]

RUN_SECONDS = 60.0
BIG = 240 * 1024  # over SQS's claim-check threshold (192 KiB) and DynamoDB's (64 KiB)


def _unavailable(reason: str) -> None:
    """Fail under CI (every service is installed there), skip elsewhere."""
    if os.environ.get("CI", "").lower() == "true" or os.environ.get(servers.REQUIRE_ENV) == "1":
        pytest.fail(f"{reason} (CI=true: LocalStack must run)", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def localstack(wire_env: None) -> Iterator[localstack_server.LocalStack]:
    try:
        server = localstack_server.start()
    except servers.Unavailable as exc:
        _unavailable(str(exc))
        raise  # unreachable: _unavailable skips or fails
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def dynamodb(wire_env: None) -> servers.Server:
    try:
        return servers.shared(servers.DYNAMODB_LOCAL)
    except servers.Unavailable as exc:
        _unavailable(str(exc))
        raise


class Stack:
    """stepq's roles on LocalStack's SQS and S3 and DynamoDB Local, in this process."""

    def __init__(
        self,
        localstack: localstack_server.LocalStack,
        dynamodb: servers.Server,
        functions: dict[str, Any],
    ) -> None:
        run = uuid.uuid4().hex[:8]
        self.settings = Settings.from_env(
            {
                "STEPQ_TABLE": f"stepq-ls-{run}",
                "STEPQ_QUEUE_PREFIX": f"ls{run}",
                "STEPQ_BUCKET": f"stepq-ls-{run}",
                "STEPQ_DYNAMODB_ENDPOINT_URL": dynamodb.url,
                "AWS_REGION": "us-east-1",
            }
        )
        # SQS and S3 through LocalStack's own session helper; DynamoDB Local apart.
        self.session = localstack_session(localstack_host=localstack.host)
        self.dynamodb = make_client(self.settings, "dynamodb")
        create_table(self.dynamodb, self.settings.table)
        self.store, self.queues, blobs = build(
            self.settings, {"dynamodb": self.dynamodb}, session=self.session
        )
        assert blobs is not None
        blobs.ensure_bucket()  # type: ignore[attr-defined]
        self.task_queues = sorted({task_queue(name) for name in functions} | {task_queue(None)})
        for name in [EVENTS_QUEUE, *self.task_queues, INBOX_QUEUE]:
            self.queues.ensure(name, visibility_timeout=30)  # type: ignore[attr-defined]
        # Every timer waits in the table (no SQS delays): the clock jumps to it.
        self.clock = ManualClock()
        config = RuntimeConfig(sqs_delays=False)
        self.orchestrator = Orchestrator(self.store, self.queues, self.clock, config)
        self.client = Client(self.orchestrator, self.queues)
        worker = Worker(
            functions,
            self.queues,
            self.clock,
            client=self.client,
            applier=self.orchestrator.applier,
            serves=self.task_queues,
            visibility_timeout=30,
        )
        self.scheduler = Scheduler(self.store, self.queues, self.clock, config)
        self.pumps = [
            Pump(self.queues, [EVENTS_QUEUE], self.orchestrator.handle_batch),
            Pump(self.queues, self.task_queues, worker.handle_batch),
        ]

    def deploy(self, name: str, definition: dict[str, Any]) -> None:
        self.store.put_machine(name, definition)

    def start(self, machine: str, name: str, data: Any) -> str:
        return self.client.start_execution(machine, name, data)

    def run(self, execution_ids: list[str]) -> dict[str, ExecutionHeader]:
        """Step every role until the executions finish, jumping the clock over idle time."""
        deadline = monotonic() + RUN_SECONDS
        while monotonic() < deadline:
            moved = sum(pump.poll_once() for pump in self.pumps) + self.scheduler.tick()
            if moved:
                continue
            done = self._finished(execution_ids)
            if len(done) == len(execution_ids):
                return done
            if not any(self.queues.depth(name) for name in [EVENTS_QUEUE, *self.task_queues]):  # type: ignore[attr-defined]
                due = self.scheduler.next_due()
                if due is not None and due > self.clock.now():
                    self.clock.set(due)  # only a timer can move things on now
        raise AssertionError(f"still running after {RUN_SECONDS:.0f}s: {execution_ids}")

    def _finished(self, execution_ids: list[str]) -> dict[str, ExecutionHeader]:
        done = {}
        for execution_id in execution_ids:
            try:
                header = self.store.get_execution(execution_id)
            except NotFoundError:  # its start event is still on the way
                continue
            if header.status != "RUNNING":
                done[execution_id] = header
        return done

    def history(self, execution_id: str) -> list[dict[str, Any]]:
        return self.store.history(execution_id)

    def bucket_keys(self) -> list[str]:
        s3 = self.session.client("s3")
        listed = s3.list_objects_v2(Bucket=self.settings.bucket)
        return [item["Key"] for item in listed.get("Contents", [])]


def _stack(
    localstack: localstack_server.LocalStack, dynamodb: servers.Server, name: str
) -> tuple[Stack, dict[str, Any]]:
    definition, functions = example(name)
    stack = Stack(localstack, dynamodb, functions)
    stack.deploy(name, definition)
    return stack, definition


def _entered(history: list[dict[str, Any]]) -> list[str]:
    return [
        event.get("details", {}).get("name")
        for event in history
        if event["type"] == "TaskStateEntered"
    ]


def test_order_saga_on_localstack_sqs_and_s3(
    localstack: localstack_server.LocalStack, dynamodb: servers.Server
) -> None:
    stack, _ = _stack(localstack, dynamodb, "order_saga")
    order = {"order_id": "o-1001", "amount": 42.5, "items": ["book", "lamp"]}
    # Items too large for an SQS message or a table item: they go by claim check.
    noise = base64.b64encode(os.urandom(BIG * 3 // 4)).decode()  # does not compress away
    big = {"order_id": "o-big", "amount": 7, "items": [noise]}
    happy = stack.start("order_saga", "happy", order)
    compensated = stack.start("order_saga", "compensated", {**order, "fail_at": "ship"})
    large = stack.start("order_saga", "large", big)
    done = stack.run([happy, compensated, large])

    assert done[happy].status == "SUCCEEDED", (done[happy].error, done[happy].cause)
    assert done[happy].output["status"] == "CONFIRMED"
    assert done[happy].output["charge_id"].startswith("ch-")
    assert _entered(stack.history(happy)) == ["Charge", "Reserve", "Ship"]
    assert (done[compensated].status, done[compensated].error) == ("FAILED", "OrderFailed")
    assert _entered(stack.history(compensated)) == [
        "Charge",
        "Reserve",
        "Ship",
        "Release",
        "Refund",
    ]
    assert done[large].status == "SUCCEEDED", (done[large].error, done[large].cause)
    assert done[large].output["order_id"] == "o-big"
    assert done[large].input == big  # read back through the claim check in S3

    # The traffic really went where it should: queues and claim checks on
    # LocalStack, the table on DynamoDB Local only.
    keys = stack.bucket_keys()
    assert any(key.startswith("messages/") for key in keys), f"no SQS claim check in S3: {keys}"
    assert any(not key.startswith("messages/") for key in keys), f"no table blob in S3: {keys}"
    queues = stack.session.client("sqs").list_queues(QueueNamePrefix=stack.settings.queue_prefix)
    names = {url.rsplit("/", 1)[-1] for url in queues.get("QueueUrls", [])}
    assert f"{stack.settings.queue_prefix}-events" in names
    assert f"{stack.settings.queue_prefix}-tasks-charge" in names
    assert stack.settings.table in stack.dynamodb.list_tables()["TableNames"]


@pytest.mark.parametrize(
    ("verdict", "status", "days"),
    [("approve", "SUCCEEDED", 1), ("reject", "FAILED", 0), ("silent", "SUCCEEDED", 3)],
)
def test_insurance_claim_on_localstack(
    localstack: localstack_server.LocalStack,
    dynamodb: servers.Server,
    verdict: str,
    status: str,
    days: int,
) -> None:
    """The callback (SendTaskSuccess/Failure through the events queue), the one-day
    Wait and the three-day task timeout, each timer fired by the scheduler."""
    stack, _ = _stack(localstack, dynamodb, "insurance_claim")
    claim = stack.start(
        "insurance_claim", verdict, {"policy": "p-1", "amount": 500, "verdict": verdict}
    )
    header = stack.run([claim])[claim]

    assert header.status == status, (header.error, header.cause)
    history = stack.history(claim)
    elapsed = datetime.fromisoformat(history[-1]["timestamp"]) - datetime.fromisoformat(
        history[0]["timestamp"]
    )
    assert elapsed.days == days
    if verdict == "approve":
        assert header.output["verification"] == {"score": 0.95, "verifier": "acme-verify"}
        assert header.output["payment"]["paid"] == 500
    elif verdict == "reject":
        assert header.error == "ClaimRejected"
    else:
        assert header.output["status"] == "NEEDS_REVIEW"
        assert "TaskTimedOut" in [event["type"] for event in history]


def test_data_pipeline_on_localstack(
    localstack: localstack_server.LocalStack, dynamodb: servers.Server
) -> None:
    """Map, Parallel and retried Lambda failures."""
    stack, _ = _stack(localstack, dynamodb, "data_pipeline")
    run = stack.start("data_pipeline", "orders", {"orders": 9})
    header = stack.run([run])[run]
    assert header.status == "SUCCEEDED", (header.error, header.cause)
    assert header.output == {"loaded": 9, "total": sum(10 * i for i in range(9))}
    types = [event["type"] for event in stack.history(run)]
    assert types.count("MapIterationStarted") == 9
    assert types.count("LambdaFunctionFailed") == 3


def test_order_saga_as_stepq_worker_processes_on_localstack(
    localstack: localstack_server.LocalStack, dynamodb: servers.Server, tmp_path: Path
) -> None:
    """What a user runs: ``stepq worker --role R --endpoint-url <LocalStack>`` for
    each role, the table on DynamoDB Local (STEPQ_DYNAMODB_ENDPOINT_URL)."""
    from test_runtime_over_the_wire import _run_order_saga, deployment_environ, running_loops

    environ = deployment_environ(localstack.url, STEPQ_DYNAMODB_ENDPOINT_URL=dynamodb.url)
    with running_loops(environ, tmp_path) as loops:
        _run_order_saga(environ, loops)

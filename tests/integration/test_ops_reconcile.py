"""``stepq ops reconcile`` over the wire: DynamoDB Local + moto server, the real CLI.

A start whose sends were lost (the client died after its commit) is found
and its work sent again by the operator command, once per call.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import stepq_test_servers as servers
from stepq.backends.aws.settings import Settings, build, runtime_config
from stepq.clock import SystemClock
from stepq.hosting.serve import provision
from stepq.runtime.messages import task_queue
from stepq.runtime.orchestrator import Orchestrator
from stepq_roles import stepq_command
from test_runtime_over_the_wire import deployment_environ

REPO = Path(__file__).resolve().parents[2]
ONE_STEP = {
    "StartAt": "T",
    "States": {
        "T": {
            "Type": "Task",
            "Resource": "arn:aws:lambda:us-east-1:111111111111:function:step",
            "End": True,
        }
    },
}


def _stepq(environ: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*stepq_command(), "ops", "reconcile", *args],
        env=environ,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_ops_reconcile_sends_a_lost_start_again(
    dynamodb_local: servers.Server, moto_server: servers.Server
) -> None:
    moto_server.reset()
    environ = deployment_environ(moto_server.url, STEPQ_DYNAMODB_ENDPOINT_URL=dynamodb_local.url)
    settings = Settings.from_env(environ)
    provision(settings, ["step"])
    store, queues, _ = build(settings)
    store.put_machine("one", ONE_STEP)

    def dies_before_sending(queue: str, messages: list[Any]) -> None:
        raise RuntimeError("the client died after its commit")

    real_send = queues.send
    queues.send = dies_before_sending  # type: ignore[method-assign]
    orchestrator = Orchestrator(store, queues, SystemClock(), runtime_config(settings))
    arn = orchestrator.start("one", "lost", {"n": 1})
    queues.send = real_send  # type: ignore[method-assign]
    assert queues.depth(task_queue("step")) == 0  # type: ignore[attr-defined]

    dry = _stepq(environ, arn, "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert dry.stdout.strip().splitlines()[-1] == "reconciled=0 resent=1"
    assert queues.depth(task_queue("step")) == 0  # type: ignore[attr-defined]

    done = _stepq(environ, arn)
    assert done.returncode == 0, done.stderr
    assert "sent RunTask" in done.stdout
    assert done.stdout.strip().splitlines()[-1] == "reconciled=1 resent=1"
    assert queues.depth(task_queue("step")) == 1  # type: ignore[attr-defined]

    # Without an ARN: only executions quiet for --quiet-minutes (this one is not yet).
    sweep = _stepq(environ, "--quiet-minutes", "60")
    assert sweep.stdout.strip().splitlines()[-1] == "reconciled=0 resent=0"
    every = _stepq(environ, "--quiet-minutes", "0")
    assert every.stdout.strip().splitlines()[-1] == "reconciled=1 resent=1"

    missing = _stepq(environ, arn + "-nope")
    assert missing.returncode == 1
    assert missing.stderr.strip() == f"no execution {arn}-nope"
    assert "Traceback" not in missing.stderr

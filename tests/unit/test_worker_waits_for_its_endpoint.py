"""``stepq worker --create`` started while its endpoint is down waits for it.

Found by the chaos run (scripts/chaos.py): a role restarted during an outage
with ``--create`` printed a botocore traceback and exited 1, and stayed down.
Provisioning is now retried with the loops' outage backoff, one log line per
failure streak, until it succeeds or the process is asked to stop.
"""

from __future__ import annotations

import logging
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

from stepq.backends.aws.settings import Settings
from stepq.hosting import serve as serve_module
from stepq.runtime.backoff import Backoff

REPO = Path(__file__).resolve().parents[2]


def _fast() -> Backoff:
    return Backoff(base=0.005, cap=0.03, rng=random.Random(3))


def test_provisioning_is_retried_until_the_endpoint_answers(monkeypatch, caplog) -> None:
    calls = []

    def flaky(settings: Settings, functions: list[str]) -> None:
        calls.append(functions)
        if len(calls) < 4:
            raise ConnectionError("Could not connect to the endpoint URL")

    monkeypatch.setattr(serve_module, "provision", flaky)
    with caplog.at_level(logging.INFO, logger="stepq"):
        done = serve_module.provision_until_done(
            Settings(), ["f"], threading.Event(), backoff=_fast()
        )
    assert done and len(calls) == 4
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "creating the table and queues failing" in warnings[0].message
    assert not [r for r in caplog.records if r.exc_info]


def test_a_stop_ends_the_wait_for_the_endpoint(monkeypatch) -> None:
    def down(settings: Settings, functions: list[str]) -> None:
        raise ConnectionError("down")

    monkeypatch.setattr(serve_module, "provision", down)
    stop = threading.Event()
    threading.Timer(0.1, stop.set).start()
    began = time.monotonic()
    assert not serve_module.provision_until_done(Settings(), [], stop, backoff=_fast())
    assert time.monotonic() - began < 5


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])  # nothing listens once closed


def test_stepq_worker_create_waits_without_a_traceback_and_stops_on_sigterm(tmp_path) -> None:
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "STEPQ_"))}
    environ.update(
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_DEFAULT_REGION="us-east-1",
        AWS_CONFIG_FILE="/nonexistent",
        AWS_SHARED_CREDENTIALS_FILE="/nonexistent",
        PYTHONPATH=os.pathsep.join(
            p for p in (str(REPO / "shared"), os.environ.get("PYTHONPATH", "")) if p
        ),
    )
    log = tmp_path / "worker.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [
                sys.executable,
                "-c",
                "from stepq.cli import main; main()",
                "worker",
                "--role",
                "orchestrator",
                "--create",
                "--endpoint-url",
                f"http://127.0.0.1:{_closed_port()}",
            ],
            env=environ,
            stdin=subprocess.DEVNULL,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
        try:
            deadline = time.monotonic() + 60  # importing can be slow on a busy machine
            while "creating the table and queues" not in log.read_text():
                assert process.poll() is None, log.read_text()[-2000:]
                assert time.monotonic() < deadline, log.read_text()[-2000:]
                time.sleep(0.1)
            time.sleep(1.0)  # provisioning against a closed port, retried by botocore
            assert process.poll() is None, log.read_text()[-2000:]  # still up, waiting
            process.send_signal(signal.SIGTERM)
            began = time.monotonic()
            status = process.wait(timeout=30)
            # Obeyed at once, even though a botocore call was still retrying.
            assert time.monotonic() - began < 10
        finally:
            if process.poll() is None:
                process.kill()
    output = log.read_text()
    assert status == 0, output[-2000:]
    assert "Traceback" not in output, output[-2000:]
    assert "running against" not in output  # it never claimed to run

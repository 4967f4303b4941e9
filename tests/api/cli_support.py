"""Helpers of the CLI's tests against ``stepq dev``: run a command, read its JSON."""

from __future__ import annotations

import contextlib
import json
import os
import queue
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from stepq.cli import app
from stepq.hosting.dev import DevServer
from typer.testing import CliRunner


def stepq(dev: DevServer, *args: str, input: str | None = None) -> Any:
    """Run one CLI command against ``dev``; the result (exit_code, output)."""
    return CliRunner().invoke(app, [*args, "--api-url", dev.url], input=input)


def ok(dev: DevServer, *args: str) -> str:
    result = stepq(dev, *args)
    assert result.exit_code == 0, result.output
    return str(result.output)


def as_json(dev: DevServer, *args: str) -> Any:
    return json.loads(ok(dev, *args, "--output", "json"))


def token_of(dev: DevServer, execution: str) -> str:
    """The token of the latest waiting task, from its TaskScheduled event's parameters."""
    for _ in range(100):
        scheduled = [
            e["taskScheduledEventDetails"]
            for e in as_json(dev, "history", execution)
            if "taskScheduledEventDetails" in e
        ]
        if scheduled:
            return str(json.loads(scheduled[-1]["parameters"])["Payload"]["token"])
        time.sleep(0.05)
    raise AssertionError(f"{execution} never scheduled its task")


def finished(dev: DevServer, execution: str) -> tuple[str, Any]:
    for _ in range(200):
        described = as_json(dev, "describe", execution)
        if described["status"] != "RUNNING":
            return described["status"], json.loads(described.get("output") or "null")
        time.sleep(0.05)
    raise AssertionError(f"{execution} still running")


REPO = Path(__file__).resolve().parents[2]


class Run:
    """A ``stepq run`` process and the lines it has printed so far."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.process = process
        self.lines: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put(line.rstrip("\n"))

    def wait_for(self, prefix: str, timeout: float = 60) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=0.2)
            except queue.Empty:
                assert self.process.poll() is None, "\n".join(self.seen)
                continue
            self.seen.append(line)
            if line.strip().startswith(prefix):
                return line.strip()
        raise AssertionError(f"no line starting {prefix!r} in:\n" + "\n".join(self.seen))


@contextlib.contextmanager
def stepq_run(cwd: Path, *args: str) -> Iterator[Run]:
    """``stepq run ARGS`` as a process of its own in ``cwd`` (killed on the way out)."""
    env = {k: v for k, v in os.environ.items() if k != "STEPQ_API_URL"}
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(REPO / "shared"), env.get("PYTHONPATH", "")) if p
    )
    command = [sys.executable, "-c", "from stepq.cli import main; main()", "run", *args]
    process = subprocess.Popen(
        command,
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        yield Run(process)
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=30)

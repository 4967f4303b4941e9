"""Helpers of the CLI's tests against ``stepq dev``: run a command, read its JSON."""

from __future__ import annotations

import json
import time
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

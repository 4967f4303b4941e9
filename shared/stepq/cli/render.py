"""Printing an execution for people: progress lines, a history timeline, the outcome (rich)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from rich.console import Console
from rich.table import Table

_STYLE = {"SUCCEEDED": "green", "FAILED": "red", "TIMED_OUT": "yellow", "ABORTED": "yellow"}


def _brief(value: Any, limit: int = 60) -> str:
    text = json.dumps(value, separators=(",", ":"), default=str)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _detail(event: dict[str, Any]) -> str:
    details = event.get("details") or {}
    if event["type"] == "RequestAuditRecorded":  # who did what (through the API: in output)
        line = details.get("output") if isinstance(details.get("output"), dict) else details
        return " ".join(str(line[k]) for k in ("who", "what", "taskId") if line.get(k))
    detail = str(details.get("name") or details.get("error") or "")
    if "output" in details and event["type"].endswith(("Succeeded", "Exited")):
        detail = f"{detail} → {_brief(details['output'])}".strip()
    return detail


def progress_line(event: dict[str, Any]) -> str:
    return f"[dim]#{event['id']:>3}[/dim] {event['type']} {_detail(event)}"


def print_timeline(console: Console, history: list[dict[str, Any]]) -> None:
    table = Table(title="history")
    table.add_column("#", justify="right")
    table.add_column("time")
    table.add_column("event")
    table.add_column("detail")
    start = datetime.fromisoformat(history[0]["timestamp"]) if history else None
    for event in history:
        offset = (
            (datetime.fromisoformat(event["timestamp"]) - start).total_seconds() if start else 0.0
        )
        table.add_row(str(event["id"]), f"+{offset:.0f}s", event["type"], _detail(event))
    console.print(table)


def print_outcome(
    console: Console, status: str, output: Any, error: str | None, cause: str | None
) -> None:
    style = _STYLE.get(status, "white")
    console.print(f"[bold {style}]{status}[/bold {style}]")
    if status == "SUCCEEDED":
        console.print_json(json.dumps(output, default=str))
    else:
        console.print(f"error: {error}\ncause: {cause}")


def status_style(status: str) -> str:
    """The rich style an execution or state status prints in."""
    return _STYLE.get(status, "white")

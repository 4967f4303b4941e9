"""Printing an execution for people: output and a history timeline (rich)."""

from __future__ import annotations

import json
from typing import Any

from rich.console import Console
from rich.table import Table

_STYLE = {"SUCCEEDED": "green", "FAILED": "red", "TIMED_OUT": "yellow", "ABORTED": "yellow"}


def _brief(value: Any, limit: int = 60) -> str:
    text = json.dumps(value, separators=(",", ":"), default=str)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def print_result(console: Console, result: Any) -> None:
    table = Table(title="history", show_lines=False)
    table.add_column("#", justify="right")
    table.add_column("time")
    table.add_column("event")
    table.add_column("detail")
    start = result.history[0].timestamp if result.history else None
    for event in result.history:
        offset = (event.timestamp - start).total_seconds() if start else 0.0
        detail = event.details.get("name") or event.details.get("error") or ""
        if "output" in event.details and event.type.endswith(("Succeeded", "Exited")):
            detail = f"{detail} → {_brief(event.details['output'])}".strip()
        table.add_row(str(event.id), f"+{offset:.0f}s", event.type, str(detail))
    console.print(table)
    style = _STYLE.get(result.status, "white")
    console.print(f"[bold {style}]{result.status}[/bold {style}]")
    if result.status == "SUCCEEDED":
        console.print_json(json.dumps(result.output, default=str))
    else:
        console.print(f"error: {result.error}\ncause: {result.cause}")

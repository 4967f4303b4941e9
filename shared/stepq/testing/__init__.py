"""Helpers for tests and benchmarks of a stepq checkout."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from stepq.runtime.steps import load_functions

EXAMPLES = Path(__file__).resolve().parents[3] / "state_machine"


def example(name: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """An example from ``state_machine/``: its definition and its step functions."""
    definition = json.loads((EXAMPLES / f"{name}.asl.json").read_text(encoding="utf-8"))
    return definition, load_functions(str(EXAMPLES / f"{name}.py"))

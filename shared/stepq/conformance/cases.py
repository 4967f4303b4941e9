"""Reading conformance cases (format: ../shared/conformance/README.md)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from stepq.errors import ConformanceCaseError


@dataclass(frozen=True, slots=True)
class Case:
    file: str  # path relative to the directory it was found under
    path: Path
    id: str
    definition: Any
    input: Any
    functions: dict[str, str]
    expected: dict[str, Any]
    history: list[str]


def load_case(path: Path, root: Path) -> Case:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return Case(
            file=path.relative_to(root).as_posix(),
            path=path,
            id=data.get("id", path.stem),
            definition=data["definition"],
            input=data.get("input"),
            functions=dict(data.get("functions") or {}),
            expected=data["expected"],
            history=list(data.get("history") or []),
        )
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise ConformanceCaseError(f"{path}: not a conformance case ({err})") from err


def find_cases(directory: Path) -> list[Case]:
    if not directory.is_dir():
        raise ConformanceCaseError(f"{directory}: no such directory")
    return [load_case(p, directory) for p in sorted(directory.rglob("*.json"))]

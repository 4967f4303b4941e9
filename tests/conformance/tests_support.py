"""The conformance cases and the known-failures list, shared by both backends' tests."""

from __future__ import annotations

import json
from pathlib import Path

from stepq.conformance.cases import find_cases

ROOT = Path(__file__).resolve().parents[2]
CASES_DIR = ROOT.parent / "shared" / "conformance" / "cases"
KNOWN_FAILURES_FILE = Path(__file__).with_name("known_failures.json")
KNOWN_FAILURES: dict[str, str] = json.loads(KNOWN_FAILURES_FILE.read_text(encoding="utf-8"))
CASES = find_cases(CASES_DIR) if CASES_DIR.is_dir() else []

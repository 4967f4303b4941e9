"""The AWS-recorded conformance cases, against a checked-in known-failures list.

A case off the list must pass; a case on the list must still fail (so the
list can only shrink). Skipped, with a message, where ../shared is absent.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from stepq.conformance.cases import find_cases
from stepq.conformance.runner import local_runner_backend, run_case

ROOT = Path(__file__).resolve().parents[2]
CASES_DIR = ROOT.parent / "shared" / "conformance" / "cases"
KNOWN_FAILURES_FILE = Path(__file__).with_name("known_failures.json")
KNOWN_FAILURES: dict[str, str] = json.loads(KNOWN_FAILURES_FILE.read_text(encoding="utf-8"))
CASES = find_cases(CASES_DIR) if CASES_DIR.is_dir() else []

pytestmark = pytest.mark.conformance


def test_cases_present() -> None:
    if not CASES:
        pytest.skip(f"conformance cases not found at {CASES_DIR}; nothing to compare against")
    assert len(CASES) > 500


def test_known_failures_name_real_cases_with_reasons() -> None:
    if not CASES:
        pytest.skip(f"conformance cases not found at {CASES_DIR}")
    files = {case.file for case in CASES}
    for name, reason in KNOWN_FAILURES.items():
        assert name in files, f"{name} is on the known-failures list but is not a case"
        assert isinstance(reason, str) and len(reason) > 10, f"{name} needs a reason"


@pytest.mark.parametrize("case", CASES, ids=[c.file for c in CASES])
def test_case(case) -> None:
    report = run_case(case, local_runner_backend)
    if case.file in KNOWN_FAILURES:
        assert not report.passed, (
            f"{case.file} now passes: remove it from {KNOWN_FAILURES_FILE.name}"
        )
    else:
        assert report.passed, report.difference

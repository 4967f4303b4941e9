"""The same conformance cases through the durable runtime (embedded backend).

Table, queues, orchestrator, worker and scheduler threads on moto in-process:
every case must give the outcome it gives on the pure core.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from stepq.conformance.runner import EmbeddedBackend, run_case
from tests_support import CASES, CASES_DIR, KNOWN_FAILURES

pytestmark = pytest.mark.conformance


@pytest.fixture(scope="module")
def local() -> Iterator[EmbeddedBackend]:
    backend = EmbeddedBackend()
    yield backend
    backend.close()


@pytest.mark.parametrize("case", CASES, ids=[c.file for c in CASES])
def test_case_on_durable_runtime(case, local: EmbeddedBackend) -> None:
    if not CASES:
        pytest.skip(f"conformance cases not found at {CASES_DIR}")
    report = run_case(case, local)
    if case.file in KNOWN_FAILURES:
        assert not report.passed, f"{case.file} now passes: remove it from the known-failures list"
    else:
        assert report.passed, report.difference

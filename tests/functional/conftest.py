"""Fixtures for the runtime on the embedded backend (moto in-process)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from stepq.hosting.embedded import EmbeddedRuntime


@pytest.fixture
def embedded() -> Iterator[Any]:
    """A factory: embedded(functions, **options) -> a runtime closed after the test."""
    made: list[EmbeddedRuntime] = []

    def make(functions: dict[str, Any], **options: Any) -> EmbeddedRuntime:
        options.setdefault("skip_time", True)
        runtime = EmbeddedRuntime(functions, **options)
        made.append(runtime)
        return runtime

    yield make
    for runtime in made:
        runtime.close()

"""Every module that registers operations, imported once by the handler."""

from __future__ import annotations

# Each import registers that family's operations in ``registry.OPERATIONS``.
from stepq.api import (  # noqa: F401
    activities,
    callbacks,
    execution_counts,
    executions,
    graphs,
    groups,
    history,
    machines,
    map_runs,
    ops,
    people,
    ping,
    redrive,
    tags,
    test_state,
    versions,
)

"""Patches that take the wall clock and the OS's randomness out of the runtime.

The runtime reads ``stepq.clock.monotonic`` (the applier's inline budget and
race timing, the machine cache, the pump's and streaks' backoff) and mints
each execution's token secret with ``secrets.token_urlsafe``. Under the
simulation both come from the virtual clock and the seed, so one seed is one
run. (The token secret is being replaced by a key derived from a table-held
signing key; until then the simulation patches it here.)
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from contextlib import contextmanager
from types import SimpleNamespace
from typing import Any

from stepq.clock import ManualClock
from stepq.hosting import pump
from stepq.runtime import backoff
from stepq.runtime.applier import apply, machines

# Modules that imported ``monotonic`` by name from stepq.clock.
_MONOTONIC_USERS: tuple[Any, ...] = (apply, machines, pump, backoff)


@contextmanager
def deterministic(clock: ManualClock, rng: random.Random) -> Iterator[None]:
    origin = clock.now()

    def virtual_monotonic() -> float:
        return (clock.now() - origin).total_seconds()

    def token_urlsafe(nbytes: int = 16) -> str:
        return rng.getrandbits(8 * nbytes).to_bytes(nbytes, "big").hex()

    # Tolerant of the runtime moving on: a module that no longer has the name is skipped.
    patches = [(m, "monotonic", virtual_monotonic) for m in _MONOTONIC_USERS]
    patches.append((apply, "secrets", SimpleNamespace(token_urlsafe=token_urlsafe)))
    saved = [(m, name, getattr(m, name)) for m, name, _ in patches if hasattr(m, name)]
    try:
        for module, name, value in patches:
            if hasattr(module, name):
                setattr(module, name, value)
        yield
    finally:
        for module, name, original in saved:
            setattr(module, name, original)

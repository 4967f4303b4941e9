"""What the deploy-tool tests share: where the repository and its tool caches are,
and how a missing tool is reported (a skip naming the install script; under
``CI=true`` a failure, since CI installs every tool these tests need)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import NoReturn

import pytest

REPO = Path(__file__).resolve().parents[2]
CACHE = REPO / ".cache"


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() == "true"


def missing(what: str, install: str) -> NoReturn:
    """Skip (fail under CI=true) a test whose tool is not installed."""
    reason = f"{what} (install it with {install})"
    if in_ci():
        pytest.fail(f"{reason}; CI=true: a missing tool fails", pytrace=False)
    pytest.skip(reason)

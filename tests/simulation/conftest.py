"""``pytest tests/simulation --seed N`` runs one seed of the simulation and reports what broke."""

from __future__ import annotations

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--seed",
        type=int,
        default=None,
        help="simulation: run this one seed (reproduces a failure scripts/simulate.py reported)",
    )

"""An alias's weighted routing (``catalog.resolve``), on the memory store with a seeded rng."""

from __future__ import annotations

import random
from collections import Counter
from typing import Any

import pytest
from stepq.api import catalog
from stepq.api.arns import Arns
from stepq.api.catalog import AliasDoc, MachineDoc, VersionDoc
from stepq.api.context import ApiContext
from stepq.backends.memory.store import MemoryStore
from stepq.clock import SystemClock

ARNS = Arns("us-east-1", "111111111111")
NOW = "2026-01-01T00:00:00+00:00"


def _context(weights: list[int]) -> tuple[ApiContext, str]:
    store = MemoryStore()
    # Only the store and the ARNs take part in resolving; the roles are not needed.
    none: Any = None
    ctx = ApiContext(store, none, SystemClock(), none, none, ARNS)
    store.put_doc("machine", "m", MachineDoc(creationDate=NOW, revision=3).model_dump(), None)
    routes = []
    for number, weight in enumerate(weights, start=1):
        store.put_doc(
            "version",
            f"m:{number}",
            VersionDoc(revision=number, creationDate=NOW).model_dump(),
            None,
        )
        routes.append({"stateMachineVersionArn": ARNS.machine("m", number), "weight": weight})
    alias = AliasDoc(routingConfiguration=routes, creationDate=NOW)
    store.put_doc("alias", "m:live", alias.model_dump(), None)
    return ctx, ARNS.machine("m", "live")


@pytest.mark.parametrize("weights", [[70, 30], [50, 50], [1, 99], [100]])
def test_picks_follow_the_weights(weights: list[int]) -> None:
    ctx, alias = _context(weights)
    rng = random.Random(1234)
    runs = 4000
    picks = Counter(catalog.resolve(ctx, alias, rng).revision for _ in range(runs))
    for number, weight in enumerate(weights, start=1):
        assert abs(picks[number] / runs - weight / 100) < 0.03
    target = catalog.resolve(ctx, alias, rng)
    assert target.alias_arn == alias and target.version_arn == ARNS.machine("m", target.revision)


@pytest.mark.parametrize("weights", [[0, 100], [100, 0]])
def test_a_zero_weight_is_never_picked(weights: list[int]) -> None:
    ctx, alias = _context(weights)
    rng = random.Random(5)
    chosen = {catalog.resolve(ctx, alias, rng).revision for _ in range(1000)}
    assert chosen == {weights.index(100) + 1}


def test_the_same_seed_picks_the_same_versions() -> None:
    ctx, alias = _context([50, 50])
    first, again = random.Random(9), random.Random(9)
    picks = [catalog.resolve(ctx, alias, first).revision for _ in range(50)]
    assert picks == [catalog.resolve(ctx, alias, again).revision for _ in range(50)]
    assert set(picks) == {1, 2}


def test_latest_and_versions_resolve_to_their_revisions() -> None:
    ctx, _ = _context([100, 0])
    assert catalog.resolve(ctx, ARNS.machine("m")).revision == 3
    target = catalog.resolve(ctx, ARNS.machine("m", 2))
    assert (target.revision, target.version_arn, target.alias_arn) == (
        2,
        ARNS.machine("m", 2),
        None,
    )

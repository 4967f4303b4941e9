"""api/listing.scan: pages over several machines' executions never repeat or skip a row,
even when two machines each have an execution of the same name started at the same instant."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from stepq.api import listing
from stepq.backends.memory.store import MemoryStore
from stepq.runtime.ports import Commit, ExecutionHeader


def _start(store: MemoryStore, machine: str, name: str, second: int) -> None:
    header = ExecutionHeader(
        execution_id=f"arn:aws:states:us-east-1:111111111111:execution:{machine}:{name}",
        machine=machine,
        machine_version=1,
        name=name,
        status="RUNNING",
        start_time=f"2026-01-01T00:00:{second:02d}+00:00",
        input={},
    )
    first = Commit(seq=1, snapshot={}, events=[], commands=[], cause_id="c", at=header.start_time)
    store.create_execution(header, first)


@pytest.fixture
def ctx() -> Any:
    store = MemoryStore()
    for machine in ("a", "b", "c"):
        _start(store, machine, "same", 5)  # a three-way tie
        _start(store, machine, f"{machine}-early", 1)
        _start(store, machine, f"{machine}-late", 9)
    return SimpleNamespace(store=store)


def _walk(ctx: Any, size: int, **kw: Any) -> list[list[tuple[str, str]]]:
    pages: list[list[tuple[str, str]]] = []
    position = None
    while True:
        rows, position = listing.scan(
            ctx, ["a", "b", "c"], status=None, limit=size, position=position, **kw
        )
        pages.append([(h.machine, h.name) for h in rows])
        if position is None:
            return pages
        position = listing.Position.load(position.dump())  # through a token and back


@pytest.mark.parametrize("size", [1, 2, 3, 4, 9, 10])
def test_pages_cover_every_row_once_in_order(ctx: Any, size: int) -> None:
    whole = [row for page in _walk(ctx, 100) for row in page]
    assert whole == [
        ("c", "c-late"),
        ("b", "b-late"),
        ("a", "a-late"),
        ("c", "same"),
        ("b", "same"),
        ("a", "same"),
        ("c", "c-early"),
        ("b", "b-early"),
        ("a", "a-early"),
    ]
    pages = _walk(ctx, size)
    assert [row for page in pages for row in page] == whole
    assert all(len(page) == size for page in pages[:-1]) and pages[-1]
    assert len(pages) == -(-len(whole) // size)  # no empty last page


def test_filters_and_time_bounds(ctx: Any) -> None:
    pages = _walk(ctx, 2, keep=lambda h: h.name == "same")
    assert pages == [[("c", "same"), ("b", "same")], [("a", "same")]]
    bounded = _walk(ctx, 100, upper="2026-01-01T00:00:09", lower="2026-01-01T00:00:05")
    assert [name for page in bounded for _, name in page] == ["same", "same", "same"]

"""Catalog documents a start resolves through, kept a second: most starts read nothing.

StartExecution reads the machine's document (and a version's or alias's) on
every call; at hundreds of starts a second that is most of a start's cost.
Step Functions itself is eventually consistent here (a start right after
UpdateStateMachine may run the old definition), and so is stepq: another
process's change is seen within ``ttl``. This process's own writes forget the
machine's entries at once (``forget``), so create/update/alias-then-start in
one process is read-your-writes. Only found documents are kept: a machine
created a moment ago elsewhere is never reported missing from a stale entry.
Started-through records (document ``started``) never change once their
execution exists, so ``started`` keeps them (found or not) without a deadline.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from stepq.clock import monotonic
from stepq.runtime.ports import Doc, Store

__all__ = ["CatalogCache"]

_MAX_ENTRIES = 4096  # past this the cache starts over (cheap, and bounds memory)
_ABSENT = object()


@dataclass(slots=True)
class CatalogCache:
    ttl: float = 1.0
    _docs: dict[tuple[str, str], tuple[float, Doc]] = field(default_factory=dict)
    _started: dict[str, object] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def get(self, store: Store, kind: str, key: str) -> Doc | None:
        """``store.get_doc(kind, key)``, or what it returned less than ``ttl`` ago."""
        now = monotonic()
        with self._lock:
            hit = self._docs.get((kind, key))
        if hit is not None and now - hit[0] < self.ttl:
            return hit[1]
        doc = store.get_doc(kind, key)
        if doc is not None:
            with self._lock:
                if len(self._docs) >= _MAX_ENTRIES:
                    self._docs.clear()
                self._docs[(kind, key)] = (now, doc)
        return doc

    def started(self, store: Store, execution_arn: str) -> Doc | None:
        """The ``started`` document of an execution that exists (it can no longer change)."""
        with self._lock:
            hit = self._started.get(execution_arn)
        if hit is not None:
            return None if hit is _ABSENT else hit  # type: ignore[return-value]
        doc = store.get_doc("started", execution_arn)
        with self._lock:
            if len(self._started) >= _MAX_ENTRIES:
                self._started.clear()
            self._started[execution_arn] = _ABSENT if doc is None else doc
        return doc

    def note_started(self, execution_arn: str, doc: Doc | None) -> None:
        """What ``started`` would read for an execution this process just created."""
        with self._lock:
            if len(self._started) >= _MAX_ENTRIES:
                self._started.clear()
            self._started[execution_arn] = _ABSENT if doc is None else doc

    def forget(self, machine: str) -> None:
        """Drop the machine's entries (its document, versions and aliases): it changed here."""
        with self._lock:
            for kind, key in list(self._docs):
                if key == machine or key.startswith(machine + ":"):
                    del self._docs[(kind, key)]

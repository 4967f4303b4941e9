"""The snapshot each commit writes: the same size whatever the input or a Map's width.

A snapshot is rewritten by every commit, so whatever it holds is paid for
at every transition. Two kinds of value would make it grow, and neither is
copied into it:

- **Large values are stored once and referred to.** A value of more than
  ``INLINE_LIMIT`` bytes of JSON in one of the places that hold data (the
  execution input, a frame's input, scratch values and variables, a Map's
  items and the data its items were read from) is written once, in the
  ``values`` of the commit whose snapshot first holds it, under a digest of
  its JSON; snapshots then list it in ``stored`` as ``[path, seq, key]``
  and hold ``null`` in its place. Loading reads it back from commit ``seq``
  (one GetItem per commit named, none on a hit of this process's cache:
  values are content-addressed, so a cached one is never stale). The
  execution input goes into the first commit, where the store keeps it once
  with the header.
- **A parent's child outputs are held, not accumulated.** Once a Parallel's
  or Map's ``results`` list is larger than ``INLINE_LIMIT``, the list as it
  is then is stored like any large value (``base``; nothing when it is
  still empty), each later commit writes the outputs it decided in its own
  ``values`` (``results/<frame>``), and the snapshot keeps a constant-size
  note in ``held``: ``{"since", "count", "size", "base"}``. The core gets a
  ``HeldResults``; when its last child is done it raises ``ResultsNeeded``,
  and the applier gathers the outputs of commits ``since+1``..(the loaded
  one) with ``Store.commit_range`` and decides the same events again.

Crash safety: a value is written in the same conditional write as the
first snapshot that names it, and a held output in the commit that decided
it, so every reference points into a commit that exists; a commit that
lost its race leaves nothing behind. Small values stay inline, so a small
execution's snapshot is what it always was and loading it reads nothing.
The core treats values as immutable (JSONPath writes copy along the path),
so a value read back is shared by every place that names it.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import json
import threading
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from stepq.core.execution import ExecutionState, HeldResults
from stepq.errors import NotFoundError, StoreError
from stepq.runtime import codec
from stepq.runtime.ports import Commit, Store

INLINE_LIMIT = 512  # bytes of JSON; a larger value is stored once and referred to
CACHE_BYTES = 16 * 1024 * 1024  # values read back, kept per process
RESULTS = "results/"  # values key prefix of a commit's held outputs, + frame id

Path = list[str]
Gathered = dict[tuple[str, int, int, int], list[Any]]  # (frame, since, count, last) -> outputs


class ValueCache:
    """Values read back, by (execution, digest), as JSON text; least recently used go first."""

    def __init__(self, max_bytes: int = CACHE_BYTES) -> None:
        self._max = max_bytes
        self._texts: OrderedDict[tuple[str, str], str] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def get(self, execution_id: str, key: str) -> str | None:
        with self._lock:
            text = self._texts.get((execution_id, key))
            if text is not None:
                self._texts.move_to_end((execution_id, key))
            return text

    def put(self, execution_id: str, key: str, text: str) -> None:
        if len(text) > self._max:
            return
        with self._lock:
            if (execution_id, key) in self._texts:
                self._texts.move_to_end((execution_id, key))
                return
            self._texts[(execution_id, key)] = text
            self._bytes += len(text)
            while self._bytes > self._max:
                _, dropped = self._texts.popitem(last=False)
                self._bytes -= len(dropped)


SHARED_CACHE = ValueCache()  # one per process: every applier in it reads the same table


@dataclass(slots=True)
class Loaded:
    """What loading a snapshot learnt that saving the next one needs."""

    seq: int = 0  # the commit the state was loaded from (0: a new execution)
    known: dict[str, int] = field(default_factory=dict)  # value key -> commit holding it


def _text(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _large(value: Any) -> str | None:
    """The JSON text of ``value`` if it is over ``INLINE_LIMIT`` bytes, else None (cheaply)."""
    if value is None or isinstance(value, bool | int | float):
        return None
    if isinstance(value, str) and len(value) * 6 + 2 <= INLINE_LIMIT:  # \u escapes: 6 bytes
        return None
    # json.dumps' default form is never shorter than the compact UTF-8 one, and
    # it is the fastest to get: most values are small, and stop here.
    if len(json.dumps(value)) <= INLINE_LIMIT:
        return None
    text = _text(value)
    return text if len(text.encode()) > INLINE_LIMIT else None


def digest(text: str) -> str:
    """A value's key: 128 bits of BLAKE2b over its JSON, URL-safe base64 (22 characters)."""
    raw = hashlib.blake2b(text.encode(), digest_size=16).digest()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _parent(data: dict[str, Any], path: Path) -> dict[str, Any] | None:
    node: Any = data
    for name in path[:-1]:
        node = node.get(name) if isinstance(node, dict) else None
    return node if isinstance(node, dict) and path[-1] in node else None


class Snapshots:
    """Saves states as small snapshots plus values, and loads them back (reading the values)."""

    def __init__(self, store: Store, cache: ValueCache | None = None) -> None:
        self.store = store
        self.cache = cache or SHARED_CACHE

    # --- saving ------------------------------------------------------------------

    def save(
        self, execution_id: str, seq: int, state: ExecutionState, loaded: Loaded
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """(snapshot parts: ``state`` and, when any, ``stored`` and ``held``; commit values)."""
        data = codec.encode_state(state)
        saving = _Saving(execution_id, seq, dict(loaded.known), self.cache)
        # Where data lives: encode_state gives fresh dicts for meta and frames, but
        # shares their scratch, variables and children with the state (copied on write).
        saving.place(data["meta"], "input", ["meta", "input"])
        held: dict[str, Any] = {}
        # The running frames, and those an unsuccessful end kept for a redrive.
        for where, fid, frame in _frames(data):
            saving.place(frame, "input", [where, fid, "input"])
            saving.place(frame, "item", [where, fid, "item"])
            for name in ("scratch", "variables"):
                if frame[name]:
                    frame[name] = saving.place_all(frame[name], [where, fid, name])
            if frame["children"]:  # a Map or Parallel: few of them
                children = frame["children"] = dict(frame["children"])
                saving.place(children, "items", [where, fid, "children", "items"])
                saving.place(children, "data", [where, fid, "children", "data"])
                note = saving.hold(fid, children) if "results" in children else None
                if note is not None:
                    held[fid] = note
        parts: dict[str, Any] = {"state": data}
        if saving.stored:
            parts["stored"] = saving.stored
        if held:
            parts["held"] = held
        return parts, saving.values

    # --- loading -----------------------------------------------------------------

    def load(
        self, execution_id: str, commit: Commit, gathered: Gathered | None = None
    ) -> tuple[ExecutionState, Loaded]:
        """The state ``commit``'s snapshot holds, every stored value read back."""
        snapshot = commit.snapshot
        stored, held = _references(execution_id, commit)
        loaded = Loaded(commit.seq)
        if not stored and not held:
            return codec.decode_state(snapshot["state"]), loaded
        # Held outputs may make the applier decide again on this same snapshot:
        # leave it as it was (decoding shares its dicts with the state).
        data = copy.deepcopy(snapshot["state"]) if held else snapshot["state"]
        values = self._values(execution_id, [(seq, key) for _, seq, key in stored])
        for path, seq, key in stored:
            parent = _parent(data, path)
            if parent is None:
                raise StoreError(f"{execution_id}: commit {commit.seq} stores a value at {path}")
            parent[path[-1]] = values[key]
            loaded.known[key] = seq
        state = codec.decode_state(data)
        for fid, note in held.items():
            frame = state.frames.get(fid) or state.halted.get(fid)
            if frame is None or frame.children is None:
                raise StoreError(f"{execution_id}: commit {commit.seq} holds outputs of {fid}")
            results = HeldResults(fid, note["size"], {**note, "last": commit.seq})
            results.earlier = (gathered or {}).get(_gathered_key(results))
            frame.children["results"] = results
            if note.get("base"):
                loaded.known[note["base"][1]] = note["base"][0]
        return state, loaded

    def _values(self, execution_id: str, refs: list[tuple[int, str]]) -> dict[str, Any]:
        """The values named, parsed once each: from the cache, else from their commits."""
        out: dict[str, Any] = {}
        missing: dict[int, set[str]] = {}
        for seq, key in refs:
            if key in out:
                continue
            text = self.cache.get(execution_id, key)
            if text is None:
                missing.setdefault(seq, set()).add(key)
            else:
                out[key] = json.loads(text)
        for seq, keys in missing.items():
            try:
                commit = self.store.commit(execution_id, seq)
            except NotFoundError as exc:
                raise StoreError(f"{execution_id}: a stored value's commit {seq} is gone") from exc
            for key in keys:
                if key not in commit.values:
                    raise StoreError(f"{execution_id}: commit {seq} does not hold value {key}")
                out[key] = commit.values[key]
                self.cache.put(execution_id, key, _text(out[key]))
        return out

    # --- held outputs ------------------------------------------------------------------

    def gather(self, execution_id: str, held: HeldResults, gathered: Gathered) -> None:
        """Read back every output ``held`` stands for into ``gathered`` (for ``load``)."""
        if _gathered_key(held) in gathered:  # filled in, yet asked again: a bug, not a loop
            raise StoreError(f"{execution_id}: the outputs of {held.frame} were gathered already")
        where = held.where
        since, count, last = where["since"], where["count"], where["last"]
        base = where.get("base")
        if base:
            results = list(self._values(execution_id, [(base[0], base[1])])[base[1]])
        else:
            results = [None] * held.size
        name = RESULTS + held.frame
        found = 0
        for commit in self.store.commit_range(execution_id, since + 1, last):
            for slot, output in (commit.values.get(name) or {}).items():
                if not (slot.isdigit() and int(slot) < len(results)):
                    raise StoreError(f"{execution_id}: commit {commit.seq} holds slot {slot!r}")
                results[int(slot)] = output
                found += 1
        if found != count or len(results) != held.size:
            raise StoreError(
                f"{execution_id}: commits {since + 1}..{last} hold {found} outputs of "
                f"{held.frame}'s children, its snapshot counts {count}"
            )
        gathered[_gathered_key(held)] = results


def _frames(data: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for where in ("frames", "halted"):
        for fid, frame in (data.get(where) or {}).items():
            yield where, fid, frame


def _references(
    execution_id: str, commit: Commit
) -> tuple[list[tuple[Path, int, str]], dict[str, dict[str, Any]]]:
    """A snapshot's ``stored`` and ``held``, checked by type (a carried one came by queue)."""
    stored = commit.snapshot.get("stored") or []
    held = commit.snapshot.get("held") or {}

    def ref(value: Any) -> bool:
        return isinstance(value, list) and len(value) == 2 and _int(value[0]) and _key(value[1])

    good = isinstance(stored, list) and isinstance(held, dict)
    good = good and all(
        isinstance(e, list)
        and len(e) == 3
        and isinstance(e[0], list)
        and e[0]
        and all(isinstance(p, str) for p in e[0])
        and ref(e[1:])
        for e in stored
    )
    good = good and all(
        isinstance(note, dict)
        and all(_int(note.get(k)) for k in ("since", "count", "size"))
        and (note.get("base") is None or ref(note["base"]))
        for note in held.values()
    )
    if not good:
        raise StoreError(f"{execution_id}: commit {commit.seq}'s snapshot has malformed references")
    return [(e[0], e[1], e[2]) for e in stored], held


def _int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _key(value: Any) -> bool:
    return isinstance(value, str) and 0 < len(value) <= 64


def _gathered_key(held: HeldResults) -> tuple[str, int, int, int]:
    w = held.where
    return held.frame, w["since"], w["count"], w["last"]


@dataclass(slots=True)
class _Saving:
    """One snapshot being saved: the values it writes and the references it keeps."""

    execution_id: str
    seq: int
    known: dict[str, int]
    cache: ValueCache
    values: dict[str, Any] = field(default_factory=dict)
    stored: list[list[Any]] = field(default_factory=list)
    _seen: dict[int, str | None] = field(default_factory=dict)  # id(value) -> key, this save

    def key_of(self, value: Any) -> str | None:
        """The key ``value`` is stored under (storing it with this commit if new); None: inline."""
        if id(value) in self._seen:
            return self._seen[id(value)]
        text = _large(value)
        key = None if text is None else digest(text)
        if text is not None and key is not None and key not in self.known:
            self.values[key] = value
            self.known[key] = self.seq
            self.cache.put(self.execution_id, key, text)  # content-addressed: safe before commit
        self._seen[id(value)] = key
        return key

    def place(self, container: dict[str, Any], name: str, path: Path) -> bool:
        """Store ``container[name]`` if large (it becomes ``None``, ``path`` noted); stored?"""
        value = container.get(name)
        if value is None or isinstance(value, bool | int | float):
            return False
        key = self.key_of(value)
        if key is None:
            return False
        self.stored.append([path, self.known[key], key])
        container[name] = None
        return True

    def place_all(self, container: dict[str, Any], path: Path) -> dict[str, Any]:
        """``place`` for every entry, in a copy of ``container`` made only if one is large."""
        out = container
        for name, value in container.items():
            if value is None or isinstance(value, bool | int | float):
                continue
            key = self.key_of(value)
            if key is None:
                continue
            if out is container:
                out = dict(container)
            self.stored.append([[*path, name], self.known[key], key])
            out[name] = None
        return out

    def hold(self, fid: str, children: dict[str, Any]) -> dict[str, Any] | None:
        """The note for a parent's outputs; None while a small list stays inline."""
        results = children["results"]
        if isinstance(results, HeldResults):
            where = results.where
            count = int(where["count"])
            if results.new:
                self.values[RESULTS + fid] = {str(k): v for k, v in results.new.items()}
                count += len(results.new)
            note = {"since": where["since"], "count": count, "size": results.size}
            note["base"] = where.get("base")
        else:
            if _large(results) is None:
                return None
            base = None
            if any(r is not None for r in results):
                key = self.key_of(results)
                base = None if key is None else [self.known[key], key]
            note = {"since": self.seq, "count": 0, "size": len(results), "base": base}
        children["results"] = None
        return note

"""The state machines the applier decides with, cached: versions never change."""

from __future__ import annotations

from stepq.clock import monotonic
from stepq.core.definition import load_definition
from stepq.core.machine import Machine
from stepq.errors import DefinitionError, MalformedMessageError, NotFoundError
from stepq.runtime.ports import Store

NEWEST_SECONDS = 1.0  # how long a start may keep using the newest version it last read


class Machines:
    def __init__(self, store: Store) -> None:
        self.store = store
        self._machines: dict[tuple[str, int], Machine] = {}
        self._newest: dict[str, tuple[int, float]] = {}  # name -> (version, until)

    def forget(self, name: str) -> None:
        """A new version of ``name`` was deployed here: starts use it from now on."""
        self._newest.pop(name, None)

    def get(self, name: str, version: int | None) -> tuple[Machine, int]:
        """The machine ``name`` at ``version`` (None: the newest), and that version."""
        if version is None:
            # Like StartExecution right after UpdateStateMachine, a start may use the
            # previous newest version for NEWEST_SECONDS; that saves a read per start.
            cached = self._newest.get(name)
            if cached is not None and monotonic() < cached[1]:
                version = cached[0]
        if version is not None and (name, version) in self._machines:
            return self._machines[(name, version)], version  # versions never change: no read
        asked = version
        try:
            definition, resolved = self.store.get_machine(name, version)
        except NotFoundError:
            raise MalformedMessageError(f"no state machine named {name!r}") from None
        key = (name, resolved)
        if key not in self._machines:
            try:
                model = load_definition(definition)
            except DefinitionError as exc:
                raise MalformedMessageError(
                    f"state machine {name} v{resolved} is invalid: {exc}"
                ) from None
            self._machines[key] = Machine(model.raw, name=name)
        if asked is None:
            self._newest[name] = (resolved, monotonic() + NEWEST_SECONDS)
        return self._machines[key], resolved

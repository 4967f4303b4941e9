"""The pieces a simulated process is made of: a restartable role, the callback
client its steps get, and the watcher that notices writers giving up."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from stepq.errors import ConflictError
from stepq.hosting.pump import Pump
from stepq.testing.simulation.faults import Crash


class Verifier:
    """The callback client steps get: answers wait for the client actor to send them."""

    def __init__(self, pending: list[tuple[str, str, Any]]) -> None:
        self.pending = pending

    def send_task_success(self, token: str, output: Any) -> None:
        self.pending.append(("success", token, output))

    def send_task_failure(
        self, token: str, error: str | None = None, cause: str | None = None
    ) -> None:
        self.pending.append(("failure", token, (error, cause)))


class GiveUps(logging.Handler):
    """Collects the applier's "gave up on ... after losing N commit races" failures."""

    def __init__(self, sink: list[str]) -> None:
        super().__init__(logging.ERROR)
        self.sink = sink

    def emit(self, record: logging.LogRecord) -> None:
        error = record.exc_info[1] if record.exc_info else None
        if isinstance(error, ConflictError) and "gave up" in str(error):
            self.sink.append(str(error))


class Role:
    """One process of a role: rebuilt from scratch after it crashes."""

    def __init__(self, build: Callable[[], Pump]) -> None:
        self.build = build
        self.pump = build()
        self.crashes = 0

    def poll(self, names: list[str] | None = None) -> int:
        """One receive from each of ``names`` (default: all its queues), handled."""
        every = self.pump.queue_names
        try:
            if names is not None:  # the simulator picks which queues this poll visits
                self.pump.queue_names = names
            return self.pump.poll_once(survive=True)
        except Crash:
            self.crashes += 1
            self.pump = self.build()
            return 1  # it did something: it died
        finally:
            self.pump.queue_names = every

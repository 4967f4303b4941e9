"""Long-running loops that feed queue messages to a handler.

The same handlers run in Lambda (``functions/*/app.py``) and here, in
threads or processes against any SQS-compatible endpoint. A message whose
body can never be processed goes to the dead-letter queue with its reason; a
handler that fails otherwise leaves the message for redelivery.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from stepq.clock import monotonic
from stepq.hosting.doorbell import Doorbell
from stepq.runtime.batch import BatchResult
from stepq.runtime.ports import Queues, Received

log = logging.getLogger("stepq.pump")

BatchHandler = Callable[[list[Received]], BatchResult]


@dataclass(slots=True)
class PumpStats:
    handled: int = 0
    failed: int = 0
    dead_lettered: int = 0
    empty_polls: int = 0


@dataclass(slots=True)
class Pump:
    queues: Queues
    queue_names: list[str]
    handler: BatchHandler
    wait_seconds: int = 0
    batch: int = 10
    # Told what was dead-lettered (stepq.runtime.poison fails those executions).
    on_dead: Callable[[str, list[tuple[Received, str]]], None] | None = None
    stats: PumpStats = field(default_factory=PumpStats)
    busy: bool = False
    # In one process (embedded): senders ring the doorbell, and ``run`` polls a
    # queue that came up empty again only when rung or after a pause doubling
    # up to ``idle_max`` seconds (delayed and redelivered messages ring nothing).
    doorbell: Doorbell | None = None
    idle_max: float = 0.25
    _quiet_until: dict[str, float] = field(default_factory=dict)
    _pause: dict[str, float] = field(default_factory=dict)

    def poll_once(self, *, skip_quiet: bool = False) -> int:
        """Receive one batch from each queue and handle it; returns messages seen.

        ``skip_quiet``: leave out queues still pausing after an empty receive
        and not rung since (only with a doorbell).
        """
        seen = 0
        now = monotonic()
        for name in self.queue_names:
            if skip_quiet and self.doorbell is not None:
                rung = self.doorbell.answer(name)
                if not rung and now < self._quiet_until.get(name, 0.0):
                    continue
            received = self.queues.receive(name, self.batch, self.wait_seconds)
            if not received:
                pause = min(self.idle_max, 2 * self._pause.get(name, 0.0025))
                self._pause[name] = pause
                self._quiet_until[name] = now + pause
                continue
            self._pause.pop(name, None)
            self._quiet_until.pop(name, None)
            self.busy = True
            seen += len(received)
            try:
                result = self.handler(received)
            except Exception:  # the whole batch is left for redelivery
                log.exception("batch handler failed", extra={"queue": name})
                result = BatchResult(failed=list(received))
            for message, reason in result.dead:
                self.queues.dead_letter(name, message, reason)
            if result.dead and self.on_dead is not None:
                try:
                    self.on_dead(name, result.dead)
                except Exception:  # the sweeper finds them later
                    log.exception("failing the owners of dead messages failed")
            done = [m.receipt for m in result.handled(received)]
            self.stats.handled += len(done)
            self.stats.dead_lettered += len(result.dead)
            self.stats.failed += len(result.failed)
            if done:
                self.queues.delete(name, done)
            self.busy = False
        if not seen:
            self.stats.empty_polls += 1
        return seen

    def run(self, stop: threading.Event, idle_sleep: float = 0.01) -> None:
        while not stop.is_set():
            if self.poll_once(skip_quiet=True):
                continue
            if self.doorbell is None:
                stop.wait(idle_sleep)
                continue
            wake = min(self._quiet_until.values(), default=monotonic() + idle_sleep)
            self.doorbell.wait(self.queue_names, max(0.0, wake - monotonic()))

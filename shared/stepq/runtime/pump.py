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

    def poll_once(self) -> int:
        """Receive one batch from each queue and handle it; returns messages seen."""
        seen = 0
        for name in self.queue_names:
            received = self.queues.receive(name, self.batch, self.wait_seconds)
            if not received:
                continue
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
            if not self.poll_once():
                stop.wait(idle_sleep)

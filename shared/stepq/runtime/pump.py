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
from typing import Any

from stepq.runtime.messages import MalformedMessageError
from stepq.runtime.ports import Queues

log = logging.getLogger("stepq.pump")

Handler = Callable[[Any], None]


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
    handler: Handler
    wait_seconds: int = 0
    batch: int = 10
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
            done: list[str] = []
            for message in received:
                try:
                    if message.body is None:
                        raise MalformedMessageError("the message body is not a JSON object")
                    self.handler(message.body)
                    done.append(message.receipt)
                    self.stats.handled += 1
                except MalformedMessageError as exc:
                    self.queues.dead_letter(name, message, str(exc))
                    self.stats.dead_lettered += 1
                except Exception:  # left for redelivery; SQS dead-letters it after N receives
                    log.exception(
                        "handler failed; message left for redelivery", extra={"queue": name}
                    )
                    self.stats.failed += 1
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

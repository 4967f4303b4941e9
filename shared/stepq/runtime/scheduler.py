"""The scheduler: fires durable timers that are due, exactly once.

Waits, retry delays and task timeouts up to 15 minutes travel as delayed SQS
messages; longer ones wait in the store's timers index until a tick finds
them due. ``claim_timer`` is a conditional delete, so two schedulers (or a
scheduler restarted mid-tick) fire each timer once. A scheduler that was down
for an hour fires everything that fell due, late but once.
"""

from __future__ import annotations

from datetime import datetime

from stepq.clock import Clock
from stepq.runtime import codec
from stepq.runtime.messages import EVENTS_QUEUE
from stepq.runtime.ports import Message, Queues, Store
from stepq.runtime.signing import signed


class Scheduler:
    def __init__(self, store: Store, queues: Queues, clock: Clock) -> None:
        self.store = store
        self.queues = signed(queues, store)  # a timer's event is signed as it is sent
        self.clock = clock

    def tick(self, limit: int = 100) -> int:
        """Fire what is due; returns how many timers fired."""
        fired = 0
        for timer in self.store.due_timers(codec.instant(self.clock.now()) or "", limit):
            # Send first, then claim: a crash in between re-sends next tick and
            # the orchestrator drops the duplicate by its id.
            self.queues.send(EVENTS_QUEUE, [Message(id=timer.timer_id, body=timer.event)])
            if self.store.claim_timer(timer):
                fired += 1
        return fired

    def next_due(self) -> datetime | None:
        """The earliest pending timer (for an embedded run that skips time)."""
        far = "9999-12-31T23:59:59+00:00"
        timers = self.store.due_timers(far, 1)
        return codec.parse_instant(timers[0].due) if timers else None

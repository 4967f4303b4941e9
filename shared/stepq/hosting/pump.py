"""Long-running loops that feed queue messages to a handler.

The same handlers run in Lambda (``functions/*/app.py``) and here, in
threads or processes against any SQS-compatible endpoint. A message whose
body can never be processed goes to the dead-letter queue with its reason; a
handler that fails otherwise leaves the message for redelivery. Outages
delay the work and never end a loop: a queue whose calls fail is polled
again after a capped exponential backoff with jitter, and the loop logs one
line when a failure streak starts and one when it ends.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from stepq.clock import monotonic
from stepq.hosting.doorbell import Doorbell
from stepq.runtime.backoff import Backoff, Streak, outage_backoff
from stepq.runtime.batch import BatchResult
from stepq.runtime.ports import Queues, Received

log = logging.getLogger(__name__)

BatchHandler = Callable[[list[Received]], BatchResult]
DELETE_TRIES = 5  # a failed delete of handled messages is tried again this often


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
    # Failures (``run``): a queue whose receive, delete or batch failed is polled
    # again after a full-jitter backoff, one log line per failure streak.
    backoff: Backoff = field(default_factory=outage_backoff)
    _quiet_until: dict[str, float] = field(default_factory=dict)
    _pause: dict[str, float] = field(default_factory=dict)
    _retry_at: dict[str, float] = field(default_factory=dict)
    _streaks: dict[str, Streak] = field(default_factory=dict)
    _undeleted: dict[str, list[str]] = field(default_factory=dict)
    _delete_tries: dict[str, int] = field(default_factory=dict)

    def poll_once(self, *, skip_quiet: bool = False, survive: bool = False) -> int:
        """Receive one batch from each queue and handle it; returns messages seen.

        ``skip_quiet``: leave out queues still pausing after an empty receive
        and not rung since (only with a doorbell). ``survive`` (``run``): a
        queue whose calls fail, or whose whole batch failed, is left alone
        for a backoff (one log line per failure streak) instead of raising.
        """
        seen = 0
        now = monotonic()
        for name in self.queue_names:
            if not self._due(name, now, skip_quiet):
                continue
            try:
                count, trouble = self._poll(name, now)
            except Exception as exc:
                if not survive:
                    raise
                count, trouble = 0, exc
            seen += count
            if trouble is None:
                self._recovered(name)
            elif survive:
                self._failing(name, trouble)
        if not seen:
            self.stats.empty_polls += 1
        return seen

    def run(self, stop: threading.Event, idle_sleep: float = 0.01) -> None:
        """Poll until ``stop`` is set: failures delay the work, they never end the loop."""
        while not stop.is_set():
            if self.poll_once(skip_quiet=True, survive=True):
                continue
            now = monotonic()
            if self.doorbell is None:
                if set(self._retry_at) >= set(self.queue_names):  # all backing off
                    stop.wait(max(idle_sleep, min(self._retry_at.values()) - now))
                else:
                    stop.wait(idle_sleep)
                continue
            wakes = [*self._quiet_until.values(), *self._retry_at.values()]
            wake = min(wakes, default=now + idle_sleep)
            self.doorbell.wait(self.queue_names, max(0.0, wake - now))

    # --- one queue --------------------------------------------------------------

    def _due(self, name: str, now: float, skip_quiet: bool) -> bool:
        """Whether to poll ``name`` now."""
        retry_at = self._retry_at.get(name)
        if retry_at is not None:  # failing: polled again when its backoff is over
            if now < retry_at and self.doorbell is not None:
                self.doorbell.answer(name)  # a send does not cut the backoff short
            return now >= retry_at
        if skip_quiet and self.doorbell is not None:
            rung = self.doorbell.answer(name)
            if not rung and now < self._quiet_until.get(name, 0.0):
                return False
        return True

    def _poll(self, name: str, now: float) -> tuple[int, object | None]:
        """One receive from ``name``, handled: (messages seen, what went wrong or None)."""
        self._delete_leftovers(name)
        received = self.queues.receive(name, self.batch, self.wait_seconds)
        if not received:
            pause = min(self.idle_max, 2 * self._pause.get(name, 0.0025))
            self._pause[name] = pause
            self._quiet_until[name] = now + pause
            return 0, None
        self._pause.pop(name, None)
        self._quiet_until.pop(name, None)
        self.busy = True
        try:
            try:
                result = self.handler(received)
            except Exception:  # the whole batch is left for redelivery
                log.exception("batch handler failed", extra={"queue": name})
                result = BatchResult(failed=list(received))
            trouble = self._settle(name, result, result.handled(received))
        finally:
            self.busy = False
        if trouble is None and len(result.failed) == len(received):
            # The store or a queue is likely down: receiving more now only
            # parks more messages until their visibility timeout.
            trouble = f"every message of a batch of {len(received)} failed"
        return len(received), trouble

    def _settle(self, name: str, result: BatchResult, done: list[Received]) -> object | None:
        """Dead-letter and delete what the handler is finished with; the first failure."""
        trouble: object | None = None
        for message, reason in result.dead:
            try:
                self.queues.dead_letter(name, message, reason)
            except Exception as exc:  # comes back after its visibility timeout, is dead again
                trouble = trouble or exc
        if result.dead and self.on_dead is not None:
            try:
                self.on_dead(name, result.dead)
            except Exception:  # the sweeper finds them later
                log.exception("failing the owners of dead messages failed")
        self.stats.handled += len(done)
        self.stats.dead_lettered += len(result.dead)
        self.stats.failed += len(result.failed)
        if done:
            try:
                self.queues.delete(name, [m.receipt for m in done])
            except Exception as exc:  # tried again before the next receive
                self._undeleted.setdefault(name, []).extend(m.receipt for m in done)
                trouble = trouble or exc
        return trouble

    def _delete_leftovers(self, name: str) -> None:
        """Delete what a failed delete left; after a few tries, leave it to redelivery
        (handled messages that come back are recognised as duplicates)."""
        receipts = self._undeleted.get(name)
        if not receipts:
            return
        tries = self._delete_tries.get(name, 0) + 1
        self._delete_tries[name] = tries
        try:
            self.queues.delete(name, receipts)
        except Exception:
            if tries < DELETE_TRIES:
                raise
            log.warning(
                "could not delete %d handled messages from %s; they come back as duplicates",
                len(receipts),
                name,
            )
        self._undeleted.pop(name, None)
        self._delete_tries.pop(name, None)

    def _failing(self, name: str, trouble: object) -> None:
        streak = self._streaks.get(name)
        if streak is None:
            streak = self._streaks[name] = Streak(f"queue {name}", log, self.backoff)
        self._retry_at[name] = monotonic() + streak.failed(trouble)
        self._quiet_until.pop(name, None)
        self._pause.pop(name, None)

    def _recovered(self, name: str) -> None:
        self._retry_at.pop(name, None)
        streak = self._streaks.get(name)
        if streak is not None:
            streak.succeeded()

"""The scheduler: fires durable timers that are due, exactly once, and wakes quiet executions.

Waits, retry delays and task timeouts up to 15 minutes travel as delayed SQS
messages; longer ones wait in the store's timers index until a tick finds
them due. ``claim_timer`` is a conditional delete, so two schedulers (or a
scheduler restarted mid-tick) fire each timer once. A scheduler that was down
for an hour fires everything that fell due, late but once, as fast as the
queue takes it: due timers are sent ten to a request, page after page.

Every ``RECONCILE_EVERY`` it also reconciles executions that have gone quiet
(``reconcile.Reconciler.sweep``): what a crash left unsent is sent again.
Once a day it renews the expiry of long-running executions
(``renewal.Renewal``), so retention never deletes one that still runs.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from stepq.clock import Clock
from stepq.runtime import codec
from stepq.runtime.applier.config import RuntimeConfig
from stepq.runtime.messages import EVENTS_QUEUE
from stepq.runtime.metrics import SCHEDULER_LAG, TIMER_LATENESS, Metrics
from stepq.runtime.ports import Message, Queues, Store
from stepq.runtime.reconcile import Reconciler, SweepReport
from stepq.runtime.renewal import Renewal, RenewalReport
from stepq.runtime.signing import signed

log = logging.getLogger(__name__)

SEND_BATCH = 10  # SQS SendMessageBatch takes ten messages
RECONCILE_EVERY = timedelta(minutes=5)


class Scheduler:
    def __init__(
        self, store: Store, queues: Queues, clock: Clock, config: RuntimeConfig | None = None
    ) -> None:
        self.store = store
        self.queues = signed(queues, store)  # a timer's event is signed as it is sent
        self.clock = clock
        self.reconciler = Reconciler(store, self.queues, clock, config)
        self.renewal = Renewal(store, clock)
        self._swept: datetime | None = None

    @property
    def metrics(self) -> Metrics:
        return self.reconciler.metrics

    def tick(self, limit: int = 100) -> int:
        """Fire what is due (one page of at most ``limit``); returns how many fired.

        Metrics: each timer this tick fired, how late (now - due); and the
        scheduler's lag, how long the oldest due timer left unfired has waited
        (0 when the page held everything due)."""
        fired = 0
        now = self.clock.now()
        due = self.store.due_timers(codec.instant(now) or "", limit)
        for start in range(0, len(due), SEND_BATCH):
            chunk = due[start : start + SEND_BATCH]
            # Send first, then claim: a crash in between re-sends next tick and
            # the orchestrator drops the duplicate by its id.
            self.queues.send(EVENTS_QUEUE, [Message(id=t.timer_id, body=t.event) for t in chunk])
            for timer in chunk:
                if self.store.claim_timer(timer):  # fired here (once, whoever else tries)
                    fired += 1
                    self.metrics.timing(TIMER_LATENESS, _late_ms(now, timer.due))
        lag = 0.0
        if len(due) >= limit:  # a full page: more may be due (one read to find out)
            left = self.store.due_timers(codec.instant(now) or "", 1)
            lag = _late_ms(now, left[0].due) if left else 0.0
        self.metrics.timing(SCHEDULER_LAG, lag)
        return fired

    def drain(self, limit: int = 100, pages: int = 1000) -> int:
        """Fire everything due, page after page (a backlog after an outage)."""
        fired = 0
        for _ in range(pages):
            count = self.tick(limit)
            fired += count
            if count < limit:
                break
        return fired

    def sweep_quiet(self, every: timedelta = RECONCILE_EVERY) -> SweepReport | None:
        """Reconcile executions gone quiet, at most once per ``every``; None if not yet due."""
        now = self.clock.now()
        if self._swept is not None and now - self._swept < every:
            return None
        if "lookback" in self.reconciler.dispatcher.config.defects:  # test-only: defect 1
            return None
        period = every if self._swept is None else now - self._swept
        self._swept = now
        report = self.reconciler.sweep(period)
        if report.reconciled:
            log.warning(
                "reconciled %d quiet executions (%d messages sent again): %s",
                len(report.reconciled),
                report.resent,
                " ".join(report.reconciled),
            )
        return report

    def renew_expiries(
        self, out_of_time: Callable[[], bool] = lambda: False
    ) -> RenewalReport | None:
        """Keep running executions from expiring: each machine once a day (None: nothing
        to do in this process today, or retention is off)."""
        return self.renewal.run(out_of_time)

    def next_due(self) -> datetime | None:
        """The earliest pending timer (for an embedded run that skips time)."""
        far = "9999-12-31T23:59:59+00:00"
        timers = self.store.due_timers(far, 1)
        return codec.parse_instant(timers[0].due) if timers else None


def _late_ms(now: datetime, due: str) -> float:
    """Milliseconds from ``due`` to ``now`` (0 if not yet due, or unreadable)."""
    at = codec.parse_instant(due or None)
    return max(0.0, (now - at).total_seconds() * 1000) if at is not None else 0.0

"""The renewal: running executions never expire (``runtime/retention.py``).

Each commit expires R + W after it is written; an execution that runs longer
than W would lose its early commits. Once a day per machine (a claimed key,
so one scheduler of the deployment does it), the renewal walks the machine's
RUNNING executions started more than W/2 ago and asks the store to renew
each (``Store.renew_expiry``): one GetItem of commit 1 when it was renewed
less than W/2 ago, else its commits re-stamped to R + W from the moment it
was seen RUNNING (the time taken before the listing's read, less
``CLOCK_SKEW``), never from the moment of stamping: a final commit written
in between still expires last. W/2 (15 days) of daily chances: a missed day costs nothing.

The execution's documents (``retention.EXECUTION_DOC_KINDS``, found by
``execution_docs``) are renewed first, each when its own expiry is due
(``Store.renew_doc``), so no order of crashes leaves one behind: a document
does not wait for commit 1 to be due, and commit 1's renewal does not wait
for the documents.

Cost: the walk is ``list_executions(machine, "RUNNING")`` past the first W/2,
i.e. one small status read per execution started between R + W and W/2 ago,
once a day; plus one GetItem per running execution found, and for its
documents three Queries (tasks, redrive plans, map-run updates) and one
GetItem per document found or named (request, marks, start record).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date

from stepq.clock import Clock
from stepq.core.execution import RUNNING
from stepq.errors import StepqError
from stepq.runtime import codec, retention
from stepq.runtime.people.activities import MARKS
from stepq.runtime.people.documents import HTASK, REQUEST, request_prefix
from stepq.runtime.ports import Store, list_cursor

log = logging.getLogger(__name__)

PAGE = 100
CLAIM_PREFIX = "stepq-renewal/"  # the day's claim of a machine: stepq-renewal/<machine>/<day>
KEY_DAYS = 2  # the day's claim outlives the day (clocks differ a little)
STARTED, MAP_RUN, REDRIVE = "started", "mapRun", "redrive"  # the API's kinds (api/)


def execution_docs(store: Store, execution_arn: str) -> list[tuple[str, str]]:
    """(kind, key) of the documents that belong to the execution: those named by its
    ARN, whether or not they exist, and those found under a key prefix of it."""
    named = [(kind, execution_arn) for kind in (REQUEST, MARKS, STARTED)]
    prefixes = [(HTASK, request_prefix(execution_arn) + "-"), (REDRIVE, execution_arn + "|")]
    head, sep, name = execution_arn.rpartition(":")  # arn:...:execution:<machine>:<name>
    base, _, machine = head.rpartition(":")
    if sep and base.endswith(":execution"):
        map_runs = f"{base.removesuffix(':execution')}:mapRun:{machine}/{name}:"
        prefixes.append((MAP_RUN, map_runs))
    found = [(kind, d.key) for kind, prefix in prefixes for d in store.list_docs(kind, prefix)]
    return named + found


@dataclass(slots=True)
class RenewalReport:
    machines: list[str] = field(default_factory=list)  # walked in this run
    looked_at: int = 0
    renewed: list[str] = field(default_factory=list)
    stopped: bool = False  # out of time: the machines left are walked by the next run


class Renewal:
    def __init__(self, store: Store, clock: Clock) -> None:
        self.store = store
        self.clock = clock
        self._done: date | None = None  # the day this process found every machine claimed

    def run(self, out_of_time: Callable[[], bool] = lambda: False) -> RenewalReport | None:
        """Renew what is due, each machine once a day across processes; None when
        retention is off or this process has already finished today."""
        if getattr(self.store, "retention_days", None) is None:
            return None
        today = self.clock.now().date()
        if self._done == today:
            return None
        report = RenewalReport()
        for machine in self.store.list_machines():
            if out_of_time():
                report.stopped = True
                return report
            # A conditional put: exactly one scheduler walks this machine today.
            if not self.store.claim_key(f"{CLAIM_PREFIX}{machine}/{today}", KEY_DAYS * 86400):
                continue
            report.machines.append(machine)
            self.renew_machine(machine, report)
        self._done = today
        if report.renewed:
            log.info("renewed the expiry of %d running executions", len(report.renewed))
        return report

    def renew_machine(self, machine: str, report: RenewalReport | None = None) -> RenewalReport:
        """Renew the running executions of ``machine`` started more than W/2 ago."""
        report = report or RenewalReport()
        started_before = self.clock.now() - retention.SLACK / 2
        cursor: str | None = f"{codec.sortable_instant(codec.instant(started_before) or '')}#"
        while cursor is not None:
            # Taken before the read that shows them RUNNING: a final commit written
            # after it is stamped later than the renewal stamps (runtime/retention.py).
            observed = self.clock.now()
            page = self.store.list_executions(machine, RUNNING, PAGE, after=cursor)
            for header in page:
                report.looked_at += 1
                try:
                    # Documents first, each on its own expiry (see the module's docstring).
                    for kind, key in execution_docs(self.store, header.execution_id):
                        self.store.renew_doc(kind, key, observed)
                    if self.store.renew_expiry(header.execution_id, observed):
                        report.renewed.append(header.execution_id)
                except StepqError as exc:  # one execution's failure stops no other
                    log.warning("renewing %s failed: %s", header.execution_id, exc)
            cursor = list_cursor(page[-1]) if len(page) == PAGE else None
        return report

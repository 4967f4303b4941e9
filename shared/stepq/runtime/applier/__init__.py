"""Apply inbound events to one execution: load, decide, commit once, then send.

Shared by the orchestrator (events queue) and the worker (the results of the
steps it ran). Exactly-once transitions come from the store's conditional
write: a commit names the next sequence number and only one writer creates
it; the loser reloads and decides again (the core drops what is already
applied). Several events of one execution that arrive in one batch are
decided one after the other and committed together: one write, however many
transitions they make.

**Inline continuation (group commit).** Given a ``runner`` (the worker's), a
task the decision schedules is run at once, in this process, when the runner
can run it (a plain request-response step it hosts), and its result is
decided too, until nothing runnable is left or a budget of steps and seconds
is spent; then everything is committed in one write. A crash before that
commit re-runs those steps (the same idempotency keys: steps are
at-least-once anyway) and loses no committed transition; the budget bounds
the work a crash can cost. This is what keeps a chain of short steps at one
write per commit instead of one write and four queue requests per step.

**Outbox.** Commands decided in a commit are sent after it. If the process
dies in between, the inbound message is delivered again (its receive count
says so); it is stale by then, so its commit is found among the last
``LOOKBACK`` commits by the message id it records, and that commit's
commands are sent again. Message ids are deterministic, so consumers drop
duplicates. A first delivery that is stale is dropped without a read.

The modules, one job each:

- ``apply``: ``Applier``, load, decide (and run inline), commit once;
- ``snapshots``: the snapshot a commit writes, the same size whatever the
  input or a Map's width (large values stored once, outputs held);
- ``outbox``: ``Dispatcher`` turns commands into messages and timers,
  ``Outbox`` sends them after the commits;
- ``redelivery``: a stale redelivered message's commit, sent again;
- ``machines``: the state machine cache;
- ``groups``: a batch's executions recorded, then one flush of the outbox;
- ``observe``: what a written commit counts (``RuntimeConfig.metrics``);
- ``inbound`` and ``config``: what the applier is given and how it runs.
"""

from __future__ import annotations

from stepq.runtime.applier.apply import MAX_CARRIED_BYTES, MAX_CONFLICT_RETRIES, Applier
from stepq.runtime.applier.config import MAX_SQS_DELAY, RuntimeConfig
from stepq.runtime.applier.groups import Groups, record_groups
from stepq.runtime.applier.inbound import Inbound, InlineResult, InlineRunner
from stepq.runtime.applier.machines import NEWEST_SECONDS, Machines
from stepq.runtime.applier.outbox import Dispatcher, Outbox
from stepq.runtime.applier.redelivery import LOOKBACK, cause_digest, resend_stale
from stepq.runtime.batch import handle_one

__all__ = [
    "LOOKBACK",
    "MAX_CARRIED_BYTES",
    "MAX_CONFLICT_RETRIES",
    "MAX_SQS_DELAY",
    "NEWEST_SECONDS",
    "Applier",
    "Dispatcher",
    "Groups",
    "Inbound",
    "InlineResult",
    "InlineRunner",
    "Machines",
    "Outbox",
    "RuntimeConfig",
    "cause_digest",
    "handle_one",
    "record_groups",
    "resend_stale",
]

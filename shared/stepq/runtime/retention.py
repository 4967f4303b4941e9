"""Retention: when an execution's items expire (DynamoDB TTL on ``expires_at``).

An execution is many items (one per commit). Stamping them all when it ends
would cost a write per commit, so each commit is written once with its own
expiry: ``written + R + W`` (R the retention, W the slack below), epoch
seconds. The final commit is written last, so its expiry is the latest:
whenever any commit is still there, the final one is too, and a reader never
mistakes a finished execution for a running one (an orphaned earlier commit).
The final commit takes ``max(written, stop_time)``, so the status index,
which projects ``stop_time`` but not ``expires_at``, can tell expiry too.

Readers treat an item whose ``expires_at <= now`` as absent (DynamoDB deletes
expired items up to days late, in any order) and read on past it; a commit's
put may overwrite one, so a name is free again once its execution has expired
and no later commit of it is live (``held_message``: docs/STORAGE.md, "Reusing
a name"). A running execution is kept alive by the
scheduler's renewal (``runtime.renewal``), which re-stamps its commits.

The documents that belong to one execution (``EXECUTION_DOC_KINDS``: its
request, human tasks, process-activity marks, start record, map-run updates,
redrive plans) follow the same rule: every write of one carries
``written + CLOCK_SKEW + R + W`` (``doc_expires_at``; the skew: the request and
start documents are written just before commit 1 and must not expire before
it), the renewal re-stamps them while the execution runs, and a reader treats
an expired one as absent (docs/PEOPLE.md, "How it is stored").
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

# W: the slack added to the retention. A running execution's commits expire
# no sooner than R + W after they are written; the renewal re-stamps them once
# they are within R + W/2 of expiring, so it has W/2 (15 days) to run at least
# once. A finished execution disappears between R and R + W after its end.
SLACK = timedelta(days=30)
DEFAULT_RETENTION_DAYS = 90  # template.yaml's RetentionDays default (Step Functions keeps 90)
# Processes' clocks differ by milliseconds; a renewal stamps this much earlier,
# so it never outlives a final commit written just after it (by another clock).
CLOCK_SKEW = timedelta(minutes=5)

# Document kinds (``Store.put_doc``) keyed by, or under, one execution's ARN: each
# write of one expires as a commit does. The renewal finds them by key
# (``runtime.renewal.execution_docs``). The catalog's kinds (machine, version,
# alias, group, person...) are not here: they never expire.
EXECUTION_DOC_KINDS = frozenset(
    {"request", "htask", "processActivities", "started", "mapRun", "redrive"}
)


def lifetime(retention_days: int) -> timedelta:
    """R + W: how long after its write a commit is kept."""
    return timedelta(days=retention_days) + SLACK


def epoch(instant: datetime) -> int:
    """Epoch seconds, rounded up (an expiry is never earlier than asked)."""
    return math.ceil(instant.timestamp())


def expires_at(written: datetime, retention_days: int) -> int:
    """The ``expires_at`` of an item written at ``written``."""
    return epoch(written + lifetime(retention_days))


def doc_expires_at(kind: str, written: datetime, retention_days: int | None) -> int | None:
    """The ``expires_at`` of a document of ``kind`` written at ``written`` (None: kept)."""
    if retention_days is None or kind not in EXECUTION_DOC_KINDS:
        return None
    return expires_at(written + CLOCK_SKEW, retention_days)


def expired(value: int | None, now: datetime) -> bool:
    """Whether an item with ``expires_at`` = ``value`` is gone at ``now`` (None: never)."""
    return value is not None and value <= now.timestamp()


def renewal_due(expires: int | None, now: datetime, retention_days: int) -> bool:
    """Whether a running execution whose commit 1 has ``expires_at`` = ``expires``
    is to be renewed: live, and within R + W/2 of now (renewed about every W/2).
    None (written with retention off) is left alone: it never expires."""
    if expires is None or expired(expires, now):
        return False
    return expires <= epoch(now + lifetime(retention_days) - SLACK / 2)


def renewal_stamp(observed: datetime, retention_days: int) -> int:
    """The expiry a renewal writes, from ``observed``: a time taken *before* the read
    that found the execution RUNNING. Its final commit, if written since, was
    stamped from a later time, so it still expires last."""
    return expires_at(observed - CLOCK_SKEW, retention_days)


def instant_of(text: str | None) -> datetime | None:
    """An ISO-8601 instant (``stop_time``) as an aware datetime; None if absent or unreadable."""
    if not text:
        return None
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def stopped_expiry(stop_time: str | None, retention_days: int | None) -> int | None:
    """The least ``expires_at`` of a final commit with this ``stop_time`` (None: unknown)."""
    stop = instant_of(stop_time)
    if retention_days is None or stop is None:
        return None
    return expires_at(stop, retention_days)


def held_message(execution_id: str, expires: int | None) -> str:
    """Why a start of a reused name is refused: the old execution's first commit has
    expired (it is gone) but a later one is live until ``expires`` (epoch seconds)."""
    until = datetime.fromtimestamp(expires, UTC).isoformat() if expires is not None else "later"
    return (
        f"execution {execution_id}: the name is still held by an expired execution "
        f"whose later commits are kept until {until}; start it again after that"
    )

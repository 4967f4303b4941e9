"""Answering a redelivered message whose commit is written: send that commit's commands again.

The process may die between a commit and the sends it decided; the inbound
message then comes back, stale. Its commit is found by the digest of the
message id it records, searching the history back from the newest commit,
page by page, for as long as it takes (no fixed window: a wide Map can put
any number of commits between the crash and the redelivery). The search
stops at the first commit older than the message's event, which cannot
have applied it. The commit's commands are dispatched again (same message
ids, so consumers drop duplicates).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import datetime, timedelta

from stepq.runtime import codec
from stepq.runtime.applier.inbound import Inbound
from stepq.runtime.applier.outbox import Dispatcher, Outbox
from stepq.runtime.ports import Commit, Store

PAGE = 16  # commits read per request while searching back
LOOKBACK = 16  # the old fixed window: only with the test-only "lookback" defect on
# Clocks of different machines disagree a little: a commit decided on a host
# whose clock is behind may carry an instant earlier than the event it applied.
CLOCK_SKEW = timedelta(minutes=5)
# How far back a once-only event's message id is looked for (``applied_before``).
ONCE_WINDOW = timedelta(hours=1)


def cause_digest(message_id: str) -> str:
    """A short stand-in for a message id in commits (ids embed the execution ARN)."""
    return hashlib.blake2b(message_id.encode(), digest_size=9).hexdigest()


def newest_first(store: Store, execution_id: str, page: int = PAGE) -> Iterator[Commit]:
    """Every commit of an execution, newest first, ``page`` per read."""
    before: int | None = None
    while before is None or before > 1:
        commits = store.recent(execution_id, page, before=before)
        if not commits:
            return
        yield from commits
        before = commits[-1].seq


def applied_before(store: Store, execution_id: str, message_id: str, at: datetime) -> bool:
    """Whether a commit made since ``at - ONCE_WINDOW`` applied ``message_id``.

    For events the core cannot tell apart from a repeat (an audit record: each
    one is news to it), the message id is the only sign of a duplicate: the
    events queue is not FIFO, and a caller's retry sends the same id again.
    The search stops at the first commit older than the window (usually the
    first page: an execution waiting on people commits little).
    """
    wanted = cause_digest(message_id)
    floor = at - ONCE_WINDOW
    for commit in newest_first(store, execution_id):
        if wanted in commit.causes:
            return True
        when = codec.parse_instant(commit.at) if commit.at else None
        if when is not None and when < floor:
            return False
    return False


def resend_stale(
    store: Store,
    dispatcher: Dispatcher,
    execution_id: str,
    redelivered: list[Inbound],
    outbox: Outbox,
) -> None:
    """Send again the commands of the commits that applied these redelivered messages."""
    if not redelivered:
        return
    wanted = {cause_digest(i.message_id) for i in redelivered}
    events = [i.event for i in redelivered]
    # The oldest instant a commit applying one of them can carry (None: unknown,
    # e.g. a task result recorded before, so the whole history may be searched).
    floor = None if any(e is None for e in events) else min(e.at for e in events) - CLOCK_SKEW
    commits: Iterator[Commit] = newest_first(store, execution_id)
    if "lookback" in dispatcher.config.defects:  # test-only: defect 1 back on
        commits = iter(store.recent(execution_id, LOOKBACK))
    for commit in commits:
        found = wanted.intersection(commit.causes)
        if found:
            commands = [codec.decode_command(c) for c in commit.commands]
            dispatcher.dispatch(execution_id, commands, outbox, resent=True)
            wanted -= found
            if not wanted:
                return
        at = codec.parse_instant(commit.at) if commit.at else None
        if floor is not None and at is not None and at < floor:
            return  # older than every event still wanted: it cannot be further back

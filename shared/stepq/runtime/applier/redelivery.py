"""Answering a redelivered message whose commit is written: send that commit's commands again.

The process may die between a commit and the sends it decided; the inbound
message then comes back, stale. Its commit is found among the last
``LOOKBACK`` by the digest of the message id it records, and its commands
are dispatched again (same message ids, so consumers drop duplicates).
"""

from __future__ import annotations

import hashlib

from stepq.runtime import codec
from stepq.runtime.applier.inbound import Inbound
from stepq.runtime.applier.outbox import Dispatcher, Outbox
from stepq.runtime.ports import Store

LOOKBACK = 16  # commits searched for a redelivered message's own commit


def cause_digest(message_id: str) -> str:
    """A short stand-in for a message id in commits (ids embed the execution ARN)."""
    return hashlib.blake2b(message_id.encode(), digest_size=9).hexdigest()


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
    for commit in store.recent(execution_id, LOOKBACK):
        if wanted & set(commit.causes):
            commands = [codec.decode_command(c) for c in commit.commands]
            dispatcher.dispatch(execution_id, commands, outbox)

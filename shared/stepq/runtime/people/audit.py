"""The audit trail's sender: one line of a request's trail, through the events queue.

``AuditTrail(queues, clock, store=None).record(execution_arn, who, what, *,
task_id=None, detail=None, key=None, at=None) -> message id``

The line becomes a ``RequestAuditRecorded`` history event of the execution,
in a commit of its own (``core.events.AuditRecorded``; a finished execution
records nothing, and one that does not exist dead-letters the message). The
message id is deterministic, so a retried call is one event: it is
``audit|<arn>|<key>``, where ``key`` says what makes the line one of a kind
(default: a digest of who, what, task and detail). Pass a ``key`` when the
same words may truly happen twice (a second refusal of the same action: e.g.
the task document's revision). The applier drops a message id it applied in
the hour before the event's instant (``applier.redelivery.applied_before``);
pass ``at`` (the instant the thing happened, e.g. the action's) to make a
late retry land in that window too.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Any

from stepq.clock import Clock
from stepq.core.events import AuditRecorded
from stepq.errors import StepqError
from stepq.runtime.messages import EVENTS_QUEUE, event_message
from stepq.runtime.ports import Queues, Store
from stepq.runtime.signing import SignedQueues, signed


def audit_message_id(
    execution_arn: str, who: str, what: str, task_id: str | None, detail: Any, key: str | None
) -> str:
    if key is None:
        text = json.dumps([who, what, task_id, detail], sort_keys=True, separators=(",", ":"))
        key = hashlib.blake2b(text.encode(), digest_size=16).hexdigest()
    return f"audit|{execution_arn}|{key}"


class AuditTrail:
    """Records audit lines. ``queues`` must sign (the runtime's), or ``store`` be
    given so they can: the orchestrator drops an unsigned body."""

    def __init__(self, queues: Queues, clock: Clock, store: Store | None = None) -> None:
        if not isinstance(queues, SignedQueues):
            if store is None:
                raise StepqError("AuditTrail needs signing queues, or the store to sign with")
            queues = signed(queues, store)
        self._queues = queues
        self._clock = clock

    def record(
        self,
        execution_arn: str,
        who: str,
        what: str,
        *,
        task_id: str | None = None,
        detail: Any = None,
        key: str | None = None,
        at: datetime | None = None,
    ) -> str:
        """Send one audit line (QueueError if the queue refuses); its message id."""
        message_id = audit_message_id(execution_arn, who, what, task_id, detail, key)
        event = AuditRecorded(at or self._clock.now(), who, what, task_id=task_id, detail=detail)
        self._queues.send(EVENTS_QUEUE, [event_message(execution_arn, event, message_id)])
        return message_id

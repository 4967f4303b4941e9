"""Dead-lettered messages for operators: list them, move them back (``stepq ops dlq``).

A message reaches ``<queue>-dlq`` either at once, with its reason in the
``stepq-reason`` attribute (malformed, unauthenticated, an inbox message that
can never apply), or from SQS after ``maxReceiveCount`` failed deliveries (no
reason attribute: "redriven by SQS after N receives").

How this coexists with the scheduler's ``DeadLetterSweeper`` (runtime/poison.py):
the sweeper owns the events and task DLQs. Every sweep (a minute in a
deployment, five seconds in ``stepq dev``) it receives everything there, sends
a well-formed message back to its queue with a growing delay (up to
``MAX_REDRIVES`` times), fails the execution of a malformed one, and deletes
each copy. So a message lingers in those DLQs only between sweeps, or while
the scheduler is not sweeping (it is down, or failing: the AlarmEventsDlq and
AlarmTaskDlq runbooks); there listing shows what waits and ``redrive`` is the
hand-driven version of the sweeper's send-back. The inbox DLQ is not swept:
what lands there stays until an operator looks (14 days), and listing and
redriving it (after creating the missing machine, say) is the main use.

Listing holds the messages (a receive with a visibility timeout) only while
it reads them and then makes them visible again, so the sweeper and a second
operator see them at once. A moved message is sent as it was (its raw text,
its MAC, its ``stepq-id``) before its DLQ copy is deleted: a crash in between
leaves a duplicate, which the consumer drops by id, never a loss.

Nothing here prints a body: a body may hold a task token or the user's data.
A reason is shown with anything shaped like a task token cut out.
"""

from __future__ import annotations

import contextlib
import json
import re
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any, cast

from stepq.clock import Clock
from stepq.errors import QueueNotFoundError, StepqError
from stepq.runtime.ports import Held, QueueAdmin

DLQ_SUFFIX = "-dlq"
FIFO_SUFFIX = ".fifo"
# The attributes backends/queue_wire.py writes (runtime may not import backends).
ID_ATTRIBUTE = "stepq-id"
REASON_ATTRIBUTE = "stepq-reason"
HOLD_SECONDS = 120  # how long a listing or a redrive keeps what it read invisible
DEFAULT_LIMIT = 100  # messages read per dead-letter queue

# ``<base64url payload>.<32-character base64url MAC>`` (core/tokens.py), or a long
# unbroken base64url run that may be a token minted before tokens were signed.
_TOKEN = re.compile(r"[A-Za-z0-9_-]{16,}\.[A-Za-z0-9_-]{32}|[A-Za-z0-9_-]{120,}")
_REDACTED = "<redacted token>"


@dataclass(slots=True)
class DeadLetter:
    """One dead-lettered message, without its body."""

    id: str  # the ``stepq-id`` (the consumer's duplicate key), else SQS's id
    queue: str  # the source queue the DLQ belongs to
    reason: str
    execution_arn: str | None
    age_seconds: int
    receive_count: int
    sent_at: str


@dataclass(slots=True)
class Listing:
    messages: list[DeadLetter] = field(default_factory=list)
    # per source queue: messages the DLQ holds (approximate; visible and in flight)
    depth: dict[str, int] = field(default_factory=dict)
    truncated: list[str] = field(default_factory=list)  # queues with more than the limit


@dataclass(slots=True)
class Redrive:
    queue: str
    moved: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)  # ids asked for and not found
    dry_run: bool = False


def as_dict(value: Listing | Redrive) -> dict[str, Any]:
    return asdict(value)


def redact(text: str) -> str:
    """``text`` with anything shaped like a task token replaced."""
    return _TOKEN.sub(_REDACTED, text)


def dlq_of(queue: str) -> str:
    if queue.endswith(FIFO_SUFFIX):
        return queue[: -len(FIFO_SUFFIX)] + DLQ_SUFFIX + FIFO_SUFFIX
    return queue + DLQ_SUFFIX


def source_of(name: str) -> str | None:
    """The queue a dead-letter queue belongs to, or None for any other name."""
    fifo = name.endswith(FIFO_SUFFIX)
    base = name[: -len(FIFO_SUFFIX)] if fifo else name
    if not base.endswith(DLQ_SUFFIX) or base == DLQ_SUFFIX:
        return None
    return base[: -len(DLQ_SUFFIX)] + (FIFO_SUFFIX if fifo else "")


class DeadLetters:
    """The dead-letter queues of one deployment (``queues`` must be a ``QueueAdmin``)."""

    def __init__(self, queues: Any, clock: Clock) -> None:
        self.queues = cast(QueueAdmin, queues)
        self.raw = queues  # delete and change_visibility: the ``Queues`` port
        self.clock = clock

    def sources(self) -> list[str]:
        """Every queue that has a dead-letter queue, by name."""
        names = set(self.queues.queue_names())
        return sorted(s for n in names if (s := source_of(n)) is not None and s in names)

    def list(self, queue: str | None = None, limit: int = DEFAULT_LIMIT) -> Listing:
        """What each dead-letter queue holds (``queue``'s only, when given), up to
        ``limit`` per queue, left in place and visible again when this returns."""
        listing = Listing()
        for source in [queue] if queue else self.sources():
            dlq = dlq_of(source)
            held = self._hold_all(dlq, limit)
            try:
                listing.messages += [self._describe(source, h) for h in held]
                listing.depth[source] = self.queues.depth(dlq)
                if len(held) >= limit and listing.depth[source] > len(held):
                    listing.truncated.append(source)
            finally:
                self._release(dlq, held)
        return listing

    def redrive(
        self,
        queue: str,
        ids: list[str] | None = None,
        *,
        dry_run: bool = False,
        limit: int = 1000,
    ) -> Redrive:
        """Move the messages of ``queue``'s DLQ (those with ``ids``, else all, up to
        ``limit``) back to ``queue``: each sent as it was, then its copy deleted."""
        report = Redrive(queue, dry_run=dry_run)
        wanted = set(ids) if ids else None
        dlq = dlq_of(queue)
        held = self._hold_all(dlq, limit)
        chosen = [h for h in held if wanted is None or h.message_id in wanted]
        try:
            for message in chosen:
                if not dry_run:
                    attributes = {
                        k: v for k, v in message.attributes.items() if k != REASON_ATTRIBUTE
                    }
                    self.queues.send_raw(queue, message.raw, attributes)
                    self.raw.delete(dlq, [message.receipt])  # after the send: never a loss
                report.moved.append(message.message_id)
        finally:
            moved = set(report.moved) if not dry_run else set()
            self._release(dlq, [h for h in held if h.message_id not in moved])
        if wanted is not None:
            report.missing = sorted(wanted - {h.message_id for h in chosen})
        return report

    # --- helpers ------------------------------------------------------------------

    def _hold_all(self, dlq: str, limit: int) -> list[Held]:
        held: list[Held] = []
        try:
            while len(held) < limit:
                got = self.queues.hold(dlq, min(10, limit - len(held)), HOLD_SECONDS)
                if not got:
                    break
                held += got
        except QueueNotFoundError as exc:
            self._release(dlq, held)
            raise QueueNotFoundError(
                f"no dead-letter queue {dlq!r} (is {source_of(dlq)!r} a queue of this deployment?)",
                exc.code,
            ) from None
        except BaseException:
            self._release(dlq, held)
            raise
        return held

    def _release(self, dlq: str, held: list[Held]) -> None:
        """Make what was held visible again (best effort: else it is after HOLD_SECONDS)."""
        for message in held:
            # Deleted meanwhile, or the receipt expired: visible again anyway.
            with contextlib.suppress(StepqError):
                self.raw.change_visibility(dlq, message.receipt, 0)

    def _describe(self, source: str, held: Held) -> DeadLetter:
        reason = held.attributes.get(REASON_ATTRIBUTE) or "moved by SQS after its receives ran out"
        sent = datetime.fromisoformat(held.sent_at)
        return DeadLetter(
            id=held.message_id,
            queue=source,
            reason=redact(reason),
            execution_arn=_execution_of(held.raw),
            age_seconds=max(0, int((self.clock.now() - sent).total_seconds())),
            receive_count=held.receive_count,
            sent_at=held.sent_at,
        )


def _execution_of(raw: str) -> str | None:
    """The ``execution_id`` of a stepq body (events and task queues), else None."""
    try:
        body = json.loads(raw)
    except (ValueError, RecursionError):
        return None
    value = body.get("execution_id") if isinstance(body, dict) else None
    return value if isinstance(value, str) and value.startswith("arn:") else None

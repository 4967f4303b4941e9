"""What handling one batch of queue messages came to, message by message.

Handlers take a whole batch (as a Lambda SQS event source delivers it) so
that the events of one execution commit together and every outgoing message
of the batch goes out in as few send requests as possible.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from stepq.runtime.ports import Received


@dataclass(slots=True)
class BatchResult:
    """Receipts not listed in ``failed`` or ``dead`` were handled (delete them)."""

    failed: list[Received] = field(default_factory=list)  # left for redelivery
    dead: list[tuple[Received, str]] = field(default_factory=list)  # dead-letter, with reason

    def handled(self, received: list[Received]) -> list[Received]:
        skip = {id(r) for r in self.failed} | {id(r) for r, _ in self.dead}
        return [r for r in received if id(r) not in skip]

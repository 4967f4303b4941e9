"""What handling one batch of queue messages came to, message by message.

Handlers take a whole batch (as a Lambda SQS event source delivers it) so
that the events of one execution commit together and every outgoing message
of the batch goes out in as few send requests as possible.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, TypeVar

from stepq.errors import MalformedMessageError
from stepq.runtime.ports import Received

T = TypeVar("T")


@dataclass(slots=True)
class BatchResult:
    """Receipts not listed in ``failed`` or ``dead`` were handled (delete them)."""

    failed: list[Received] = field(default_factory=list)  # left for redelivery
    dead: list[tuple[Received, str]] = field(default_factory=list)  # dead-letter, with reason

    def handled(self, received: list[Received]) -> list[Received]:
        skip = {id(r) for r in self.failed} | {id(r) for r, _ in self.dead}
        return [r for r in received if id(r) not in skip]


def parse_each(
    received: list[Received], parse: Callable[[Any], T], result: BatchResult
) -> Iterator[tuple[Received, T]]:
    """Each message with its parsed body; one that cannot be parsed is dead-lettered."""
    for message in received:
        try:
            # A body that is not a JSON object (None) fails the parse like any other.
            body = parse(message.body)
        except MalformedMessageError as exc:
            result.dead.append((message, str(exc)))
            continue
        yield message, body


def handle_one(handle_batch: Callable[..., BatchResult], body: Any) -> None:
    """One message body through a batch handler; MalformedMessageError for poison."""
    received = Received(body, "", "", 1, "")
    result = handle_batch([received], raise_errors=True)
    if result.dead:
        raise MalformedMessageError(result.dead[0][1])

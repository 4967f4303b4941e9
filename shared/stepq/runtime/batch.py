"""What handling one batch of queue messages came to, message by message.

Handlers take a whole batch (as a Lambda SQS event source delivers it) so
that the events of one execution commit together and every outgoing message
of the batch goes out in as few send requests as possible.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, ParamSpec, TypeVar

from stepq.errors import MalformedMessageError, StepqError
from stepq.runtime.ports import Received
from stepq.runtime.signing import UNAUTHENTICATED

T = TypeVar("T")
P = ParamSpec("P")

log = logging.getLogger(__name__)

# What a message's own content can still raise once its types are checked (a
# value the core refuses, JSON nested deeper than it can follow). Never a
# StepqError: the store, the queues and lost races fail for redelivery.
CONTENT_ERRORS = (
    ArithmeticError,
    AttributeError,
    LookupError,
    RecursionError,
    TypeError,
    ValueError,
)


@dataclass(slots=True)
class BatchResult:
    """Receipts not listed in ``failed`` or ``dead`` were handled (delete them)."""

    failed: list[Received] = field(default_factory=list)  # left for redelivery
    dead: list[tuple[Received, str]] = field(default_factory=list)  # dead-letter, with reason

    def handled(self, received: list[Received]) -> list[Received]:
        skip = {id(r) for r in self.failed} | {id(r) for r, _ in self.dead}
        return [r for r in received if id(r) not in skip]


def parse_each(
    received: list[Received],
    parse: Callable[[Any], T],
    result: BatchResult,
    authentic: Callable[[Received], bool] | None = None,
) -> Iterator[tuple[Received, T]]:
    """Each message with its parsed body; one that cannot be parsed is dead-lettered,
    and so is one that is not ``authentic`` (checked first: a forged body is never
    taken for an authentic malformed one, which would fail its execution)."""
    for message in received:
        if authentic is not None and not authentic(message):
            result.dead.append((message, UNAUTHENTICATED))
            continue
        try:
            # A body that is not a JSON object (None) fails the parse like any other.
            body = parse(message.body)
        except MalformedMessageError as exc:
            result.dead.append((message, str(exc)))
            continue
        yield message, body


def content_errors_are_malformed(record: Callable[P, T]) -> Callable[P, T]:
    """``record`` (apply some messages), turning an error of their content into
    ``MalformedMessageError``: dead-lettered at once rather than retried until
    the queue gives up. Store, queue and conflict errors pass through."""

    @functools.wraps(record)
    def recording(*args: P.args, **kwargs: P.kwargs) -> T:
        try:
            return record(*args, **kwargs)
        except StepqError:
            raise
        except CONTENT_ERRORS as exc:
            log.warning("a message could not be applied", exc_info=True)
            detail = str(exc).encode("utf-8", "backslashreplace").decode("utf-8")[:300]
            raise MalformedMessageError(
                f"the message could not be applied: {type(exc).__name__}: {detail}"
            ) from exc

    return recording


def handle_one(handle_batch: Callable[..., BatchResult], body: Any) -> None:
    """One message body through a batch handler; MalformedMessageError for poison."""
    received = Received(body, "", "", 1, "")
    result = handle_batch([received], raise_errors=True)
    if result.dead:
        raise MalformedMessageError(result.dead[0][1])

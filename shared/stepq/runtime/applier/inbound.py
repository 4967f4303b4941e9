"""What the applier is given: inbound events, and the results of steps run inline."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from stepq.core import events as ev
from stepq.runtime.ports import Commit, Timer


@dataclass(frozen=True, slots=True)
class Inbound:
    """One inbound event for an execution, with the message that carried it."""

    message_id: str
    event: ev.Event | None  # None: already recorded (only a redelivery to answer)
    redelivered: bool = False  # the queue delivered this message before
    machine: str | None = None  # a start names its machine, version and name
    version: int | None = None
    name: str | None = None
    # The commit that sent the task, carried by its message (messages.TaskMessage.after).
    prior: Commit | None = None


@dataclass(frozen=True, slots=True)
class InlineResult:
    """A step run inline: its result now (``event``) or later (``timer``, skipped time)."""

    event: ev.Event | None = None
    timer: Timer | None = None


InlineRunner = Callable[[str, ev.RunTask], InlineResult | None]

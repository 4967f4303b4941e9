"""An in-process hint that a queue has just been sent messages.

A pump that polls several queues in turn spends most of an idle pass on
empty receives. In one process (the embedded backend) every sender is known,
so the queues ring a doorbell on send and the pump polls a quiet queue only
when it was rung, or after a short, growing pause that still finds delayed
and redelivered messages (which no send announces). Across processes there
is no doorbell and pumps long-poll instead (``stepq worker``).
"""

from __future__ import annotations

import threading
from collections.abc import Collection
from typing import Any

from stepq.runtime.ports import Message, Queues


class Doorbell:
    def __init__(self) -> None:
        self._rung: set[str] = set()
        self._changed = threading.Condition()

    def ring(self, queue: str) -> None:
        with self._changed:
            self._rung.add(queue)
            self._changed.notify_all()

    def answer(self, queue: str) -> bool:
        """Whether ``queue`` was rung since the last answer (and forget it)."""
        with self._changed:
            if queue in self._rung:
                self._rung.discard(queue)
                return True
            return False

    def wait(self, queues: Collection[str], timeout: float) -> bool:
        """Block until one of ``queues`` is rung or ``timeout`` passes."""
        with self._changed:
            return self._changed.wait_for(lambda: not self._rung.isdisjoint(queues), timeout)


class RingingQueues:
    """``queues`` that ring ``doorbell`` for every queue they send to."""

    def __init__(self, queues: Queues, doorbell: Doorbell) -> None:
        self._queues = queues
        self.doorbell = doorbell

    def send(self, queue: str, messages: list[Message]) -> None:
        self._queues.send(queue, messages)
        if messages:
            self.doorbell.ring(queue)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._queues, name)

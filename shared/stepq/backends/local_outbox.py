"""The local ``Mailer``: one RFC 5322 ``.eml`` file per message, in a folder you read.

``stepq dev`` writes to ``.stepq/outbox`` unless ``STEPQ_OUTBOX`` names another
folder (``outbox_from_env``). A file's name sorts by when it was written
(the wall clock, whatever the runtime's clock says: with skipped time many
mails share one instant), then by a counter of this outbox, then its id
(``20261203T100000123456Z-000001-<id>.eml``), so ``ls`` lists the mail in the
order it was sent; its ``Date`` is the runtime's time. Any mail reader opens one. A file appears whole or not at all: it is
written beside its final name and renamed into place.
"""

from __future__ import annotations

import itertools
import os
import uuid
from collections.abc import Mapping
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path

from stepq.clock import Clock, SystemClock
from stepq.errors import MailError

DEFAULT_OUTBOX = ".stepq/outbox"
OUTBOX_ENV = "STEPQ_OUTBOX"
LOCAL_SENDER = "stepq@localhost"


class OutboxFolder:
    """``Mailer`` writing ``.eml`` files into ``path`` (made when first needed)."""

    def __init__(
        self, path: str | os.PathLike[str], clock: Clock | None = None, sender: str = LOCAL_SENDER
    ) -> None:
        self.path = Path(path)
        self.sender = sender
        self._clock = clock or SystemClock()
        self._wall = SystemClock()
        self._sent = itertools.count(1)  # thread-safe in CPython: next() is atomic

    def send(self, to: list[str], subject: str, body: str) -> str:
        if not to:
            raise MailError("an e-mail needs at least one address")
        now = self._clock.now()
        message_id = uuid.uuid4().hex
        mail = EmailMessage()
        mail["From"] = self.sender
        mail["To"] = ", ".join(to)
        mail["Subject"] = subject
        mail["Date"] = format_datetime(now)
        mail["Message-ID"] = f"<{message_id}@stepq.local>"
        mail.set_content(body)
        written = self._wall.now().strftime("%Y%m%dT%H%M%S%fZ")
        name = f"{written}-{next(self._sent):06d}-{message_id}.eml"
        try:
            self.path.mkdir(parents=True, exist_ok=True)
            partial = self.path / f".{name}.partial"
            partial.write_bytes(bytes(mail))
            partial.replace(self.path / name)
        except (OSError, ValueError) as exc:  # ValueError: a header that cannot be written
            raise MailError(f"could not write to the outbox {self.path}: {exc}") from None
        return message_id

    def messages(self) -> list[Path]:
        """The mail written so far, oldest first (what a person would read)."""
        if not self.path.is_dir():
            return []
        return sorted(self.path.glob("*.eml"))


def outbox_from_env(
    environ: Mapping[str, str] | None = None, clock: Clock | None = None
) -> OutboxFolder:
    """The outbox ``stepq dev`` writes to: ``STEPQ_OUTBOX``, else ``.stepq/outbox``."""
    env = os.environ if environ is None else environ
    return OutboxFolder(env.get(OUTBOX_ENV) or DEFAULT_OUTBOX, clock)

"""Which execution a log line is about, on every line logged while handling it.

The runtime marks the stretch of work done for one execution
(``with executing(arn):`` around recording its events or running its step);
``ExecutionFilter`` on a host's log handler puts that ARN on each record as
``execution_arn`` (or the ``execution_id`` a call passed as ``extra``), so a
JSON formatter (Powertools' Logger) writes it as a key. A context variable,
so threads (the worker's heartbeat) and nested work see the right one.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

__all__ = ["ExecutionFilter", "current_execution", "executing"]

_CURRENT: ContextVar[str | None] = ContextVar("stepq_execution", default=None)


def current_execution() -> str | None:
    return _CURRENT.get()


@contextmanager
def executing(execution_id: str) -> Iterator[None]:
    """Log lines in this block are about ``execution_id``."""
    token = _CURRENT.set(execution_id)
    try:
        yield
    finally:
        _CURRENT.reset(token)


class ExecutionFilter(logging.Filter):
    """Adds ``execution_arn`` to each record logged inside ``executing`` (keeps every record)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "execution_arn", None) is None:
            arn = _CURRENT.get() or getattr(record, "execution_id", None)
            if arn is not None:
                record.execution_arn = arn
        return True

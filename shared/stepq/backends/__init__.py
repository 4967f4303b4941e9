"""Implementations of the ports (``stepq.runtime.ports``), and the rules they share.

What every queue backend agrees on is in ``queue_wire``. What both ``Store``
backends (``aws.dynamodb_store``, ``memory.store``) agree on is here: this
module ships in the Lambda layer with ``aws`` (shared/Makefile), so a rule the
DynamoDB store needs lives here rather than in a module of its own.
"""

from __future__ import annotations

__all__ = ["is_own_resend"]


def is_own_resend(found: object, ours: object) -> bool:
    """True when ``found``, the item that made a conditional create or append fail,
    is exactly ``ours``: our own earlier write, resent after its reply was lost
    (botocore retries a put that timed out). That is success, not a conflict."""
    return found is not None and found == ours

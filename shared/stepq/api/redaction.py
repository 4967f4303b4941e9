"""Callback task tokens hidden from every caller who is not a target of the task.

A ``.waitForTaskToken`` task's token is the capability to finish it: whoever
holds it can answer for the service the task was sent to. The targets of such
a task are machines, so they see tokens (in TaskScheduled's parameters, in
echoed inputs and outputs): an IAM caller, and a request with no identity on
a server bound to loopback (the local operator, who can read the table
anyway). Nobody else does: a person (a Cognito user, or ``stepq dev
--dev-identities``' header) answers human tasks through the inbox, which needs
no token, and a caller with no identity beyond loopback proves nothing. For
them every stepq token in the reply, wherever it sits (a field, a JSON text
inside a field, an error message), becomes ``<redacted>``.

Tokens are found by their shape, not by field: ``<payload>.<mac>`` where the
payload is url-safe base64 of ``["arn:...", "<task id>"]`` (``core/tokens.py``),
so the base64 always starts with ``WyJhcm46`` and none of its characters is
escaped in JSON text.
"""

from __future__ import annotations

import re

from stepq.api.context import ApiContext
from stepq.api.identity import MACHINE, Identity
from stepq.core.tokens import parse_token

REDACTED = "<redacted>"
_START = b"WyJhcm46"  # base64 of '["arn:'
_TOKEN = re.compile(rb"WyJhcm46[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)?")


def sees_tokens(ctx: ApiContext, caller: Identity | None) -> bool:
    """Whether ``caller`` is a target of callback tasks: a machine, or the local operator."""
    if caller is None:
        return ctx.local_operator
    return caller.kind == MACHINE


def may_hold_tokens(body: bytes) -> bool:
    """Whether ``body`` has a token's first characters at all (most replies do not)."""
    return _START in body


def redact_tokens(body: bytes) -> bytes:
    """``body`` with every stepq task token replaced by ``<redacted>``."""
    if _START not in body:  # the common case: one scan, no regex
        return body
    return _TOKEN.sub(_replace, body)


def _replace(match: re.Match[bytes]) -> bytes:
    payload = match.group().partition(b".")[0].decode("ascii")
    # The payload names a task (its MAC may run on into other text): the whole run
    # goes, since the MAC is the secret part.
    return REDACTED.encode() if parse_token(payload) is not None else match.group()

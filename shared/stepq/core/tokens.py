"""Task tokens: which execution and task a callback is for, and proof we issued it.

A token is ``<payload>.<mac>``:

- ``payload``: unpadded url-safe base64 of the JSON ``[execution_arn, task_id]``;
  anyone can read it, so a host can route a callback to its execution
  (``parse_token``) before loading anything.
- ``mac``: unpadded url-safe base64 of HMAC-SHA256 over ``payload`` (with a
  version label), truncated to 24 bytes (32 characters), keyed by the
  execution's ``token_secret``. Only the holder of the execution state can
  check it (``verify_token``), so a guessed ARN and task id forge nothing.

The key is ``ExecutionMeta.token_secret``, which the durable runtime derives
from its table's signing key and the execution ARN (``runtime/signing.py``)
whenever it loads the execution; it is never stored. Without one (the memory
backend, the conformance runner, tests) the key is derived from the
execution ARN and start time: deterministic, so replays repeat it, and NOT
secret; tokens minted that way must not leave the process.

A signed token that no longer matches the execution's key (one minted with
the random secret older snapshots stored) is accepted while it is one of the
execution's outstanding tokens: the execution minted it, nobody else can add
one. Tokens minted before tokens were signed (``payload`` alone, no ``.``) are
still accepted, for executions whose state has no secret and still holds
that exact token as outstanding: in-flight executions keep working, and no
new unsigned token is ever minted.

Pure: no clock, no randomness; the same state mints the same token.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re

from stepq.core.execution import ExecutionMeta, ExecutionState

MAC_BYTES = 24
MAX_TOKEN_CHARS = 2048  # Step Functions' own limit for a taskToken
_MAC_CHARS = (MAC_BYTES * 8 + 5) // 6
_MAC_LABEL = b"stepq-task-token/v1:"
_INSECURE_LABEL = "stepq-insecure-token-key/v1"
_B64URL = re.compile(r"^[A-Za-z0-9_-]+$")


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def token_key(meta: ExecutionMeta) -> bytes:
    """The HMAC key of one execution's tokens."""
    if meta.token_secret:
        return meta.token_secret.encode()
    # No secret from the host: deterministic and guessable, for in-process use only.
    basis = f"{_INSECURE_LABEL}|{meta.execution_arn}|{meta.start_time.isoformat()}"
    return hashlib.sha256(basis.encode()).digest()


def _mac(key: bytes, payload: str) -> str:
    digest = hmac.new(key, _MAC_LABEL + payload.encode("ascii"), hashlib.sha256).digest()
    return _b64(digest[:MAC_BYTES])


def make_token(meta: ExecutionMeta, task_id: str) -> str:
    """A signed callback token for ``task_id`` of the execution ``meta`` describes."""
    raw = json.dumps([meta.execution_arn, task_id], separators=(",", ":")).encode()
    payload = _b64(raw)
    return f"{payload}.{_mac(token_key(meta), payload)}"


def _split(token: object) -> tuple[str, str | None] | None:
    """``(payload, mac)``; ``mac`` is None for a legacy unsigned token."""
    if not isinstance(token, str) or not token or len(token) > MAX_TOKEN_CHARS:
        return None
    payload, dot, mac = token.partition(".")
    if not _B64URL.match(payload):
        return None
    if not dot:
        return payload, None
    if len(mac) != _MAC_CHARS or not _B64URL.match(mac):
        return None
    return payload, mac


def _decode(payload: str) -> tuple[str, str] | None:
    try:
        decoded = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (ValueError, binascii.Error):  # UnicodeDecodeError and JSON errors are ValueErrors
        return None
    if (
        not isinstance(decoded, list)
        or len(decoded) != 2
        or not all(isinstance(part, str) for part in decoded)
    ):
        return None
    return decoded[0], decoded[1]


def parse_token(token: str) -> tuple[str, str] | None:
    """``(execution_arn, task_id)`` named by a well-formed token, else None.

    For routing only: it does not check the signature (``verify_token`` does,
    against the execution's state).
    """
    parts = _split(token)
    return None if parts is None else _decode(parts[0])


def verify_token(state: ExecutionState, token: str) -> bool:
    """Whether ``token`` was minted for this execution with its key."""
    parts = _split(token)
    if parts is None:
        return False
    payload, mac = parts
    if mac is None:  # minted before signing; only as an outstanding token of such an execution
        return state.meta.token_secret is None and token in state.tokens
    named = _decode(payload)
    if named is None or named[0] != state.meta.execution_arn:
        return False
    expected = _mac(token_key(state.meta), payload)
    if hmac.compare_digest(expected.encode("ascii"), mac.encode("ascii")):
        return True
    # Signed under an earlier key of this execution (a random secret kept in its
    # snapshot, before the runtime derived it): good while it is outstanding.
    return token in state.tokens

"""``nextToken``s: opaque to the caller, checked when they come back.

A token is URL-safe base64 of a small JSON object: where the next page
starts, and a fingerprint of the request that made it. A token that does
not decode, or that another request made (other filters, another
execution), is ``InvalidToken``, as Step Functions answers; nothing a caller
puts in a token can reach the store unchecked.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from typing import Any

from stepq.api.protocol import ApiError

DEFAULT_PAGE = 100
MAX_PAGE = 1000


def page_size(value: Any) -> int:
    """``maxResults`` as Step Functions reads it: absent or 0 is the default, 100."""
    if value is None or value == 0:
        return DEFAULT_PAGE
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= MAX_PAGE:
        raise ApiError(
            "ValidationException",
            f"1 validation error detected: Value '{value}' at 'maxResults' failed to satisfy "
            f"constraint: Member must have value between 0 and {MAX_PAGE}",
        )
    return value


def fingerprint(*parts: Any) -> str:
    """A short digest of what a request asked for: a token only fits that request."""
    text = json.dumps(parts, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def make_token(request: str, position: dict[str, Any]) -> str:
    body = json.dumps({"q": request, "p": position}, separators=(",", ":"))
    return base64.urlsafe_b64encode(body.encode()).decode().rstrip("=")


def invalid_token(token: Any) -> ApiError:
    return ApiError("InvalidToken", f"Invalid Token: '{str(token)[:100]}'")


def read_token(token: Any, request: str) -> dict[str, Any] | None:
    """The position ``token`` holds (None: no token, the first page); InvalidToken else."""
    if token is None:
        return None
    bad = invalid_token(token)
    if not isinstance(token, str) or not token:
        raise bad
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        data = json.loads(raw)
    except (binascii.Error, ValueError):
        raise bad from None
    if (
        not isinstance(data, dict)
        or data.get("q") != request
        or not isinstance(data.get("p"), dict)
    ):
        raise bad
    return data["p"]

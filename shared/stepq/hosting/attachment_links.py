"""Attachment URLs on the local API server (``stepq dev``): the stand-in for
presigned S3 URLs.

``PUT /attachments/<execution id>/<attachment id>?expires=<epoch>&sig=<mac>``
stores the body (at most ``MAX_BYTES``) in this server's blob store; ``GET``
with its own signature reads it back. The signature is an HMAC-SHA256 over
the method, the key, the expiry and (PUT) the content type, with a key
derived from the table's signing key (``runtime/signing.py``'s root), so
only the API that handed the URL out can have made it. The URL is a bearer
capability for its short life (default 15 min): it is never logged.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import urllib.parse
from collections.abc import Callable

from stepq.backends.memory.blobs import MemoryBlobs
from stepq.clock import Clock
from stepq.errors import BlobNotFoundError
from stepq.runtime.ports import Store

MAX_BYTES = 25 * 1024 * 1024
PREFIX = "/attachments/"
_LABEL = b"stepq-attachment-url/v1"


class LocalAttachmentUrls:
    """``AttachmentUrls`` over an in-process blob store, signed for this server."""

    def __init__(
        self,
        store: Store,
        clock: Clock,
        base_url: Callable[[], str],
        blobs: MemoryBlobs | None = None,
    ) -> None:
        self._store = store
        self._clock = clock
        self._base_url = base_url
        self.blobs = blobs or MemoryBlobs("attachments")
        self._secret: bytes | None = None

    def upload_url(self, key: str, content_type: str, expires_s: int) -> tuple[str, dict[str, str]]:
        return self._url("PUT", key, expires_s, content_type), {"Content-Type": content_type}

    def download_url(self, key: str, expires_s: int) -> str:
        return self._url("GET", key, expires_s, "")

    def size(self, key: str) -> int | None:
        try:
            return len(self.blobs.get(self._ref(key)))
        except BlobNotFoundError:
            return None

    # --- the server's side --------------------------------------------------------------

    def verify(self, method: str, path: str, content_type: str = "") -> str | None:
        """The key a signed, unexpired ``path`` (with its query) names; None: refuse."""
        location, _, query = path.partition("?")
        if not location.startswith(PREFIX):
            return None
        key = urllib.parse.unquote(location[1:])
        fields = urllib.parse.parse_qs(query)
        try:
            expires = int(fields["expires"][0])
            sig = fields["sig"][0]
        except (KeyError, ValueError, IndexError):
            return None
        if expires < self._clock.now().timestamp():
            return None
        expected = self._sig(method, key, expires, content_type if method == "PUT" else "")
        if not hmac.compare_digest(expected.encode(), sig.encode("ascii", "replace")):
            return None
        return key

    def put(self, key: str, data: bytes) -> None:
        self.blobs.put(key, data)

    def get(self, key: str) -> bytes | None:
        try:
            return self.blobs.get(self._ref(key))
        except BlobNotFoundError:
            return None

    # --- internals ---------------------------------------------------------------------

    def _ref(self, key: str) -> str:
        return f"s3://{self.blobs.bucket}/{key}"

    def _url(self, method: str, key: str, expires_s: int, content_type: str) -> str:
        expires = int(self._clock.now().timestamp()) + expires_s
        query = urllib.parse.urlencode(
            {"expires": expires, "sig": self._sig(method, key, expires, content_type)}
        )
        return f"{self._base_url()}/{urllib.parse.quote(key)}?{query}"

    def _sig(self, method: str, key: str, expires: int, content_type: str) -> str:
        if self._secret is None:
            self._secret = hmac.new(self._store.signing_key(), _LABEL, hashlib.sha256).digest()
        text = f"{method}\n{key}\n{expires}\n{content_type}".encode()
        digest = hmac.new(self._secret, text, hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).decode("ascii").rstrip("=")

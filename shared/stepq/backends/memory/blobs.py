"""In-process ``Blobs``: refs look like S3's so code and logs read the same."""

from __future__ import annotations

import threading

from stepq.errors import BlobNotFoundError
from stepq.runtime.ports import check_blob_key, parse_ref

__all__ = ["MemoryBlobs"]


class MemoryBlobs:
    """In-process ``Blobs``; refs look like S3's so code and logs read the same."""

    def __init__(self, bucket: str = "memory") -> None:
        self.bucket = bucket
        self._data: dict[tuple[str, str], bytes] = {}
        self._lock = threading.Lock()

    def put(self, key: str, data: bytes) -> str:
        check_blob_key(key)
        with self._lock:
            self._data[(self.bucket, key)] = bytes(data)
        return f"s3://{self.bucket}/{key}"

    def get(self, ref: str) -> bytes:
        location = parse_ref(ref)
        with self._lock:
            data = self._data.get(location)
        if data is None:
            raise BlobNotFoundError(f"get {ref!r}: no such blob or bucket (NoSuchKey)", "NoSuchKey")
        return data

    def ensure_bucket(self) -> None:
        """Nothing to create; present so both backends set up the same way."""

"""The ``Blobs`` port: large payloads kept out of queue messages and table items.

CONTRACT (others code against these signatures):

    S3Blobs(bucket, client, *, region=None)
        .put(key, data) -> str          # "s3://<bucket>/<key>"
        .get(ref) -> bytes              # any "s3://bucket/key" ref
        .ensure_bucket() -> None        # idempotent
    MemoryBlobs(bucket="memory")
        .put(key, data) -> str          # "s3://<bucket>/<key>", same shape as S3Blobs
        .get(ref) -> bytes
        .ensure_bucket() -> None
    parse_ref(ref) -> tuple[str, str]   # (bucket, key); ValueError when not an s3:// ref
    BlobError(StepqError), BlobNotFoundError(BlobError)

boto3/botocore are imported lazily so ``MemoryBlobs`` works without the
``aws`` extra; the S3 client is injected, never built here.
"""

from __future__ import annotations

import threading
from typing import Any

from stepq.errors import StepqError
from stepq.runtime.ports import NotFoundError

__all__ = ["BlobError", "BlobNotFoundError", "MemoryBlobs", "S3Blobs", "parse_ref"]

_MISSING = frozenset({"NoSuchKey", "NoSuchBucket", "404", "NotFound"})
_OWNED = frozenset({"BucketAlreadyOwnedByYou"})


class BlobError(StepqError):
    """A blob could not be stored or read. ``code`` is the backend's code, or ``""``."""

    def __init__(self, message: str, code: str = "") -> None:
        super().__init__(message)
        self.code = code


class BlobNotFoundError(BlobError, NotFoundError):
    """No blob (or no bucket) behind the ref.

    Also a ``ports.NotFoundError``, so a store reading a blob it wrote
    reports a missing one as it reports any other missing item.
    """


def parse_ref(ref: str) -> tuple[str, str]:
    """Split ``s3://bucket/key`` into (bucket, key)."""
    if not isinstance(ref, str) or not ref.startswith("s3://"):
        raise ValueError(f"not a blob ref (expected s3://bucket/key): {ref!r}")
    bucket, sep, key = ref[len("s3://") :].partition("/")
    if not bucket or not sep or not key:
        raise ValueError(f"not a blob ref (expected s3://bucket/key): {ref!r}")
    return bucket, key


def _check_key(key: str) -> None:
    # S3 keys are 1..1024 UTF-8 bytes; refusing here gives one message for every backend.
    if not key or len(key.encode("utf-8")) > 1024:
        raise ValueError(f"a blob key must be 1..1024 UTF-8 bytes, got {key!r:.60}")


class S3Blobs:
    """``Blobs`` in one S3 bucket (or an S3-compatible endpoint) over an injected client."""

    def __init__(self, bucket: str, client: Any, *, region: str | None = None) -> None:
        self.bucket = bucket
        self._client = client
        self._region = region or getattr(getattr(client, "meta", None), "region_name", None)

    def put(self, key: str, data: bytes) -> str:
        _check_key(key)
        self._call(
            "put", key, lambda: self._client.put_object(Bucket=self.bucket, Key=key, Body=data)
        )
        return f"s3://{self.bucket}/{key}"

    def get(self, ref: str) -> bytes:
        bucket, key = parse_ref(ref)
        reply = self._call("get", ref, lambda: self._client.get_object(Bucket=bucket, Key=key))
        body = reply["Body"]
        try:
            return body.read()
        finally:
            body.close()

    def ensure_bucket(self) -> None:
        request: dict[str, Any] = {"Bucket": self.bucket}
        if self._region and self._region != "us-east-1":
            # Outside us-east-1, S3 needs the region named again.
            request["CreateBucketConfiguration"] = {"LocationConstraint": self._region}
        from botocore.exceptions import ClientError

        try:
            self._client.create_bucket(**request)
        except ClientError as exc:
            if _code(exc) not in _OWNED:
                raise _to_blob_error("create bucket", self.bucket, exc) from exc

    def _call(self, action: str, what: str, call: Any) -> Any:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return call()
        except ClientError as exc:
            raise _to_blob_error(action, what, exc) from exc
        except BotoCoreError as exc:
            raise BlobError(f"{action} {what!r} failed: {exc}") from exc


def _code(exc: Any) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _to_blob_error(action: str, what: str, exc: Any) -> BlobError:
    code = _code(exc)
    if code in _MISSING:
        return BlobNotFoundError(f"{action} {what!r}: no such blob or bucket ({code})", code)
    text = exc.response.get("Error", {}).get("Message", "")
    return BlobError(f"{action} {what!r} failed: {code}: {text}", code)


class MemoryBlobs:
    """In-process ``Blobs``; refs look like S3's so code and logs read the same."""

    def __init__(self, bucket: str = "memory") -> None:
        self.bucket = bucket
        self._data: dict[tuple[str, str], bytes] = {}
        self._lock = threading.Lock()

    def put(self, key: str, data: bytes) -> str:
        _check_key(key)
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

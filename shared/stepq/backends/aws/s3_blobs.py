"""``Blobs`` in S3: large payloads kept out of queue messages and table items.

The client is injected, never built here; botocore is imported lazily.
``put`` returns ``s3://<bucket>/<key>``; ``get`` takes any such ref.
"""

from __future__ import annotations

from typing import Any

from stepq.backends.aws.botocore_common import error_code, error_message
from stepq.errors import BlobError, BlobNotFoundError
from stepq.runtime.ports import check_blob_key, parse_ref

__all__ = ["S3Blobs"]

_MISSING = frozenset({"NoSuchKey", "NoSuchBucket", "404", "NotFound"})
_OWNED = frozenset({"BucketAlreadyOwnedByYou"})


class S3Blobs:
    """``Blobs`` in one S3 bucket (or an S3-compatible endpoint) over an injected client."""

    def __init__(self, bucket: str, client: Any, *, region: str | None = None) -> None:
        self.bucket = bucket
        self._client = client
        self._region = region or getattr(getattr(client, "meta", None), "region_name", None)

    def put(self, key: str, data: bytes) -> str:
        check_blob_key(key)
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

    # --- attachments (runtime/people/attachments.py's AttachmentUrls) ----------------

    def upload_url(self, key: str, content_type: str, expires_s: int) -> tuple[str, dict[str, str]]:
        """A presigned PUT of ``key``; the client sends the signed Content-Type."""
        check_blob_key(key)
        params = {"Bucket": self.bucket, "Key": key, "ContentType": content_type}
        url = self._call(
            "presign put",
            key,
            lambda: self._client.generate_presigned_url(
                "put_object", Params=params, ExpiresIn=expires_s
            ),
        )
        return url, {"Content-Type": content_type}

    def download_url(self, key: str, expires_s: int) -> str:
        check_blob_key(key)
        params = {"Bucket": self.bucket, "Key": key}
        return str(
            self._call(
                "presign get",
                key,
                lambda: self._client.generate_presigned_url(
                    "get_object", Params=params, ExpiresIn=expires_s
                ),
            )
        )

    def size(self, key: str) -> int | None:
        """The object's size (None: not there): a HEAD."""
        try:
            reply = self._call(
                "head", key, lambda: self._client.head_object(Bucket=self.bucket, Key=key)
            )
        except BlobNotFoundError:
            return None
        return int(reply["ContentLength"])

    def ensure_bucket(self) -> None:
        request: dict[str, Any] = {"Bucket": self.bucket}
        if self._region and self._region != "us-east-1":
            # Outside us-east-1, S3 needs the region named again.
            request["CreateBucketConfiguration"] = {"LocationConstraint": self._region}
        from botocore.exceptions import ClientError

        try:
            self._client.create_bucket(**request)
        except ClientError as exc:
            if error_code(exc) not in _OWNED:
                raise _to_blob_error("create bucket", self.bucket, exc) from exc

    def _call(self, action: str, what: str, call: Any) -> Any:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return call()
        except ClientError as exc:
            raise _to_blob_error(action, what, exc) from exc
        except BotoCoreError as exc:
            raise BlobError(f"{action} {what!r} failed: {exc}") from exc


def _to_blob_error(action: str, what: str, exc: Any) -> BlobError:
    code = error_code(exc)
    if code in _MISSING:
        return BlobNotFoundError(f"{action} {what!r}: no such blob or bucket ({code})", code)
    return BlobError(f"{action} {what!r} failed: {code}: {error_message(exc)}", code)

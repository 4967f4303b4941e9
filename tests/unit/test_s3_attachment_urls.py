"""Presigned S3 attachment URLs (``S3Blobs.upload_url``/``download_url``/``size``)
used over HTTP against moto's server on loopback: what AttachFile hands out in AWS."""

from __future__ import annotations

import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator

import pytest
from stepq.backends.aws.s3_blobs import S3Blobs
from stepq.backends.moto.server import ServicesServer
from stepq.runtime.people.attachments import attachment_key

ARN = "arn:aws:states:us-east-1:111111111111:execution:claims:req-1"


@pytest.fixture(scope="module")
def blobs() -> Iterator[S3Blobs]:
    import boto3
    from botocore.config import Config

    with pytest.MonkeyPatch.context() as mp:
        for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3"):
            mp.delenv(name, raising=False)
        mp.setenv("AWS_ACCESS_KEY_ID", "testing")
        mp.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        server = ServicesServer()
        url = server.start()
        try:
            client = boto3.client(
                "s3",
                region_name="us-east-1",
                endpoint_url=url,
                config=Config(s3={"addressing_style": "path"}, signature_version="s3v4"),
            )
            store = S3Blobs("stepq-attachments", client=client)
            store.ensure_bucket()
            yield store
        finally:
            server.close()


def http(method: str, url: str, data: bytes | None = None, **headers: str) -> tuple[int, bytes]:
    request = urllib.request.Request(url, data=data, headers=headers, method=method)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def test_the_key_is_under_attachments_by_execution() -> None:
    assert attachment_key(ARN, "ab" * 16) == f"attachments/claims:req-1/{'ab' * 16}"


def test_a_presigned_put_then_get_round_trips(blobs: S3Blobs) -> None:
    key = attachment_key(ARN, "1" * 32)
    assert blobs.size(key) is None
    url, headers = blobs.upload_url(key, "application/pdf", 900)
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(url).query)
    assert query["X-Amz-Expires"] == ["900"] and "X-Amz-Signature" in query
    assert urllib.parse.unquote(urllib.parse.urlsplit(url).path).endswith(key)
    assert headers == {"Content-Type": "application/pdf"}
    status, _ = http("PUT", url, b"receipt", **headers)
    assert status == 200
    assert blobs.size(key) == len(b"receipt")
    assert http("GET", blobs.download_url(key, 900)) == (200, b"receipt")


def test_each_url_is_signed_for_its_key_method_and_content_type(blobs: S3Blobs) -> None:
    """moto does not check presigned signatures: that they differ is what is checked."""
    key = attachment_key(ARN, "2" * 32)

    def signature(url: str) -> str:
        return urllib.parse.parse_qs(urllib.parse.urlsplit(url).query)["X-Amz-Signature"][0]

    put = blobs.upload_url(key, "text/plain", 900)[0]
    assert (
        "content-type"
        in urllib.parse.parse_qs(urllib.parse.urlsplit(put).query)["X-Amz-SignedHeaders"][0]
    )
    others = [
        blobs.upload_url(attachment_key(ARN, "3" * 32), "text/plain", 900)[0],
        blobs.upload_url(key, "text/html", 900)[0],
        blobs.download_url(key, 900),
    ]
    assert len({signature(put), *(signature(u) for u in others)}) == 4

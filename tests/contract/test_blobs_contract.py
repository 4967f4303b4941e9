"""One contract for the ``Blobs`` port, run against every backend.

To add a backend (moto server, MinIO, ...): write a context manager yielding
a factory of isolated blob stores (a fresh bucket each) and register it in
``BLOB_BACKENDS``.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from stepq.backends.aws.s3_blobs import S3Blobs
from stepq.backends.memory.blobs import MemoryBlobs
from stepq.errors import BlobError, BlobNotFoundError, NotFoundError, StepqError
from stepq.runtime.ports import parse_ref

_buckets = itertools.count(1)


@contextmanager
def memory_backend() -> Iterator[Callable[[], Any]]:
    def make() -> MemoryBlobs:
        blobs = MemoryBlobs(bucket=f"memory-{next(_buckets)}")
        blobs.ensure_bucket()
        return blobs

    yield make


@contextmanager
def moto_backend() -> Iterator[Callable[[], Any]]:
    import boto3
    from moto import mock_aws

    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")

        def make() -> S3Blobs:
            blobs = S3Blobs(f"stepq-contract-{next(_buckets)}", client=client)
            blobs.ensure_bucket()
            return blobs

        yield make


@contextmanager
def moto_server_backend() -> Iterator[Callable[[], Any]]:
    """S3 over the wire on the session's moto server (started by tests/integration)."""
    import importlib
    import uuid

    import boto3
    from botocore.config import Config

    # on sys.path through tests/contract/conftest.py; started once per test process
    server = importlib.import_module("stepq_test_servers").need("moto-server")
    client = boto3.client(
        "s3",
        region_name="us-east-1",
        endpoint_url=server.url,
        config=Config(s3={"addressing_style": "path"}),  # no bucket.127.0.0.1 host names
    )
    run = uuid.uuid4().hex[:8]  # the server outlives this module: names must not repeat

    def make() -> S3Blobs:
        blobs = S3Blobs(f"stepq-wire-{run}-{next(_buckets)}", client=client)
        blobs.ensure_bucket()
        return blobs

    yield make


BLOB_BACKENDS: dict[str, Callable[[], AbstractContextManager[Callable[[], Any]]]] = {
    "memory": memory_backend,
    "moto": moto_backend,
    "moto-server": moto_server_backend,
}


@pytest.fixture(scope="module")
def module_aws_env() -> Iterator[None]:
    """Dummy credentials, no profile or endpoint: nothing can reach real AWS."""
    with pytest.MonkeyPatch.context() as mp:
        for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3"):
            mp.delenv(name, raising=False)
        mp.setenv("AWS_ACCESS_KEY_ID", "testing")
        mp.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        mp.setenv("AWS_SESSION_TOKEN", "testing")
        mp.setenv("AWS_DEFAULT_REGION", "us-east-1")
        mp.setenv("AWS_CONFIG_FILE", "/nonexistent/stepq-aws-config")
        mp.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/stepq-aws-credentials")
        yield


@pytest.fixture(scope="module", params=list(BLOB_BACKENDS))
def make_blobs(request: pytest.FixtureRequest, module_aws_env: None) -> Iterator[Callable[[], Any]]:
    with BLOB_BACKENDS[request.param]() as make:
        yield make


@pytest.fixture
def blobs(make_blobs: Callable[[], Any]) -> Any:
    return make_blobs()


def test_put_returns_an_s3_ref_that_reads_back(blobs: Any) -> None:
    ref = blobs.put("exec/abc/commit-1.json", b'{"big": true}')
    assert ref == f"s3://{blobs.bucket}/exec/abc/commit-1.json"
    assert parse_ref(ref) == (blobs.bucket, "exec/abc/commit-1.json")
    assert blobs.get(ref) == b'{"big": true}'


def test_overwrite_keeps_the_ref_and_replaces_the_data(blobs: Any) -> None:
    first = blobs.put("k", b"one")
    second = blobs.put("k", b"two")
    assert first == second
    assert blobs.get(first) == b"two"


def test_empty_and_binary_and_large_data(blobs: Any) -> None:
    data = {
        "empty": b"",
        "binary": bytes(range(256)),
        "large": b"\x00\xff" * (600 * 1024),
    }
    refs = {name: blobs.put(f"d/{name}", value) for name, value in data.items()}
    assert {name: blobs.get(ref) for name, ref in refs.items()} == data


def test_keys_with_odd_characters(blobs: Any) -> None:
    key = "arn:aws:states:us-east-1:1:execution:m:e/ünï code#1?.json"
    assert blobs.get(blobs.put(key, b"x")) == b"x"


@settings(
    max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    data=st.binary(max_size=2048),
    key=st.text(st.characters(codec="ascii", min_codepoint=33), min_size=1, max_size=40),
)
def test_round_trip_property(blobs: Any, data: bytes, key: str) -> None:
    assert blobs.get(blobs.put(key, data)) == data


def test_missing_key_is_blob_not_found(blobs: Any) -> None:
    with pytest.raises(BlobNotFoundError) as caught:
        blobs.get(f"s3://{blobs.bucket}/never-written")
    assert isinstance(caught.value, BlobError)
    assert not isinstance(caught.value, NotFoundError)  # that means "no such execution"
    assert isinstance(caught.value, StepqError)
    assert caught.value.code


def test_missing_bucket_is_blob_not_found(blobs: Any) -> None:
    with pytest.raises(BlobNotFoundError):
        blobs.get("s3://stepq-no-such-bucket-anywhere/k")


@pytest.mark.parametrize(
    "ref", ["k", "http://b/k", "s3://", "s3://bucket", "s3://bucket/", "s3:///k"]
)
def test_malformed_ref_is_a_value_error(blobs: Any, ref: str) -> None:
    with pytest.raises(ValueError):
        blobs.get(ref)


@pytest.mark.parametrize("key", ["", "k" * 1025])
def test_bad_key_is_a_value_error(blobs: Any, key: str) -> None:
    with pytest.raises(ValueError):
        blobs.put(key, b"x")


def test_ensure_bucket_is_idempotent(blobs: Any) -> None:
    ref = blobs.put("kept", b"1")
    blobs.ensure_bucket()
    blobs.ensure_bucket()
    assert blobs.get(ref) == b"1"


# --- S3 only: region handling and error mapping ---------------------------------


def test_s3_bucket_outside_us_east_1(module_aws_env: None) -> None:
    import boto3
    from moto import mock_aws

    with mock_aws():
        client = boto3.client("s3", region_name="eu-west-1")
        blobs = S3Blobs("stepq-eu", client=client)
        blobs.ensure_bucket()
        blobs.ensure_bucket()
        assert blobs.get(blobs.put("k", b"v")) == b"v"
        where = client.get_bucket_location(Bucket="stepq-eu")["LocationConstraint"]
        assert where == "eu-west-1"


def test_s3_put_into_missing_bucket_is_blob_not_found(module_aws_env: None) -> None:
    import boto3
    from moto import mock_aws

    with mock_aws():
        blobs = S3Blobs("stepq-never-created", client=boto3.client("s3", region_name="us-east-1"))
        with pytest.raises(BlobNotFoundError):
            blobs.put("k", b"v")

"""Backends the store contract suite runs against.

To add a backend (DynamoDB Local, moto server, ...), write a context manager
yielding a ``Backend`` and register it in ``BACKENDS`` (and, if it is
DynamoDB, in ``DYNAMODB_BACKENDS``). ``make()`` must return a store isolated
from every other store it returned (a fresh table, say); a server may be
shared for the whole session. Call ``pytest.skip`` inside the context
manager when the backend cannot run on this machine.
"""

from __future__ import annotations

import functools
import importlib
import itertools
import sys
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import pytest
from stepq.backends.memory.store import MemoryStore
from stepq.clock import Clock
from stepq.hosting.embedded import SerializedClient
from stepq.runtime.ports import Blobs, Store


class StoreFactory(Protocol):
    def __call__(
        self,
        *,
        blobs: Blobs | None = None,
        clock: Clock | None = None,
        blob_threshold: int | None = None,
        retention_days: int | None = None,
    ) -> Store: ...


@dataclass
class Backend:
    name: str
    make: StoreFactory
    client: Any = None  # the boto3 DynamoDB client, for DynamoDB backends


@contextmanager
def memory_backend() -> Iterator[Backend]:
    def make(
        *,
        blobs: Blobs | None = None,
        clock: Clock | None = None,
        blob_threshold: int | None = None,
        retention_days: int | None = None,
    ) -> Store:
        # DynamoDB's item size limit, lifted when a blob store would take large values
        return MemoryStore(clock=clock, blobs=blobs, retention_days=retention_days)

    yield Backend("memory", make)


@contextmanager
def moto_backend(direct: bool = False) -> Iterator[Backend]:
    """moto in-process behind boto3, or (``direct``) through ``MotoClient`` as the
    embedded backend calls it."""
    import boto3
    from moto import mock_aws
    from stepq.backends.aws.dynamodb_store import (
        DEFAULT_BLOB_THRESHOLD,
        DynamoDBStore,
        create_table,
        default_client_config,
    )
    from stepq.backends.moto import speedups
    from stepq.backends.moto.client import MotoClient

    speedups.apply()  # moto as the embedded backend runs it (moto-server runs it as shipped)
    with mock_aws():
        boto = boto3.client("dynamodb", region_name="us-east-1", config=default_client_config())
        client = SerializedClient(MotoClient("dynamodb") if direct else boto)
        numbers = itertools.count(1)

        def make(
            *,
            blobs: Blobs | None = None,
            clock: Clock | None = None,
            blob_threshold: int | None = None,
            retention_days: int | None = None,
        ) -> Store:
            name = f"stepq-contract-{next(numbers)}"
            create_table(boto, name)  # waiters need botocore
            threshold = DEFAULT_BLOB_THRESHOLD if blob_threshold is None else blob_threshold
            return DynamoDBStore(
                name,
                client,
                blobs=blobs,
                clock=clock,
                blob_threshold=threshold,
                retention_days=retention_days,
            )

        yield Backend("moto-direct" if direct else "moto", make, client)


# --- over the wire: servers on loopback ports (tests/integration/stepq_test_servers.py) ---

# The over-the-wire backends' names; their tests also carry the ``integration`` mark.
WIRE_BACKENDS = ("dynamodb-local", "moto-server")
_SERVERS_DIR = str(Path(__file__).resolve().parents[1] / "integration")
if _SERVERS_DIR not in sys.path:
    sys.path.insert(0, _SERVERS_DIR)


def wire_server(name: str) -> Any:
    """The session's ``name`` server (started on first use), or a skip saying why not."""
    return importlib.import_module("stepq_test_servers").need(name)


@contextmanager
def _wire_store_backend(name: str, server_name: str, serialize: bool) -> Iterator[Backend]:
    import boto3
    from stepq.backends.aws.dynamodb_store import (
        DEFAULT_BLOB_THRESHOLD,
        DynamoDBStore,
        create_table,
        default_client_config,
    )

    server = wire_server(server_name)
    client: Any = boto3.client(
        "dynamodb",
        region_name="us-east-1",
        endpoint_url=server.url,
        config=default_client_config(),
    )
    if serialize:  # moto's DynamoDB checks conditions without a lock, in a server too
        client = SerializedClient(client)
    run = uuid.uuid4().hex[:8]  # the server outlives this backend: names must not repeat
    numbers = itertools.count(1)

    def make(
        *,
        blobs: Blobs | None = None,
        clock: Clock | None = None,
        blob_threshold: int | None = None,
        retention_days: int | None = None,
    ) -> Store:
        table = f"stepq-contract-{run}-{next(numbers)}"
        create_table(client, table)
        threshold = DEFAULT_BLOB_THRESHOLD if blob_threshold is None else blob_threshold
        return DynamoDBStore(
            table,
            client,
            blobs=blobs,
            clock=clock,
            blob_threshold=threshold,
            retention_days=retention_days,
        )

    yield Backend(name, make, client)


def dynamodb_local_backend() -> AbstractContextManager[Backend]:
    return _wire_store_backend("dynamodb-local", "dynamodb-local", serialize=False)


def moto_server_backend() -> AbstractContextManager[Backend]:
    return _wire_store_backend("moto-server", "moto-server", serialize=True)


BACKENDS: dict[str, Callable[[], AbstractContextManager[Backend]]] = {
    "memory": memory_backend,
    "moto": moto_backend,
    "moto-direct": functools.partial(moto_backend, direct=True),
    "dynamodb-local": dynamodb_local_backend,
    "moto-server": moto_server_backend,
}
DYNAMODB_BACKENDS = ["moto", "moto-direct", "dynamodb-local", "moto-server"]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark the over-the-wire cases ``integration`` (``-m "not integration"`` leaves them out)."""
    for item in items:
        params = getattr(getattr(item, "callspec", None), "params", {})
        if any(isinstance(v, str) and v in WIRE_BACKENDS for v in params.values()):
            item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="session", autouse=True)
def _stop_wire_servers_at_session_end() -> Iterator[None]:
    yield
    servers = sys.modules.get("stepq_test_servers")
    if servers is not None:
        servers.stop_all()


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Dummy credentials and no profile or endpoint: nothing can reach real AWS."""
    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_DYNAMODB"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent/stepq-aws-config")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/stepq-aws-credentials")


@pytest.fixture(params=list(BACKENDS))
def backend(request: pytest.FixtureRequest, aws_env: None) -> Iterator[Backend]:
    with BACKENDS[request.param]() as found:
        yield found


@pytest.fixture(params=DYNAMODB_BACKENDS)
def dynamodb_backend(request: pytest.FixtureRequest, aws_env: None) -> Iterator[Backend]:
    with BACKENDS[request.param]() as found:
        yield found


@pytest.fixture
def store_factory(backend: Backend) -> StoreFactory:
    return backend.make


@pytest.fixture
def store(store_factory: StoreFactory) -> Store:
    return store_factory()

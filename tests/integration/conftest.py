"""Session fixtures: DynamoDB Local and moto server on free loopback ports.

Started on first use, stopped when the session ends (see stepq_test_servers).
A server that cannot run here skips the tests that need it, with the reason.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import stepq_test_servers as servers


@pytest.fixture(scope="session", autouse=True)
def _stop_servers_at_session_end() -> Iterator[None]:
    yield
    servers.stop_all()


@pytest.fixture(scope="session")
def wire_env() -> Iterator[None]:
    """Dummy credentials, no profile, no endpoint from the environment, no proxy."""
    with pytest.MonkeyPatch.context() as mp:
        for name, value in servers.dummy_aws_env().items():
            if value is None:
                mp.delenv(name, raising=False)
            else:
                mp.setenv(name, value)
        yield


@pytest.fixture(scope="session")
def dynamodb_local(wire_env: None) -> servers.Server:
    return servers.need(servers.DYNAMODB_LOCAL)


@pytest.fixture(scope="session")
def moto_server(wire_env: None) -> servers.Server:
    return servers.need(servers.MOTO_SERVER)

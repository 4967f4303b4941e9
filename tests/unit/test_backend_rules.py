"""Rules both ``Store`` backends share (``stepq.backends``), and botocore's error fields."""

from __future__ import annotations

import pytest
from stepq.backends import is_own_resend
from stepq.backends.aws.botocore_common import client_config, error_code, error_message

botocore = pytest.importorskip("botocore")
from botocore.exceptions import ClientError  # noqa: E402


def test_only_our_own_identical_write_counts_as_a_resend() -> None:
    ours = {"pk": {"S": "EX#1"}, "sk": {"S": "C#0000000002"}, "cause_id": {"S": "a"}}
    assert is_own_resend(dict(ours), ours)
    assert not is_own_resend({**ours, "cause_id": {"S": "b"}}, ours)  # another writer won
    assert not is_own_resend(None, ours)  # the service did not say what is in the way


def test_client_error_fields() -> None:
    full = ClientError({"Error": {"Code": "Throttled", "Message": "slow down"}}, "PutItem")
    assert (error_code(full), error_message(full)) == ("Throttled", "slow down")
    bare = ClientError({}, "PutItem")
    assert (error_code(bare), error_code(bare, "Unknown"), error_message(bare)) == (
        "",
        "Unknown",
        "",
    )


def test_clients_retry_adaptively() -> None:
    assert client_config().retries == {"mode": "adaptive", "max_attempts": 10}

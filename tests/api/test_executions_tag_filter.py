"""SearchExecutions' ``tags`` filter over real HTTP: executions of the machines carrying tags."""

from __future__ import annotations

import http.client
import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlparse

import pytest
from stepq.hosting.dev import DevServer

from api.executions_support import PASS_ONLY, create_machine, shared_dev


@pytest.fixture(scope="module")
def dev() -> Iterator[DevServer]:
    yield from shared_dev()


def _search(dev: DevServer, **params: Any) -> tuple[int, dict[str, Any]]:
    return _post(dev, "Stepq.SearchExecutions", params)


def _post(dev: DevServer, target: str, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    url = urlparse(dev.url)
    conn = http.client.HTTPConnection(url.hostname or "", url.port, timeout=10)
    headers = {
        "Content-Type": "application/x-amz-json-1.0",
        "X-Amz-Target": target,
    }
    try:
        conn.request("POST", "/", body=json.dumps(params).encode(), headers=headers)
        reply = conn.getresponse()
        return reply.status, json.loads(reply.read())
    finally:
        conn.close()


def _names(page: dict[str, Any]) -> set[str]:
    return {item["name"] for item in page["executions"]}


@pytest.fixture(scope="module")
def tagged(dev: DevServer) -> dict[str, str]:
    """Three machines, one execution each: blue (team=blue, tier), red (team=red), plain."""
    import boto3
    from botocore.config import Config

    sfn = boto3.client(
        "stepfunctions",
        endpoint_url=dev.url,
        region_name="us-east-1",
        aws_access_key_id="x",
        aws_secret_access_key="x",
        config=Config(retries={"max_attempts": 1}),
    )
    arns = {n: create_machine(sfn, dev, f"tagf-{n}", PASS_ONLY) for n in ("blue", "red", "plain")}
    sfn.tag_resource(
        resourceArn=arns["blue"], tags=[{"key": "team", "value": "blue"}, {"key": "tier"}]
    )
    sfn.tag_resource(resourceArn=arns["red"], tags=[{"key": "team", "value": "red"}])
    started = [
        sfn.start_execution(stateMachineArn=arn, name=f"run-{n}")["executionArn"]
        for n, arn in arns.items()
    ]
    dev.runtime.wait_finished(started, timeout=30)
    return arns


def test_a_key_and_value_match_only_that_machines_executions(
    dev: DevServer, tagged: dict[str, str]
) -> None:
    status, found = _search(dev, tags=[{"key": "team", "value": "blue"}])
    assert status == 200 and _names(found) == {"run-blue"}
    assert found["executions"][0]["stateMachineArn"] == tagged["blue"]
    # Every filter must hold: team=red and tier together match no machine.
    status, found = _search(dev, tags=[{"key": "team", "value": "red"}, {"key": "tier"}])
    assert status == 200 and found == {"executions": []}


def test_a_key_alone_matches_any_value(dev: DevServer, tagged: dict[str, str]) -> None:
    status, found = _search(dev, tags=[{"key": "team"}])
    assert status == 200 and _names(found) == {"run-blue", "run-red"}
    # With the other filters: a machine name narrows it further.
    status, found = _search(
        dev, tags=[{"key": "team"}], stateMachineName=tagged["red"].rsplit(":", 1)[1]
    )
    assert _names(found) == {"run-red"}


def test_no_machine_matching_gives_an_empty_list(dev: DevServer, tagged: dict[str, str]) -> None:
    status, found = _search(dev, tags=[{"key": "team", "value": "green"}])
    assert status == 200 and found == {"executions": []}
    status, found = _search(dev, tags=[{"key": "nobody"}])
    assert status == 200 and found == {"executions": []}


def test_the_filter_is_part_of_the_page_token(dev: DevServer, tagged: dict[str, str]) -> None:
    status, first = _search(dev, tags=[{"key": "team"}], maxResults=1)
    assert status == 200 and len(first["executions"]) == 1 and "nextToken" in first
    status, second = _search(
        dev, tags=[{"key": "team"}], maxResults=1, nextToken=first["nextToken"]
    )
    assert status == 200 and _names(first) | _names(second) == {"run-blue", "run-red"}
    status, refused = _search(dev, tags=[{"key": "tier"}], nextToken=first["nextToken"])
    assert status == 400 and refused["__type"].endswith("InvalidToken")


@pytest.mark.parametrize(
    "tags",
    [
        [{"value": "blue"}],  # no key
        [{"key": ""}],
        [{"key": "team", "colour": "blue"}],  # an unknown member
        [{"key": "team", "value": 3}],
        [{"key": f"k{i}"} for i in range(11)],  # over the limit of 10
        "team=blue",
    ],
)
def test_a_bad_filter_is_refused(dev: DevServer, tags: Any) -> None:
    status, refused = _search(dev, tags=tags)
    assert status == 400
    assert refused["__type"].endswith("ValidationException")
    assert "tags" in refused["message"]


def test_counts_take_the_same_filter(dev: DevServer, tagged: dict[str, str]) -> None:
    status, counted = _post(dev, "Stepq.CountExecutions", {"tags": [{"key": "team"}]})
    assert status == 200 and (counted["total"], counted["counts"]["SUCCEEDED"]) == (2, 2)
    status, counted = _post(dev, "Stepq.CountExecutions", {"tags": [{"key": "x", "value": "y"}]})
    assert status == 200 and counted["total"] == 0
    status, refused = _post(dev, "Stepq.CountExecutions", {"tags": [{"value": "y"}]})
    assert status == 400 and refused["__type"].endswith("ValidationException")

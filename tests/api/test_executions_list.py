"""ListExecutions and stepq's SearchExecutions over real HTTP: filters and pagination."""

from __future__ import annotations

import base64
import http.client
import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlparse

import pytest
from stepq.hosting.dev import DevServer

from api.executions_support import (
    FAILS,
    PASS_ONLY,
    WAIT_LONG,
    create_alias,
    create_machine,
    publish_version,
    shared_dev,
)


@pytest.fixture(scope="module")
def dev() -> Iterator[DevServer]:
    yield from shared_dev()


def _search(dev: DevServer, **params: Any) -> tuple[int, dict[str, Any]]:
    url = urlparse(dev.url)
    conn = http.client.HTTPConnection(url.hostname or "", url.port, timeout=10)
    headers = {
        "Content-Type": "application/x-amz-json-1.0",
        "X-Amz-Target": "Stepq.SearchExecutions",
    }
    try:
        conn.request("POST", "/", body=json.dumps(params).encode(), headers=headers)
        reply = conn.getresponse()
        return reply.status, json.loads(reply.read())
    finally:
        conn.close()


def _start_all(sfn: Any, dev: DevServer, machine: str, names: list[str]) -> list[str]:
    arns = [sfn.start_execution(stateMachineArn=machine, name=n)["executionArn"] for n in names]
    dev.runtime.wait_finished(arns, timeout=30)
    return arns


def _names(page: dict[str, Any]) -> list[str]:
    return [item["name"] for item in page["executions"]]


def test_list_is_newest_first_and_pages_without_repeats_or_gaps(sfn: Any, dev: DevServer) -> None:
    machine = create_machine(sfn, dev, "paged", PASS_ONLY)
    names = [f"run-{i:02d}" for i in range(7)]
    _start_all(sfn, dev, machine, names)
    whole = sfn.list_executions(stateMachineArn=machine)
    assert _names(whole) == names[::-1] and "nextToken" not in whole
    item = whole["executions"][0]
    assert item["stateMachineArn"] == machine and item["status"] == "SUCCEEDED"
    assert item["stopDate"] >= item["startDate"] and item["redriveCount"] == 0
    pages, token = [], None
    while True:
        kwargs = {"nextToken": token} if token else {}
        page = sfn.list_executions(stateMachineArn=machine, maxResults=3, **kwargs)
        pages.append(_names(page))
        token = page.get("nextToken")
        if token is None:
            break
    assert pages == [names[6:3:-1], names[3:0:-1], names[:1]]
    # boto3's paginator drives the same tokens.
    paginator = sfn.get_paginator("list_executions")
    found = [
        n
        for p in paginator.paginate(stateMachineArn=machine, PaginationConfig={"PageSize": 2})
        for n in _names(p)
    ]
    assert found == names[::-1]


def test_status_and_redrive_filters(sfn: Any, dev: DevServer) -> None:
    waits = create_machine(sfn, dev, "mixed", WAIT_LONG)
    running = sfn.start_execution(stateMachineArn=waits, name="running")["executionArn"]
    stopped = sfn.start_execution(stateMachineArn=waits, name="stopped")["executionArn"]
    sfn.stop_execution(executionArn=stopped)
    assert _names(sfn.list_executions(stateMachineArn=waits, statusFilter="RUNNING")) == ["running"]
    assert _names(sfn.list_executions(stateMachineArn=waits, statusFilter="ABORTED")) == ["stopped"]
    assert sfn.list_executions(stateMachineArn=waits, statusFilter="FAILED")["executions"] == []
    assert _names(sfn.list_executions(stateMachineArn=waits, redriveFilter="NOT_REDRIVEN")) == [
        "stopped",
        "running",
    ]
    assert sfn.list_executions(stateMachineArn=waits, redriveFilter="REDRIVEN")["executions"] == []
    sfn.stop_execution(executionArn=running)


def test_a_version_or_alias_arn_lists_the_executions_started_through_it(
    sfn: Any, dev: DevServer
) -> None:
    machine = create_machine(sfn, dev, "routed", PASS_ONLY)
    version = publish_version(sfn, dev, machine)
    alias = create_alias(sfn, dev, machine, "prod", version)
    _start_all(sfn, dev, machine, ["plain"])
    for name, arn in (("by-version", version), ("by-alias", alias)):
        started = sfn.start_execution(stateMachineArn=arn, name=name)["executionArn"]
        dev.runtime.wait_finished([started], timeout=30)
    assert _names(sfn.list_executions(stateMachineArn=machine)) == [
        "by-alias",
        "by-version",
        "plain",
    ]
    listed = sfn.list_executions(stateMachineArn=version)["executions"]
    assert [i["name"] for i in listed] == ["by-alias", "by-version"]
    assert all(i["stateMachineVersionArn"] == version for i in listed)
    listed = sfn.list_executions(stateMachineArn=alias)["executions"]
    assert [(i["name"], i["stateMachineAliasArn"]) for i in listed] == [("by-alias", alias)]
    page = sfn.list_executions(stateMachineArn=version, maxResults=1)
    assert _names(page) == ["by-alias"]
    following = sfn.list_executions(
        stateMachineArn=version, maxResults=1, nextToken=page["nextToken"]
    )
    assert _names(following) == ["by-version"] and "nextToken" not in following
    with pytest.raises(sfn.exceptions.StateMachineDoesNotExist):
        sfn.list_executions(stateMachineArn=machine + ":99")
    with pytest.raises(sfn.exceptions.ResourceNotFound):
        sfn.list_executions(stateMachineArn=machine + ":nobody")


def test_tokens_fit_only_the_request_that_made_them(sfn: Any, dev: DevServer) -> None:
    machine = create_machine(sfn, dev, "tokens", PASS_ONLY)
    _start_all(sfn, dev, machine, ["a", "b", "c"])
    token = sfn.list_executions(stateMachineArn=machine, maxResults=1)["nextToken"]
    with pytest.raises(sfn.exceptions.InvalidToken):
        sfn.list_executions(stateMachineArn=machine, statusFilter="FAILED", nextToken=token)
    forged = base64.urlsafe_b64encode(b'{"q": "x", "p": {}}').decode()
    for bad in ("garbage!!", forged, "e30"):
        with pytest.raises(sfn.exceptions.InvalidToken):
            sfn.list_executions(stateMachineArn=machine, nextToken=bad)


def test_list_refuses_what_it_cannot_list(sfn: Any, dev: DevServer) -> None:
    with pytest.raises(sfn.exceptions.StateMachineDoesNotExist):
        sfn.list_executions(stateMachineArn="arn:aws:states:us-east-1:111111111111:stateMachine:no")
    with pytest.raises(sfn.exceptions.InvalidArn):
        sfn.list_executions(stateMachineArn="arn:aws:states:us-east-1:111111111111:activity:no")
    with pytest.raises(sfn.exceptions.ValidationException):
        sfn.list_executions()
    with pytest.raises(sfn.exceptions.ResourceNotFound):
        sfn.list_executions(mapRunArn="arn:aws:states:us-east-1:111111111111:mapRun:m/e:label")
    express = create_machine(sfn, dev, "express-list", PASS_ONLY, kind="EXPRESS")
    with pytest.raises(sfn.exceptions.StateMachineTypeNotSupported):
        sfn.list_executions(stateMachineArn=express)


def test_search_filters_by_machine_status_name_prefix_and_start_time(
    sfn: Any, dev: DevServer
) -> None:
    good = create_machine(sfn, dev, "search-good", PASS_ONLY)
    bad = create_machine(sfn, dev, "search-bad", FAILS)
    good_arns = _start_all(sfn, dev, good, ["order-1", "order-2", "refund-1"])
    bad_arns = _start_all(sfn, dev, bad, ["order-3"])
    good_name = good.rsplit(":", 1)[1]

    status, found = _search(dev, stateMachineName=good_name)
    assert status == 200 and _names(found) == ["refund-1", "order-2", "order-1"]
    status, found = _search(dev, stateMachineArn=good, namePrefix="order-")
    assert _names(found) == ["order-2", "order-1"]
    # Every machine: FAILED ones whose names start with "order-".
    status, found = _search(dev, statusFilter="FAILED", namePrefix="order-")
    assert [i["executionArn"] for i in found["executions"]] == bad_arns
    assert found["executions"][0]["stateMachineArn"] == bad
    # A start-time range: from order-2's start (inclusive) to refund-1's (exclusive).
    start = {
        i["name"]: i["startDate"].timestamp()
        for i in sfn.list_executions(stateMachineArn=good)["executions"]
    }
    status, found = _search(
        dev, startedAfter=start["order-2"], startedBefore=start["refund-1"], stateMachineArn=good
    )
    assert _names(found) == ["order-2"]
    status, found = _search(dev, namePrefix="order-", startedAfter="2000-01-01T00:00:00Z")
    assert set(_names(found)) >= {"order-1", "order-2", "order-3"}
    assert len(good_arns) == 3


def test_search_pages_across_machines(sfn: Any, dev: DevServer) -> None:
    first = create_machine(sfn, dev, "across-a", PASS_ONLY)
    second = create_machine(sfn, dev, "across-b", PASS_ONLY)
    _start_all(sfn, dev, first, ["xa-1", "xa-2"])
    _start_all(sfn, dev, second, ["xb-1", "xb-2"])
    _start_all(sfn, dev, first, ["xa-3"])
    pages, token = [], None
    while True:
        params: dict[str, Any] = {"namePrefix": "x", "maxResults": 2}
        if token:
            params["nextToken"] = token
        status, page = _search(dev, **params)
        assert status == 200
        pages.append(_names(page))
        token = page.get("nextToken")
        if not token:
            break
    assert pages == [["xa-3", "xb-2"], ["xb-1", "xa-2"], ["xa-1"]]


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"maxResults": 5000}, "ValidationException"),
        ({"statusFilter": "DONE"}, "ValidationException"),
        ({"startedAfter": "yesterday"}, "ValidationException"),
        ({"startedBefore": 1e300}, "ValidationException"),
        ({"namePrefix": 7}, "ValidationException"),
        ({"surprise": 1}, "ValidationException"),
        ({"stateMachineName": "a", "stateMachineArn": "b"}, "ValidationException"),
        ({"stateMachineName": "nobody-here"}, "StateMachineDoesNotExist"),
        ({"stateMachineArn": "nope"}, "InvalidArn"),
        ({"nextToken": "not-a-token"}, "InvalidToken"),
    ],
)
def test_search_refuses_bad_requests_in_the_error_shape(
    dev: DevServer, params: dict[str, Any], code: str
) -> None:
    status, reply = _search(dev, **params)
    assert status == 400 and reply["__type"] == code and reply["message"]

"""Malformed and random requests at every operation: a 4xx in Step Functions' error
shape every time, never a 500 (hypothesis).

Requests are drawn from botocore's own input shapes (so most reach the
operation's code, not just the model check), with values swapped for wrong
types, unknown members, ARNs of real and missing resources, and raw bodies
that are not JSON at all. The handler is called directly (the HTTP front is
covered by test_server.py) on the in-memory backend, for many examples a second.
"""

from __future__ import annotations

import json
import string
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from stepq.api import model
from stepq.api.handler import ApiHandler
from stepq.api.protocol import ApiRequest
from stepq.hosting.dev import DevServer

OPERATIONS = sorted(model.service_model().operation_names)
ACCOUNT = "111111111111"
BASE = f"arn:aws:states:us-east-1:{ACCOUNT}"
PASS = {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}
WAIT = {"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 3600, "End": True}}}
ROLE = f"arn:aws:iam::{ACCOUNT}:role/fuzz"


@pytest.fixture(scope="module")
def world() -> Iterator[tuple[ApiHandler, list[str]]]:
    """A server with a little of everything, and ARNs that exist in it."""
    with DevServer(port=0, environ={}, backend="memory") as dev:
        dev.context.receive_wait = 0.05  # GetActivityTask must not hold the test
        handler = ApiHandler(dev.context)

        def call(operation: str, body: dict[str, Any]) -> dict[str, Any]:
            reply = handler.handle(_request(operation, json.dumps(body).encode()))
            return json.loads(reply.body) if reply.status == 200 else {}

        arns = [f"{BASE}:stateMachine:fuzz", f"{BASE}:stateMachine:fuzz:1"]
        arns.append(f"{BASE}:stateMachine:fuzz:live")
        made = call(
            "CreateStateMachine",
            {"name": "fuzz", "definition": json.dumps(WAIT), "roleArn": ROLE, "publish": True},
        )
        call(
            "CreateStateMachine",
            {"name": "quick", "definition": json.dumps(PASS), "roleArn": ROLE, "type": "EXPRESS"},
        )
        if made.get("stateMachineVersionArn"):
            call(
                "CreateStateMachineAlias",
                {
                    "name": "live",
                    "routingConfiguration": [
                        {"stateMachineVersionArn": made["stateMachineVersionArn"], "weight": 100}
                    ],
                },
            )
        started = call("StartExecution", {"stateMachineArn": arns[0], "name": "e1"})
        arns.append(started.get("executionArn", f"{BASE}:execution:fuzz:e1"))
        arns.append(
            call("CreateActivity", {"name": "act"}).get("activityArn", f"{BASE}:activity:act")
        )
        arns += [
            f"{BASE}:stateMachine:missing",
            f"{BASE}:execution:missing:x",
            f"{BASE}:mapRun:fuzz/e1:label",
            "arn:aws:states:eu-west-1:999999999999:stateMachine:fuzz",
            "arn:aws:iam::111111111111:role/x",
            "not-an-arn",
            "",
        ]
        yield handler, arns


def _request(operation: str, body: bytes, target: str | None = None) -> ApiRequest:
    headers = {
        "content-type": "application/x-amz-json-1.0",
        "x-amz-target": target if target is not None else f"AWSStepFunctions.{operation}",
        "host": "127.0.0.1",
    }
    return ApiRequest("POST", "/", headers, body)


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)


def _value(shape: Any, arns: list[str], depth: int = 0) -> st.SearchStrategy[Any]:
    """Values for ``shape``: mostly the right type, sometimes not."""
    kind = shape.type_name
    if depth > 3:
        return JSON
    if kind == "structure":
        members = {name: _value(member, arns, depth + 1) for name, member in shape.members.items()}
        required = {k: v for k, v in members.items() if k in shape.required_members}
        optional = {k: v for k, v in members.items() if k not in shape.required_members}
        right = st.fixed_dictionaries(required, optional=optional)
        return right | st.fixed_dictionaries(optional) | JSON
    if kind == "list":
        return st.lists(_value(shape.member, arns, depth + 1), max_size=3) | JSON
    if kind == "map":
        return st.dictionaries(
            st.text(max_size=8), _value(shape.value, arns, depth + 1), max_size=3
        )
    if kind == "string":
        enum = shape.enum
        choices: list[st.SearchStrategy[Any]] = [
            st.sampled_from(arns),
            st.text(max_size=90),
            st.text(string.ascii_letters + string.digits + "-_:", min_size=1, max_size=90),
            st.sampled_from(
                [json.dumps(PASS), "{}", "{", '"x"', "null", "[1,2]", "a" * 300_000, "\u0000"]
            ),
        ]
        if enum:
            choices.insert(0, st.sampled_from(enum))
        return st.one_of(choices) | JSON
    if kind in ("integer", "long"):
        return st.integers(min_value=-5, max_value=5000) | JSON
    if kind == "boolean":
        return st.booleans() | JSON
    if kind == "timestamp":
        return st.floats(min_value=-1e12, max_value=1e12) | st.text(max_size=30)
    return JSON


def _body(operation: str, arns: list[str]) -> st.SearchStrategy[bytes]:
    shape = model.operation_model(operation).input_shape
    params = _value(shape, arns) if shape is not None else st.just({})
    as_json = params.map(lambda value: json.dumps(value).encode())
    junk = st.sampled_from([b"", b"{", b"[]", b"null", b'"x"', b"\xff\xfe", b"{}" * 3]) | st.binary(
        max_size=64
    )
    return as_json | junk


def _check(handler: ApiHandler, operation: str, body: bytes) -> None:
    reply = handler.handle(_request(operation, body))
    if reply.status == 200:
        json.loads(reply.body)  # a success is still well-formed JSON
        return
    assert 400 <= reply.status < 500, (operation, body[:300], reply.status, reply.body[:300])
    error = json.loads(reply.body)
    assert set(error) == {"__type", "message"}, error
    assert isinstance(error["__type"], str) and error["__type"], error


@pytest.mark.parametrize("operation", OPERATIONS)
def test_no_request_to_an_operation_gets_a_500(
    world: tuple[ApiHandler, list[str]], operation: str
) -> None:
    handler, arns = world

    @settings(
        max_examples=60,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
        derandomize=True,
    )
    @given(body=_body(operation, arns))
    def check(body: bytes) -> None:
        _check(handler, operation, body)

    check()


@settings(max_examples=80, deadline=None, derandomize=True)
@given(target=st.text(max_size=60), body=st.binary(max_size=64))
def test_unknown_targets_and_junk_get_a_4xx(target: str, body: bytes) -> None:
    handler = ApiHandler.__new__(ApiHandler)  # routing fails before any context is used
    handler.ctx = None  # type: ignore[assignment]
    reply = handler.handle(_request("x", body, target=target))
    assert 400 <= reply.status < 500
    assert json.loads(reply.body)["__type"]

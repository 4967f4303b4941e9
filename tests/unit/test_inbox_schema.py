"""The inbox's message schema (runtime/inbox.py): what parses, and a reason for what does not."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from stepq.errors import MalformedMessageError
from stepq.runtime.inbox import (
    SendTaskFailure,
    SendTaskHeartbeat,
    SendTaskSuccess,
    StartExecution,
    json_value,
    parse_message,
)
from stepq.runtime.ports import Received


def _received(body: Any, message_id: str = "m-1") -> Received:
    raw = body if isinstance(body, str) else json.dumps(body)
    parsed = json.loads(raw) if raw.startswith("{") else None
    return Received(parsed, raw, "r-1", 1, message_id)


@pytest.mark.parametrize(
    ("body", "kind"),
    [
        ({"action": "StartExecution", "stateMachineName": "m"}, StartExecution),
        (
            {"action": "StartExecution", "stateMachineArn": "arn", "name": "n", "input": [1]},
            StartExecution,
        ),
        ({"action": "SendTaskSuccess", "taskToken": "t", "output": None}, SendTaskSuccess),
        ({"action": "SendTaskFailure", "taskToken": "t"}, SendTaskFailure),
        ({"action": "SendTaskHeartbeat", "taskToken": "t"}, SendTaskHeartbeat),
    ],
)
def test_each_action_parses_to_its_model(body: dict[str, Any], kind: type) -> None:
    message, default_name = parse_message(_received(body))
    assert isinstance(message, kind) and default_name == "m-1"


def test_an_eventbridge_event_gives_its_detail_and_its_id() -> None:
    event = {
        "id": "ev-1",
        "detail-type": "x",
        "detail": {"action": "SendTaskHeartbeat", "taskToken": "t"},
    }
    message, default_name = parse_message(_received(event))
    assert isinstance(message, SendTaskHeartbeat) and default_name == "ev-1"


def test_a_lone_surrogate_is_refused_before_it_reaches_a_name() -> None:
    raw = '{"action": "StartExecution", "stateMachineName": "m", "name": "\\ud800"}'
    with pytest.raises(MalformedMessageError, match="not valid Unicode"):
        parse_message(Received(json.loads(raw), raw, "r-1", 1, "m-1"))


def test_output_is_required_even_when_null_would_do() -> None:
    with pytest.raises(MalformedMessageError, match="output: Field required"):
        parse_message(_received({"action": "SendTaskSuccess", "taskToken": "t"}))


def test_json_text_is_parsed_and_values_pass_as_they_are() -> None:
    assert json_value('{"a": 1}', "input") == {"a": 1}
    assert json_value('"text"', "input") == "text"
    assert json_value({"a": [1]}, "input") == {"a": [1]}
    with pytest.raises(MalformedMessageError, match="not JSON text"):
        json_value("plain words", "output")


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=6,
)
fields = st.sampled_from(
    [
        "action",
        "stateMachineArn",
        "stateMachineName",
        "name",
        "input",
        "taskToken",
        "output",
        "error",
        "cause",
        "detail",
        "detail-type",
    ]
)
actions = st.sampled_from(
    ["StartExecution", "SendTaskSuccess", "SendTaskFailure", "SendTaskHeartbeat", "Other"]
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    action=actions,
    body=st.dictionaries(fields, json_values, max_size=6),
)
def test_any_json_object_parses_or_is_refused_with_a_reason(
    action: str, body: dict[str, Any]
) -> None:
    body = {"action": action, **body} if "action" not in body else body
    try:
        parse_message(_received(body))
    except MalformedMessageError as exc:
        assert str(exc)

"""The context object (``$$``) shows only what Step Functions shows: the engine's
private ``__seed__`` (which UUIDs and randoms are drawn from) is not readable
from a definition, whichever way it asks (issue 9: internal fields leaked)."""

from __future__ import annotations

from typing import Any

import pytest
from stepq import LocalRunner, Machine


def _run(state: dict[str, Any]) -> Any:
    machine = Machine({"StartAt": "P", "States": {"P": {**state, "End": True}}}, name="m")
    return LocalRunner({}).run(machine, {"a": 1})


@pytest.mark.parametrize(
    "parameters",
    [
        {"s.$": "$$.__seed__"},  # a context path
        {"s.$": "States.Format('{}', $$.__seed__)"},  # an intrinsic's argument
    ],
)
def test_the_seed_is_not_a_context_field(parameters: dict[str, str]) -> None:
    result = _run({"Type": "Pass", "Parameters": parameters})
    assert result.status == "FAILED"
    assert result.error == "States.Runtime"
    assert "__seed__" in (result.cause or "")  # the path is named as not found


@pytest.mark.parametrize(
    "state",
    [
        {"Type": "Pass", "Parameters": {"s.$": "States.JsonToString($$)"}},
        {"Type": "Pass", "Parameters": {"s.$": "$$"}},
        {"Type": "Pass", "QueryLanguage": "JSONata", "Output": "{% $string($states.context) %}"},
    ],
)
def test_the_whole_context_object_has_no_private_keys(state: dict[str, Any]) -> None:
    result = _run(state)
    assert result.status == "SUCCEEDED", result.cause
    text = str(result.output)
    assert "Execution" in text
    assert "__" not in text


def test_uuids_are_still_drawn_from_the_seed_and_repeat_on_replay() -> None:
    state = {"Type": "Pass", "Parameters": {"u.$": "States.UUID()"}}
    assert _run(state).output == _run(state).output

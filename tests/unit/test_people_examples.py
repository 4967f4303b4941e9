"""The people examples in state_machine/ are sound: valid ASL, every human task's
Parameters a HumanTaskSpec, and every transition routed by the Choice after it.

They cannot run here yet (the people runner answers human tasks), so this is
what is checked of them; the other examples run in tests/functional.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from stepq.core.definition.validate import find_problems
from stepq.core.people.model import (
    HUMAN_TASK_RESOURCE,
    PROCESS_ACTIVITIES_RESOURCE,
    HumanTaskSpec,
    ProcessActivities,
)

EXAMPLES = Path(__file__).resolve().parents[2] / "state_machine"
PEOPLE = sorted(
    p for p in EXAMPLES.glob("*.asl.json") if HUMAN_TASK_RESOURCE in p.read_text(encoding="utf-8")
)


def test_the_people_examples_are_found() -> None:
    assert [p.name for p in PEOPLE] == [
        "expense_approval.asl.json",
        "insurance_claim_people.asl.json",
    ]


def _routed(states: dict[str, Any], task: dict[str, Any]) -> set[str]:
    """The transition names the Choice after ``task`` routes on its ResultPath."""
    route = states[task["Next"]]
    assert route["Type"] == "Choice"
    variable = f"{task['ResultPath']}.Transition"
    return {r["StringEquals"] for r in route["Choices"] if r["Variable"] == variable}


@pytest.mark.parametrize("path", PEOPLE, ids=lambda p: p.name)
def test_a_people_example_is_sound(path: Path) -> None:
    definition = json.loads(path.read_text(encoding="utf-8"))
    assert find_problems(definition) == []
    states = definition["States"]
    tasks = 0
    for name, state in states.items():
        if state.get("Resource") == HUMAN_TASK_RESOURCE:
            tasks += 1
            static = {k: v for k, v in state["Parameters"].items() if not k.endswith(".$")}
            spec = HumanTaskSpec.model_validate(static)
            assert "$$.Task.Token" not in json.dumps(state["Parameters"]), name
            # Its result is kept beside the request's data, and every way out is routed.
            assert state["ResultPath"].startswith("$."), name
            assert _routed(states, state) == {t.Name for t in spec.Transitions}, name
        elif state.get("Resource") == PROCESS_ACTIVITIES_RESOURCE:
            ProcessActivities.model_validate(state["Parameters"])
            assert state["ResultPath"] is None, name  # the data goes on unchanged
    assert tasks >= 2


def test_people_md_shows_the_expense_example_as_it_is() -> None:
    doc = (EXAMPLES.parent / "docs" / "PEOPLE.md").read_text(encoding="utf-8")
    shown = doc.split("### The example", 1)[1].split("```yaml\n", 1)[1].split("```", 1)[0]
    source = (EXAMPLES / "expense_approval.process.yaml").read_text(encoding="utf-8")
    assert shown == source[source.index("process:") :]

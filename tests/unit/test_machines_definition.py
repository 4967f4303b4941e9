"""The core's checks behind the state machine API: Map Labels, EXPRESS limits, variableReferences."""

from __future__ import annotations

from typing import Any

import pytest
from stepq.core.definition import find_problems
from stepq.core.definition.machine_types import type_problems
from stepq.core.definition.references import variable_references


def _map(label: str, name: str = "M", nxt: str | None = None) -> dict[str, Any]:
    state: dict[str, Any] = {
        "Type": "Map",
        "Label": label,
        "ItemProcessor": {
            "StartAt": f"{name}-in",
            "States": {f"{name}-in": {"Type": "Pass", "End": True}},
        },
    }
    state.update({"Next": nxt} if nxt else {"End": True})
    return state


def _one_map(label: str) -> dict[str, Any]:
    return {"StartAt": "M", "States": {"M": _map(label)}}


def test_a_good_label_passes() -> None:
    assert find_problems(_one_map("orders-2024_v1")) == []


@pytest.mark.parametrize(
    ("label", "reason"),
    [
        ("x" * 41, "1 to 40 characters"),
        ("has space", "' '"),
        ("a:b", "':'"),
        ("star*", "'*'"),
        ("tab\there", "'\\t'"),
        ("brace{", "'{'"),
    ],
)
def test_a_label_step_functions_refuses_is_a_problem_at_its_path(label: str, reason: str) -> None:
    problems = find_problems(_one_map(label))
    assert [p.path for p in problems] == ["/States/M/Label"]
    assert reason in problems[0].message


def test_a_label_used_twice_is_a_problem() -> None:
    definition = {"StartAt": "A", "States": {"A": _map("same", "A", "B"), "B": _map("same", "B")}}
    problems = find_problems(definition)
    assert [(p.path, "already used" in p.message) for p in problems] == [("/States/B/Label", True)]


def test_express_machines_refuse_callbacks_jobs_and_activities() -> None:
    definition = {
        "StartAt": "P",
        "States": {
            "P": {
                "Type": "Parallel",
                "End": True,
                "Branches": [
                    {
                        "StartAt": "Cb",
                        "States": {
                            "Cb": {
                                "Type": "Task",
                                "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken",
                                "Next": "Job",
                            },
                            "Job": {
                                "Type": "Task",
                                "Resource": "arn:aws:states:::ecs:runTask.sync",
                                "Next": "Act",
                            },
                            "Act": {
                                "Type": "Task",
                                "Resource": "arn:aws:states:us-east-1:111111111111:activity:a",
                                "Next": "Ok",
                            },
                            "Ok": {
                                "Type": "Task",
                                "Resource": "arn:aws:states:::lambda:invoke",
                                "End": True,
                            },
                        },
                    }
                ],
            }
        },
    }
    assert type_problems(definition, "STANDARD") == []
    paths = [p.path for p in type_problems(definition, "EXPRESS")]
    base = "/States/P/Branches/0/States"
    assert paths == [f"{base}/Cb/Resource", f"{base}/Job/Resource", f"{base}/Act/Resource"]


def test_variable_references_per_state_in_both_languages() -> None:
    definition = {
        "QueryLanguage": "JSONata",
        "StartAt": "A",
        "States": {
            "A": {
                "Type": "Pass",
                "Assign": {"x": "{% $states.input.a + $count %}", "y": "{% $sum($items) %}"},
                "Next": "M",
            },
            "M": {
                "Type": "Map",
                "Items": "{% $list %}",
                "ItemProcessor": {
                    "StartAt": "In",
                    "States": {
                        "In": {
                            "Type": "Pass",
                            "Output": "{% ($z := 1; $z + $outer) %}",
                            "End": True,
                        }
                    },
                },
                "Next": "Quiet",
            },
            "Quiet": {"Type": "Pass", "Output": "{% 'costs $5 or $cheap' %}", "Next": "P"},
            "P": {
                "Type": "Pass",
                "QueryLanguage": "JSONPath",
                "Parameters": {
                    "a.$": "$myVar.b",
                    "c.$": "States.Format('{} $literal', $other)",
                    "plain": "$notAReference",
                    "ctx.$": "$$.Execution.Id",
                    "again.$": "$myVar",
                },
                "End": True,
            },
        },
    }
    assert variable_references(definition) == {
        "A": ["count", "items"],
        "M": ["list"],
        "In": ["outer"],
        "P": ["myVar", "other"],
    }


def test_no_variables_no_references() -> None:
    assert (
        variable_references({"StartAt": "A", "States": {"A": {"Type": "Pass", "End": True}}}) == {}
    )


def test_stepq_validate_refuses_a_bad_label(tmp_path: Any) -> None:
    import json

    from stepq.cli.commands import app
    from typer.testing import CliRunner

    path = tmp_path / "m.asl.json"
    path.write_text(json.dumps(_one_map("no spaces please")))
    result = CliRunner().invoke(app, ["validate", str(path)])
    assert result.exit_code == 1
    assert "/States/M/Label: a Label may not contain ' '" in result.output

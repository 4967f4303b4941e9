"""Process definitions compile to ASL: the shapes, rule 8's default destinations,
timeouts, reminders, activities, and every problem reported at its path at once."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from stepq.core.definition.validate import find_problems
from stepq.core.people.model import (
    HUMAN_TASK_RESOURCE,
    PROCESS_ACTIVITIES_RESOURCE,
    HumanTaskSpec,
    ProcessActivities,
)
from stepq.core.people.process import compile_process, compiled_process
from stepq.errors import DefinitionError, ProcessDefinitionError

EXAMPLES = Path(__file__).resolve().parents[2] / "state_machine"
APPROVE_BY_BOSS = {"action": "Approve", "by": {"person": "boss"}}


def _process(states: dict[str, Any], **top: Any) -> dict[str, Any]:
    return {"process": "p", "start": next(iter(states)), "states": states, **top}


def _task(*transitions: dict[str, Any], **more: Any) -> dict[str, Any]:
    return {"title": "Decide", "transitions": list(transitions), **more}


def _compiled(source: dict[str, Any]) -> dict[str, Any]:
    asl = compile_process(source)
    assert find_problems(asl) == []
    for state in asl["States"].values():  # what the runner will check when the task opens
        if state.get("Resource") == HUMAN_TASK_RESOURCE:
            HumanTaskSpec.model_validate(
                {k: v for k, v in state["Parameters"].items() if not k.endswith(".$")}
            )
        elif state.get("Resource") == PROCESS_ACTIVITIES_RESOURCE:
            ProcessActivities.model_validate(state["Parameters"])
    return asl


def _routes(asl: dict[str, Any], state: str) -> dict[str, str]:
    """transition name -> the state it leads to, from the state's route Choice."""
    route = asl["States"][asl["States"][state]["Next"]]
    assert route["Type"] == "Choice"
    for rule in route["Choices"]:
        assert rule["Variable"] == f"$.people.{state}.Transition"
    return {rule["StringEquals"]: rule["Next"] for rule in route["Choices"]}


def _problems(source: Any) -> list[str]:
    with pytest.raises(ProcessDefinitionError) as caught:
        compile_process(source)
    assert isinstance(caught.value, DefinitionError)
    return [str(p) for p in caught.value.problems]


# --- the example --------------------------------------------------------------------


def test_the_checked_in_expense_asl_is_what_the_compiler_makes() -> None:
    source = yaml.safe_load((EXAMPLES / "expense_approval.process.yaml").read_text())
    checked_in = json.loads((EXAMPLES / "expense_approval.asl.json").read_text())
    assert _compiled(source) == checked_in, (
        "run: stepq process compile state_machine/expense_approval.process.yaml "
        "-o state_machine/expense_approval.asl.json"
    )
    compiled = compiled_process(source)
    assert (compiled.name, compiled.version) == ("expense_approval", "1")


def test_the_expense_example_does_what_its_comment_says() -> None:
    asl = json.loads((EXAMPLES / "expense_approval.asl.json").read_text())
    states = asl["States"]
    finance = states["FinanceReview"]["Parameters"]
    assert finance["Transitions"][0]["Requires"] == [
        {"Action": "Approve", "By": {"Group": "Finance"}, "Count": 2}
    ]
    assert states["FinanceReview"]["TimeoutSeconds"] == 2 * 86400
    assert finance["Reminders"][0]["AfterSeconds"] == 86400
    assert states["AmountCheck"]["Choices"][0]["NumericGreaterThan"] == 1000
    assert _routes(asl, "ManagerReview")["to_AmountCheck"] == "AmountCheck"  # Approve: next
    assert states["Cancelled"] == {"Type": "Succeed"}  # Cancel: added


# --- the shape of a human task --------------------------------------------------------


def test_a_human_task_keeps_the_request_data_and_routes_on_its_transition() -> None:
    asl = _compiled(
        _process(
            {
                "Review": _task(
                    {"to": "Done", **APPROVE_BY_BOSS},
                    {"to": "Rejected", "requires": [{"action": "Deny", "by": "requester"}]},
                    description="Look at it",
                    data="$.expense",
                ),
                "Done": {"end": True},
                "Rejected": {"end": "fail", "description": "denied"},
            },
            admins="Finance",
        )
    )
    review = asl["States"]["Review"]
    assert review["Resource"] == HUMAN_TASK_RESOURCE
    assert review["ResultPath"] == "$.people.Review"
    assert review["Parameters"] == {
        "Title": "Decide",
        "Description": "Look at it",
        "Data.$": "$.expense",
        "Admins": "Finance",
        "Transitions": [
            {"Name": "to_Done", "Requires": [{"Action": "Approve", "By": {"Person": "boss"}}]},
            {"Name": "to_Rejected", "Requires": [{"Action": "Deny", "By": {"Requester": True}}]},
        ],
    }
    assert "TimeoutSeconds" not in review and "Catch" not in review
    assert _routes(asl, "Review") == {"to_Done": "Done", "to_Rejected": "Rejected"}
    assert asl["States"]["Done"] == {"Type": "Succeed"}
    assert asl["States"]["Rejected"] == {
        "Type": "Fail",
        "Error": "Process.Rejected",
        "Cause": "denied",
    }
    assert asl["StartAt"] == "Review"


def test_data_defaults_to_the_whole_input_and_every_target_word_compiles() -> None:
    words = ["requester", "stakeholders", "admins", "assignee", {"group": "G"}, {"person": "p"}]
    asl = _compiled(
        _process(
            {
                "A": _task(
                    {"to": "B", "requires": [{"action": "Approve", "by": w} for w in words]}
                ),
                "B": {"end": True},
            }
        )
    )
    parameters = asl["States"]["A"]["Parameters"]
    assert parameters["Data.$"] == "$"
    assert [r["By"] for r in parameters["Transitions"][0]["Requires"]] == [
        {"Requester": True},
        {"Stakeholders": True},
        {"Admins": True},
        {"Assignee": True},
        {"Group": "G"},
        {"Person": "p"},
    ]


def test_count_and_distinct_in_the_shorthand_and_in_requires() -> None:
    asl = _compiled(
        _process(
            {
                "A": _task(
                    {"to": "B", "action": "Approve", "by": {"group": "F"}, "count": 2},
                    {
                        "to": "B",
                        "requires": [
                            {"action": "Approve", "by": "requester"},
                            {"action": "Approve", "by": {"group": "X"}, "distinct": True},
                        ],
                    },
                ),
                "B": {"end": True},
            }
        )
    )
    first, second = asl["States"]["A"]["Parameters"]["Transitions"]
    assert first == {
        "Name": "to_B",
        "Requires": [{"Action": "Approve", "By": {"Group": "F"}, "Count": 2}],
    }
    # A second way to the same state gets a name of its own.
    assert second["Name"] == "to_B_2"
    assert second["Requires"][1] == {"Action": "Approve", "By": {"Group": "X"}, "Distinct": True}
    assert _routes(asl, "A") == {"to_B": "B", "to_B_2": "B"}


# --- rule 8: default destinations -------------------------------------------------------


def test_default_destinations_follow_rule_8() -> None:
    asl = _compiled(
        _process(
            {
                "First": _task({"action": "Approve", "by": "requester"}),
                "Middle": _task(
                    {"action": "Approve", "by": "admins"},
                    {"action": "Deny", "by": "admins"},
                    {"action": "Restart", "by": "admins"},
                    {"action": "Cancel", "by": "requester"},
                    {"action": "Resolve", "by": "admins"},
                ),
                "Last": {"end": True},
            }
        )
    )
    assert _routes(asl, "First") == {"to_Middle": "Middle"}
    assert _routes(asl, "Middle") == {
        "to_Last": "Last",  # Approve: the next state as written
        "to_First": "First",  # Deny: the previous one
        "to_First_2": "First",  # Restart: the start
        "to_Cancelled": "Cancelled",
        "to_Completed": "Completed",
    }
    # Not written, so added: ending well (a cancelled request is not a failed run).
    assert asl["States"]["Cancelled"] == {"Type": "Succeed"}
    assert asl["States"]["Completed"] == {"Type": "Succeed"}


def test_a_written_cancelled_state_is_used_as_written() -> None:
    asl = _compiled(
        _process(
            {
                "A": _task({"action": "Cancel", "by": "requester"}),
                "Cancelled": {"end": "fail"},
            }
        )
    )
    assert asl["States"]["Cancelled"] == {"Type": "Fail", "Error": "Process.Cancelled"}


def test_requirements_sharing_one_action_name_the_default() -> None:
    asl = _compiled(
        _process(
            {
                "A": _task(
                    {
                        "requires": [
                            {"action": "Resolve", "by": "requester"},
                            {"action": "Resolve", "by": "admins"},
                        ]
                    }
                )
            }
        )
    )
    assert _routes(asl, "A") == {"to_Completed": "Completed"}


def test_an_explicit_to_wins_over_the_default() -> None:
    asl = _compiled(
        _process(
            {
                "A": _task({"action": "Approve", "by": "requester", "to": "C"}),
                "B": {"end": True},
                "C": _task({"action": "Deny", "by": "admins", "to": "B", "name": "refused"}),
            }
        )
    )
    assert _routes(asl, "A") == {"to_C": "C"}
    assert _routes(asl, "C") == {"refused": "B"}


def test_a_default_that_does_not_exist_is_a_problem() -> None:
    problems = _problems(
        _process(
            {
                "A": _task({"action": "Deny", "by": "admins"}),
                "B": _task(
                    {"action": "Approve", "by": "admins"},
                    {"action": "Escalate", "by": "admins"},
                    {
                        "requires": [
                            {"action": "Approve", "by": "admins"},
                            {"action": "Deny", "by": "requester"},
                        ]
                    },
                ),
            }
        )
    )
    assert problems == [
        "states.A.transitions.0: Deny goes to the previous state, and A is first: give to",
        "states.B.transitions.0: Approve goes to the next state, and B is the last: give to",
        "states.B.transitions.1: give to: Escalate has no default destination",
        "states.B.transitions.2: give to: the requirements ask for different actions",
    ]


# --- timeouts, reminders, activities ----------------------------------------------------


def test_a_timeout_is_timeout_seconds_and_a_catch_through_its_activities() -> None:
    asl = _compiled(
        _process(
            {
                "A": _task(
                    {"to": "Done", **APPROVE_BY_BOSS},
                    timeout={
                        "after": "1d12h",
                        "to": "Late",
                        "activities": [{"note": "too late"}],
                    },
                ),
                "Done": {"end": True},
                "Late": {"end": True},
            }
        )
    )
    task = asl["States"]["A"]
    assert task["TimeoutSeconds"] == 36 * 3600
    assert task["Catch"] == [
        {"ErrorEquals": ["States.Timeout"], "ResultPath": "$.people.A", "Next": "A.timeout"}
    ]
    assert asl["States"]["A.timeout"] == {
        "Type": "Task",
        "Resource": PROCESS_ACTIVITIES_RESOURCE,
        "Parameters": {"Activities": [{"Type": "Note", "Text": "too late"}]},
        "ResultPath": None,
        "Next": "Late",
    }


def test_a_timeout_without_activities_catches_straight_to_its_state() -> None:
    asl = _compiled(
        _process(
            {
                "A": _task({"to": "B", **APPROVE_BY_BOSS}, timeout={"after": 90, "to": "B"}),
                "B": {"end": True},
            }
        )
    )
    assert asl["States"]["A"]["TimeoutSeconds"] == 90
    assert asl["States"]["A"]["Catch"][0]["Next"] == "B"


@pytest.mark.parametrize(
    ("after", "seconds"), [("3d", 259200), ("36h", 129600), ("90m", 5400), ("45s", 45), (600, 600)]
)
def test_reminders_take_durations(after: Any, seconds: int) -> None:
    email = {"email": {"to": {"group": "G"}, "subject": "still open", "body": "please"}}
    asl = _compiled(
        _process(
            {
                "A": _task(
                    {"to": "B", **APPROVE_BY_BOSS},
                    reminders=[{"after": after, "activities": [email]}],
                ),
                "B": {"end": True},
            }
        )
    )
    assert asl["States"]["A"]["Parameters"]["Reminders"] == [
        {
            "AfterSeconds": seconds,
            "Activities": [
                {"Type": "Email", "To": {"Group": "G"}, "Subject": "still open", "Body": "please"}
            ],
        }
    ]


def test_activities_on_enter_on_a_transition_and_on_an_end() -> None:
    asl = _compiled(
        _process(
            {
                "A": _task(
                    {
                        "to": "B",
                        **APPROVE_BY_BOSS,
                        "activities": [
                            {"add_stakeholders": [{"person": "auditor"}, {"group": "Legal"}]},
                            {"remove_stakeholders": ["assignee"]},
                        ],
                    },
                    on_enter=[{"note": "opened"}],
                ),
                "B": {"end": True, "on_enter": [{"email": {"to": "requester", "subject": "done"}}]},
            }
        )
    )
    states = asl["States"]
    assert states["A"]["Parameters"]["Activities"] == [{"Type": "Note", "Text": "opened"}]
    assert _routes(asl, "A") == {"to_B": "A.to_B"}  # through the transition's activities
    assert states["A.to_B"]["Parameters"]["Activities"] == [
        {"Type": "AddStakeholders", "Targets": [{"Person": "auditor"}, {"Group": "Legal"}]},
        {"Type": "RemoveStakeholders", "Targets": [{"Assignee": True}]},
    ]
    assert states["A.to_B"]["Next"] == "B"
    # The end state's name is where the activities run; it ends right after.
    assert states["B"]["Resource"] == PROCESS_ACTIVITIES_RESOURCE
    assert states["B"]["Next"] == "B.end"
    assert states["B.end"] == {"Type": "Succeed"}


def test_a_choice_state_takes_asl_rules() -> None:
    asl = _compiled(
        _process(
            {
                "Check": {
                    "choices": [
                        {"when": {"Variable": "$.amount", "NumericGreaterThan": 10}, "to": "Big"}
                    ],
                    "default": "Small",
                },
                "Big": {"end": True},
                "Small": {"end": True},
            }
        )
    )
    assert asl["States"]["Check"] == {
        "Type": "Choice",
        "Choices": [{"Variable": "$.amount", "NumericGreaterThan": 10, "Next": "Big"}],
        "Default": "Small",
    }


def test_version_and_description_go_into_the_comment() -> None:
    source = _process({"A": {"end": True}}, version=3, description="tiny")
    assert _compiled(source)["Comment"] == "process p version 3: tiny"
    assert compiled_process(source).version == "3"


# --- problems -------------------------------------------------------------------------


def test_every_problem_is_reported_at_its_path_at_once() -> None:
    problems = _problems(
        {
            "process": "has spaces",
            "start": "Nowhere",
            "colour": "blue",
            "states": {
                "A": _task({"to": "Z", **APPROVE_BY_BOSS}, timeout={"after": "2d", "to": "Y"}),
                "B": _task({"action": "Approve", "by": "boss", "to": "X"}),
                "C": {"end": "maybe"},
                "D": {"title": "no way out"},
                "E": {"choices": [{"when": {"Variable": "$.x", "IsNull": True}, "to": "Q"}]},
                "bad name": {"end": True},
            },
        }
    )
    assert problems == [
        "process: 'has spaces' is not a state machine name: 1-80 of A-Z a-z 0-9 _ -",
        "colour: Extra inputs are not permitted",
        "states.B.transitions.0.by: 'boss' is not a target: use requester, stakeholders, "
        "admins, assignee, {group: NAME} or {person: ID}",
        "states.C.end: Input should be True, 'succeed' or 'fail'",
        "states.D: a state has exactly one of transitions (a human task), choices (a choice) "
        "or end (got none)",
        "states.bad name: a state name is a letter, then up to 63 letters, digits or _",
        'start: no state "Nowhere"',
        'states.B.transitions.0.to: no state "X"',  # B was refused, its destinations still count
        'states.A.transitions.0.to: no state "Z"',
        'states.A.timeout.to: no state "Y"',
        'states.E.choices.0.to: no state "Q"',
    ]


@pytest.mark.parametrize(
    ("state", "expected"),
    [
        (
            _task({"to": "B", **APPROVE_BY_BOSS, "requires": [APPROVE_BY_BOSS]}),
            "states.A.transitions.0: Value error, give requires or by, not both",
        ),
        (
            _task({"to": "B", "action": "Approve"}),
            "states.A.transitions.0: Value error, a transition needs requires, or action and by",
        ),
        (
            _task({"to": "B", "action": "Approve!", "by": "admins"}),
            "states.A.transitions.0.action: 'Approve!' is not a valid action",
        ),
        ({"transitions": [{"to": "B", **APPROVE_BY_BOSS}]}, "states.A: a human task needs a title"),
        (
            {"end": True, "timeout": {"after": 1, "to": "B"}},
            "states.A: end states take no timeout",
        ),
        (
            _task({"to": "B", **APPROVE_BY_BOSS}, timeout={"after": "2w", "to": "B"}),
            "states.A.timeout.after: '2w' is not a duration",
        ),
        (
            _task({"to": "B", **APPROVE_BY_BOSS}, timeout={"after": 0, "to": "B"}),
            "is not between 1 second and 365 days",
        ),
        (
            _task(
                {"to": "B", **APPROVE_BY_BOSS},
                on_enter=[{"email": {"to": "requester", "subject": ""}}],
            ),
            "states.A.on_enter.0: email: ",
        ),
        (
            _task({"to": "B", **APPROVE_BY_BOSS}, on_enter=[{}]),
            "states.A.on_enter.0: an activity is exactly one of",
        ),
        (
            _task({"to": "B", "action": "Approve", "by": {"group": "no/slash"}}),
            "states.A.transitions.0.by: 'no/slash' is not a valid group name",
        ),
        (
            {"choices": [{"when": {"Variable": "$.x", "IsNull": True, "Next": "B"}, "to": "B"}]},
            "states.A.choices.0.when: write the destination as `to`, not Next",
        ),
    ],
)
def test_a_bad_state_is_named_by_its_path(state: dict[str, Any], expected: str) -> None:
    problems = _problems(_process({"A": state, "B": {"end": True}}))
    assert any(expected.replace("Value error, ", "") in p for p in problems), problems


def test_two_transitions_named_alike_are_a_problem() -> None:
    problems = _problems(
        _process(
            {
                "A": _task(
                    {"to": "B", "name": "same", **APPROVE_BY_BOSS},
                    {"to": "B", "name": "same", "action": "Deny", "by": "admins"},
                ),
                "B": {"end": True},
            }
        )
    )
    assert problems[0] == 'states.A.transitions.1.name: transition name "same" is used twice'


def test_what_the_asl_validator_refuses_is_named_by_the_process_state() -> None:
    problems = _problems(
        _process(
            {
                "A": _task({"to": "B", **APPROVE_BY_BOSS}, data="not a path"),
                "B": {"end": True},
                "Orphan": {"end": True},
            }
        )
    )
    assert any(p.startswith("states.A: ") and "(ASL /States/A/Parameters" in p for p in problems), (
        problems
    )
    assert "states.Orphan: state is not reachable from StartAt (ASL /States/Orphan)" in problems


@pytest.mark.parametrize("source", [None, [], "process: x", {"states": []}])
def test_not_a_process_at_all(source: Any) -> None:
    assert _problems(source)

"""A definition's people resources are checked when it is created or validated
(core/definition/people_checks.py): each static problem at its JSON path."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from stepq.core.definition import find_problems, load_definition
from stepq.core.people.model import HUMAN_TASK_RESOURCE, PROCESS_ACTIVITIES_RESOURCE
from stepq.errors import DefinitionError

OK_TRANSITIONS = [
    {
        "Name": "approved",
        "Requires": [
            {"Action": "Approve", "By": {"Requester": True}},
            {"Action": "Approve", "By": {"Group": "Executives"}, "Distinct": True},
        ],
    },
    {"Name": "denied", "Requires": [{"Action": "Deny", "By": {"Group": "Executives"}}]},
]


def machine(state: dict[str, Any], **top: Any) -> dict[str, Any]:
    return {"StartAt": "A", "States": {"A": {"End": True, **state}}, **top}


def human(params: Any = None, **state: Any) -> dict[str, Any]:
    task: dict[str, Any] = {"Type": "Task", "Resource": HUMAN_TASK_RESOURCE, **state}
    if params is not None:
        task["Parameters"] = params
    return machine(task)


def problems(definition: dict[str, Any]) -> dict[str, str]:
    """path -> its messages (joined by " | ")."""
    found: dict[str, str] = {}
    for p in find_problems(definition):
        found[p.path] = f"{found[p.path]} | {p.message}" if p.path in found else p.message
    return found


def test_the_documented_human_task_is_accepted() -> None:
    params = {
        "Title": "Approve the expense",
        "Data.$": "$.expense",
        "Transitions": OK_TRANSITIONS,
        "Activities": [
            {"Type": "Email", "To": {"Group": "Executives"}, "Subject": "An expense waits"}
        ],
        "Reminders": [
            {
                "AfterSeconds": 86400,
                "Activities": [{"Type": "Note", "Text": "still waiting"}],
            }
        ],
        "Assignee": "tom",
        "Admins": "Finance",
    }
    assert problems(human(params, ResultPath="$.review", TimeoutSeconds=60)) == {}
    load_definition(human(params))  # no DefinitionError


def test_a_bad_target_is_named_at_its_path() -> None:
    bad = [
        {
            "Name": "ok",
            "Requires": [
                {"Action": "Approve", "By": {"Requester": True}},
                {"Action": "Approve", "By": {"Requester": True, "Group": "Executives"}},
            ],
        }
    ]
    found = problems(human({"Title": "t", "Transitions": bad}))
    assert found == {
        "/States/A/Parameters/Transitions/0/Requires/1/By": (
            "a target names exactly one of Requester, Stakeholders, Group, Admins, Person, "
            "Assignee (got Requester, Group)"
        )
    }
    with pytest.raises(DefinitionError, match="Transitions/0/Requires/1/By"):
        load_definition(human({"Title": "t", "Transitions": bad}))


@pytest.mark.parametrize(
    ("params", "path", "fragment"),
    [
        ({"Transitions": OK_TRANSITIONS}, "/Title", "is required"),
        ({"Title": "t"}, "/Transitions", "is required"),
        ({"Title": "", "Transitions": OK_TRANSITIONS}, "/Title", "at least 1 character"),
        ({"Title": "t", "Transitions": []}, "/Transitions", "at least 1 item"),
        (
            {
                "Title": "t",
                "Transitions": [{"Name": "x", "Requires": [{"Action": "1A", "By": {}}]}],
            },
            "/Transitions/0/Requires/0/Action",
            "not a valid action",
        ),
        (
            {
                "Title": "t",
                "Transitions": [
                    {"Name": "x", "Requires": [{"Action": "A", "By": {"Admins": True}, "Count": 0}]}
                ],
            },
            "/Transitions/0/Requires/0/Count",
            "greater than or equal to 1",
        ),
        (
            {"Title": "t", "Transitions": [*OK_TRANSITIONS, OK_TRANSITIONS[0]]},
            "/Transitions/2/Name",
            "transition names must differ: approved repeated",
        ),
        ({"Title": "t", "Transitions": OK_TRANSITIONS, "Colour": 1}, "/Colour", "not a field"),
        ({"Title": "t", "Transitions": OK_TRANSITIONS, "Assignee": ""}, "/Assignee", "person"),
        ({"Title": "t", "Transitions": OK_TRANSITIONS, "Admins": "a/b"}, "/Admins", "group name"),
        (
            {"Title": "t", "Transitions": OK_TRANSITIONS, "Activities": [{"Type": "Sms"}]},
            "/Activities/0",
            "Sms",
        ),
        (
            {
                "Title": "t",
                "Transitions": OK_TRANSITIONS,
                "Activities": [{"Type": "Email", "To": {"Person": "tom"}, "Subject": ""}],
            },
            "/Activities/0/Subject",
            "at least 1 character",
        ),
        (
            {
                "Title": "t",
                "Transitions": OK_TRANSITIONS,
                "Reminders": [{"AfterSeconds": 0, "Activities": [{"Type": "Note", "Text": "x"}]}],
            },
            "/Reminders/0/AfterSeconds",
            "greater than or equal to 1",
        ),
    ],
)
def test_each_static_problem_is_at_its_path(
    params: dict[str, Any], path: str, fragment: str
) -> None:
    found = problems(human(params))
    where = "/States/A/Parameters" + path
    assert where in found, found
    assert fragment in found[where]


def test_dynamic_fields_are_skipped_but_static_ones_still_checked() -> None:
    params = {
        "Title.$": "$.title",
        "Transitions": [
            {
                "Name": "ok",
                "Requires": [
                    {"Action": "Approve", "By": {"Group.$": "$.group"}, "Count.$": "$.n"},
                    {"Action": "Approve", "By.$": "$.who"},
                ],
            }
        ],
        "Assignee.$": "$.assignee",
        "Activities.$": "$.activities",
    }
    assert problems(human(params)) == {}
    # a static mistake next to the dynamic fields is still found
    params["Transitions"][0]["Requires"][0]["Action"] = "9lives"
    assert set(problems(human(params))) == {"/States/A/Parameters/Transitions/0/Requires/0/Action"}


def test_a_dynamic_transitions_is_not_checked_but_a_static_one_is() -> None:
    assert problems(human({"Title": "t", "Transitions.$": "$.transitions"})) == {}
    assert problems(human({"Title": "t", "Transitions": "not a list"})) != {}


def test_a_human_task_without_parameters_is_refused() -> None:
    assert problems(human()) == {
        "/States/A/Parameters": (
            "a human task needs Parameters: at least Title and Transitions (docs/PEOPLE.md)"
        )
    }


@pytest.mark.parametrize(
    ("params", "path"),
    [
        ({"Title": "t", "Transitions": OK_TRANSITIONS, "Token.$": "$$.Task.Token"}, "/Token.$"),
        (
            {
                "Title": "t",
                "Transitions": OK_TRANSITIONS,
                "Data": {"deep": {"t.$": "$$.Task.Token"}},
            },
            "/Data/deep/t.$",
        ),
        (
            {
                "Title": "t",
                "Transitions": OK_TRANSITIONS,
                "Data.$": "States.Format('{}', $$.Task.Token)",
            },
            "/Data.$",
        ),
    ],
)
def test_the_task_token_may_not_appear_in_a_human_tasks_parameters(
    params: dict[str, Any], path: str
) -> None:
    found = problems(human(params))
    assert "$$.Task.Token may not appear" in found["/States/A/Parameters" + path]


def test_the_token_is_refused_in_jsonata_arguments_too() -> None:
    definition = machine(
        {
            "Type": "Task",
            "Resource": HUMAN_TASK_RESOURCE,
            "Arguments": {
                "Title": "t",
                "Transitions": OK_TRANSITIONS,
                "Data": "{% $states.context.Task.Token %}",
            },
        },
        QueryLanguage="JSONata",
    )
    found = problems(definition)
    assert "$$.Task.Token may not appear" in found["/States/A/Arguments/Data"]
    del definition["States"]["A"]["Arguments"]["Data"]
    definition["States"]["A"]["Arguments"]["Title"] = "{% $states.input.title %}"
    assert problems(definition) == {}


def test_people_resources_only_on_a_task() -> None:
    for resource in (HUMAN_TASK_RESOURCE, PROCESS_ACTIVITIES_RESOURCE):
        found = problems(machine({"Type": "Pass", "Resource": resource}))
        message = f"{resource} is a Task resource: only a Task state may name it"
        assert message in found["/States/A/Resource"]


def test_process_activities_parameters_are_checked() -> None:
    def activities(params: Any) -> dict[str, str]:
        state: dict[str, Any] = {"Type": "Task", "Resource": PROCESS_ACTIVITIES_RESOURCE}
        if params is not None:
            state["Parameters"] = params
        return problems(machine(state))

    assert activities({"Activities": [{"Type": "Note", "Text": "approved"}]}) == {}
    assert activities({"Activities.$": "$.todo"}) == {}
    assert activities({"Activities": [{"Type": "AddStakeholders", "People.$": "$.p"}]}) == {}
    assert activities({"Activities": []}) == {
        "/States/A/Parameters/Activities": "List should have at least 1 item after validation, "
        "not 0"
    }
    assert "is required" in activities({})["/States/A/Parameters/Activities"]
    assert "/States/A/Parameters/Activities/0/Targets/0" in activities(
        {"Activities": [{"Type": "RemoveStakeholders", "Targets": [{"Group": "a/b"}]}]}
    )
    assert "/States/A/Parameters/Other" in activities({"Activities.$": "$.a", "Other": 1})
    assert "/States/A/Parameters" in activities(None)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.sampled_from(["", "x", "$.a", "{% $x %}"]),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(
            st.sampled_from(
                [
                    "Title",
                    "Transitions",
                    "Name",
                    "Requires",
                    "Action",
                    "By",
                    "Count",
                    "Distinct",
                    "Group",
                    "Person",
                    "Requester",
                    "Type",
                    "To",
                    "Activities",
                    "Data.$",
                    "By.$",
                    "Group.$",
                    "Reminders",
                    "AfterSeconds",
                    "Subject",
                ]
            ),
            inner,
            max_size=4,
        )
    ),
    max_leaves=25,
)


@settings(max_examples=300, deadline=None)
@given(json_values, st.sampled_from([HUMAN_TASK_RESOURCE, PROCESS_ACTIVITIES_RESOURCE]))
def test_any_parameters_give_problems_never_a_crash(params: Any, resource: str) -> None:
    state = {"Type": "Task", "Resource": resource, "Parameters": params}
    for problem in find_problems(machine(state)):
        assert problem.path.startswith("/States/A")

"""ASL definition models and validation (stepq.core.definition)."""

from __future__ import annotations

import copy
import itertools
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from stepq.core import intrinsics, jsonata_query, jsonpath
from stepq.core.definition import (
    COMPARISON_OPERATORS,
    Map,
    Pass,
    StateMachine,
    Task,
    find_problems,
    load_definition,
    pointer,
)
from stepq.errors import DefinitionError, Problem

CASES = Path(__file__).resolve().parents[3] / "shared/conformance/cases"


def machine(states: dict[str, Any], start: str | None = None, **top: Any) -> dict[str, Any]:
    return {"StartAt": start or next(iter(states)), "States": states, **top}


def problems(definition: dict[str, Any]) -> list[tuple[str, str]]:
    return [(p.path, p.message) for p in find_problems(definition)]


def refused(definition: dict[str, Any] | str) -> list[tuple[str, str]]:
    with pytest.raises(DefinitionError) as info:
        load_definition(definition)
    return [(p.path, p.message) for p in info.value.problems]


END = {"Type": "Pass", "End": True}
ARN = "arn:aws:lambda:us-east-1:111111111111:function:f"


# ----------------------------------------------------------------- valid input


def test_loads_typed_model_and_keeps_raw() -> None:
    raw = machine(
        {
            "Charge": {
                "Type": "Task",
                "Resource": "arn:aws:lambda:us-east-1:111111111111:function:charge",
                "ResultPath": "$.charge",
                "Retry": [{"ErrorEquals": ["States.Timeout"], "MaxAttempts": 2}],
                "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Failed"}],
                "Next": "Fan",
            },
            "Fan": {
                "Type": "Map",
                "ItemsPath": "$.items",
                "ItemProcessor": {
                    "ProcessorConfig": {"Mode": "INLINE"},
                    "StartAt": "One",
                    "States": {"One": {"Type": "Pass", "End": True}},
                },
                "End": True,
            },
            "Failed": {"Type": "Fail", "Error": "Boom"},
        },
        Comment="demo",
        TimeoutSeconds=60,
    )
    original = copy.deepcopy(raw)
    model = load_definition(raw)
    assert isinstance(model, StateMachine)
    assert model.raw is raw and raw == original
    charge = model.States["Charge"]
    assert isinstance(charge, Task)
    assert charge.Next == "Fan" and charge.ResultPath == "$.charge"
    assert charge.Retry is not None and charge.Retry[0].MaxAttempts == 2
    fan = model.States["Fan"]
    assert isinstance(fan, Map) and fan.ItemProcessor is not None
    assert isinstance(fan.ItemProcessor.States["One"], Pass)
    assert fan.ItemProcessor.ProcessorConfig is not None
    assert fan.ItemProcessor.ProcessorConfig.Mode == "INLINE"
    assert model.TimeoutSeconds == 60 and model.query_language == "JSONPath"


def test_loads_json_text() -> None:
    model = load_definition(json.dumps(machine({"A": END})))
    assert model.StartAt == "A" and model.raw == machine({"A": END})


def test_jsonata_machine_is_valid() -> None:
    raw = machine(
        {
            "Pick": {
                "Type": "Choice",
                "Choices": [{"Condition": "{% $states.input.n > 1 %}", "Next": "Big"}],
                "Default": "Small",
                "Assign": {"seen": "{% $states.input.n %}"},
            },
            "Big": {
                "Type": "Task",
                "Resource": "arn:aws:states:::lambda:invoke",
                "Arguments": {"FunctionName": "f", "Payload": "{% $states.input %}"},
                "TimeoutSeconds": "{% $states.input.t %}",
                "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Small", "Output": {}}],
                "Output": "{% $states.result.Payload %}",
                "End": True,
            },
            "Small": {"Type": "Wait", "Seconds": "{% 1 %}", "Next": "Done"},
            "Done": {"Type": "Succeed", "Output": "{% $seen %}"},
        },
        QueryLanguage="JSONata",
    )
    assert problems(raw) == []


def test_mixed_languages_allowed_under_jsonpath_top_level() -> None:
    raw = machine(
        {
            "A": {"Type": "Pass", "QueryLanguage": "JSONata", "Output": {"x": 1}, "Next": "B"},
            "B": {
                "Type": "Pass",
                "Parameters": {"y.$": "$.x", "ctx.$": "$$.Execution.Id"},
                "End": True,
            },
        }
    )
    assert problems(raw) == []


def test_every_choice_operator_is_known() -> None:
    assert len(COMPARISON_OPERATORS) == 39
    assert {"StringMatches", "IsTimestamp", "TimestampLessThanEqualsPath"} <= COMPARISON_OPERATORS
    assert not {"And", "Variable", "Next", "Condition"} & COMPARISON_OPERATORS


@pytest.mark.skipif(not CASES.is_dir(), reason=f"conformance cases not found at {CASES}")
def test_every_conformance_definition_loads() -> None:
    files = sorted(CASES.glob("*/*.json"))
    assert files, f"no case files under {CASES}"
    failures = {}
    for file in files:
        case = json.loads(file.read_text())
        if case["expected"]["status"] == "REJECTED_AT_CREATE":
            assert find_problems(case["definition"]), f"{file.name} should be refused"
            continue
        found = find_problems(case["definition"])
        if found:
            failures[file.name] = [str(p) for p in found]
    assert failures == {}


# -------------------------------------------------------------- invalid input

INVALID: list[tuple[str, dict[str, Any], list[tuple[str, str]]]] = [
    (
        "missing next target",
        machine({"Charge": {"Type": "Pass", "Next": "Ship"}}),
        [("/States/Charge/Next", 'state "Ship" does not exist')],
    ),
    (
        "start at missing",
        machine({"A": END}, start="Nope"),
        # Reachability is only judged from an existing StartAt.
        [("/StartAt", 'state "Nope" does not exist')],
    ),
    (
        "neither next nor end",
        machine({"A": {"Type": "Pass"}}),
        [("/States/A", "must have either Next or End: true")],
    ),
    (
        "both next and end",
        machine({"A": {"Type": "Pass", "Next": "A", "End": True}}),
        [("/States/A", "must have either Next or End: true, not both")],
    ),
    (
        "end false without next",
        machine({"A": {"Type": "Wait", "Seconds": 1, "End": False}}),
        [("/States/A", "must have either Next or End: true")],
    ),
    (
        "terminal states refuse next and end",
        machine({"A": {"Type": "Succeed", "Next": "B"}, "B": {"Type": "Fail", "End": True}}),
        [
            ("/States/A/Next", "field is not supported by Succeed states"),
            ("/States/B/End", "field is not supported by Fail states"),
        ],
    ),
    (
        "unreachable state",
        machine({"A": END, "Orphan": END}),
        [("/States/Orphan", "state is not reachable from StartAt")],
    ),
    (
        "missing top-level fields",
        {"Comment": "x"},
        [("/StartAt", "required field is missing"), ("/States", "required field is missing")],
    ),
    (
        "empty states",
        {"StartAt": "A", "States": {}},
        [("/States", "must not be empty")],
    ),
    (
        "unknown top-level field and bad timeout",
        machine({"A": END}, Foo=1, TimeoutSeconds=0, Version="2.0"),
        [
            ("/TimeoutSeconds", "must be at least 1"),
            ("/Foo", "field is not allowed here"),
            ("/Version", 'must be "1.0"'),
        ],
    ),
    (
        "unknown state type",
        machine({"A": {"Type": "Sleep", "End": True}}),
        [
            (
                "/States/A/Type",
                'unknown state type "Sleep"; expected one of Pass, Task, Choice, '
                "Wait, Succeed, Fail, Parallel, Map",
            )
        ],
    ),
    (
        "missing state type",
        machine({"A": {"End": True}}),
        [("/States/A/Type", "required field is missing")],
    ),
    (
        "field of another state type",
        machine({"A": {"Type": "Pass", "Resource": "arn", "End": True}}),
        [("/States/A/Resource", "field is not supported by Pass states")],
    ),
    (
        "task without resource, wrong types",
        machine({"A": {"Type": "Task", "End": "yes", "TimeoutSeconds": True}}),
        [
            ("/States/A/End", "must be a valid boolean"),
            ("/States/A/Resource", "required field is missing"),
            ("/States/A/TimeoutSeconds", "must be an integer or a JSONata expression string"),
            ("/States/A", "must have either Next or End: true"),
        ],
    ),
    (
        "state name too long",
        machine({"S" * 81: END}),
        [("/States/" + "S" * 81, "state name is longer than 80 characters")],
    ),
    (
        "empty error equals",
        machine(
            {"A": {"Type": "Task", "Resource": ARN, "End": True, "Retry": [{"ErrorEquals": []}]}}
        ),
        [("/States/A/Retry/0/ErrorEquals", "must not be empty")],
    ),
    (
        "States.ALL not alone and not last",
        machine(
            {
                "A": {
                    "Type": "Task",
                    "Resource": ARN,
                    "End": True,
                    "Retry": [{"ErrorEquals": ["States.ALL", "X"]}, {"ErrorEquals": ["Y"]}],
                    "Catch": [
                        {"ErrorEquals": ["States.ALL"], "Next": "H"},
                        {"ErrorEquals": ["Z"], "Next": "H"},
                    ],
                },
                "H": END,
            }
        ),
        [
            ("/States/A/Retry/0/ErrorEquals", '"States.ALL" must appear alone in ErrorEquals'),
            ("/States/A/Retry/0/ErrorEquals", 'a retrier with "States.ALL" must be the last one'),
            ("/States/A/Catch/0/ErrorEquals", 'a catcher with "States.ALL" must be the last one'),
        ],
    ),
    (
        "retry fields out of range",
        machine(
            {
                "A": {
                    "Type": "Task",
                    "Resource": ARN,
                    "End": True,
                    "Retry": [
                        {
                            "ErrorEquals": ["X"],
                            "MaxAttempts": -1,
                            "BackoffRate": 0.5,
                            "IntervalSeconds": 0,
                            "MaxDelaySeconds": 0,
                            "JitterStrategy": "SOME",
                        }
                    ],
                }
            }
        ),
        [
            ("/States/A/Retry/0/IntervalSeconds", "must be at least 1"),
            ("/States/A/Retry/0/MaxAttempts", "must be at least 0"),
            ("/States/A/Retry/0/BackoffRate", "must be at least 1"),
            ("/States/A/Retry/0/MaxDelaySeconds", "must be at least 1"),
            ("/States/A/Retry/0/JitterStrategy", "must be 'FULL' or 'NONE'"),
        ],
    ),
    (
        "catch target missing",
        machine(
            {
                "A": {
                    "Type": "Task",
                    "Resource": ARN,
                    "End": True,
                    "Catch": [{"ErrorEquals": ["X"], "Next": "Gone"}],
                }
            }
        ),
        [("/States/A/Catch/0/Next", 'state "Gone" does not exist')],
    ),
    (
        "wait with two forms",
        machine({"A": {"Type": "Wait", "Seconds": 1, "SecondsPath": "$.s", "End": True}}),
        [("/States/A", "Seconds and SecondsPath are mutually exclusive")],
    ),
    (
        "wait with no form",
        machine({"A": {"Type": "Wait", "End": True}}),
        [("/States/A", "must have one of Seconds, SecondsPath, Timestamp or TimestampPath")],
    ),
    (
        "wait negative seconds and bad timestamp",
        machine(
            {
                "A": {"Type": "Wait", "Seconds": -1, "Next": "B"},
                "B": {"Type": "Wait", "Timestamp": "2016-03-14", "End": True},
            }
        ),
        [
            ("/States/A/Seconds", "must be at least 0"),
            ("/States/B/Timestamp", '"2016-03-14" is not an ISO-8601 timestamp'),
        ],
    ),
    (
        "task timeouts",
        machine(
            {
                "A": {
                    "Type": "Task",
                    "Resource": ARN,
                    "TimeoutSeconds": 10,
                    "HeartbeatSeconds": 10,
                    "Next": "B",
                },
                "B": {
                    "Type": "Task",
                    "Resource": ARN,
                    "TimeoutSeconds": 0,
                    "TimeoutSecondsPath": "$.t",
                    "HeartbeatSeconds": "{% 5 %}",
                    "End": True,
                },
            }
        ),
        [
            ("/States/A/HeartbeatSeconds", "must be smaller than TimeoutSeconds"),
            # JSONata expressions are only allowed in JSONata states.
            ("/States/B/HeartbeatSeconds", "must be an integer"),
            ("/States/B", "TimeoutSeconds and TimeoutSecondsPath are mutually exclusive"),
            ("/States/B/TimeoutSeconds", "must be at least 1"),
        ],
    ),
    (
        "map without processor",
        machine({"A": {"Type": "Map", "End": True}}),
        [("/States/A", "must have an ItemProcessor (or Iterator)")],
    ),
    (
        "map processor scope checked recursively",
        machine(
            {
                "A": {
                    "Type": "Map",
                    "MaxConcurrency": -1,
                    "ToleratedFailurePercentage": 150,
                    "ItemProcessor": {
                        "ProcessorConfig": {"Mode": "SIDEWAYS"},
                        "StartAt": "In",
                        "States": {"In": {"Type": "Pass", "Next": "Out"}},
                    },
                    "End": True,
                }
            }
        ),
        [
            ("/States/A/ItemProcessor/ProcessorConfig/Mode", "must be 'INLINE' or 'DISTRIBUTED'"),
            ("/States/A/ItemProcessor/States/In/Next", 'state "Out" does not exist'),
            ("/States/A/MaxConcurrency", "must be at least 0"),
            ("/States/A/ToleratedFailurePercentage", "must be between 0 and 100"),
        ],
    ),
    (
        "parallel without branches",
        machine({"A": {"Type": "Parallel", "Branches": [], "End": True}}),
        [("/States/A/Branches", "must not be empty")],
    ),
    (
        "parallel branch scope checked recursively",
        machine(
            {
                "A": {
                    "Type": "Parallel",
                    "Branches": [
                        {"StartAt": "B1", "States": {"B1": END}},
                        {"StartAt": "Missing", "States": {"B2": END}},
                    ],
                    "Next": "Outer",
                },
                "Outer": END,
            }
        ),
        [
            ("/States/A/Branches/1/StartAt", 'state "Missing" does not exist'),
        ],
    ),
    (
        "branch cannot jump to outer scope",
        machine(
            {
                "A": {
                    "Type": "Parallel",
                    "Branches": [
                        {"StartAt": "B1", "States": {"B1": {"Type": "Pass", "Next": "Outer"}}}
                    ],
                    "Next": "Outer",
                },
                "Outer": END,
            }
        ),
        [("/States/A/Branches/0/States/B1/Next", 'state "Outer" does not exist')],
    ),
    (
        "duplicate state name across scopes",
        machine(
            {
                "A": {
                    "Type": "Parallel",
                    "Branches": [{"StartAt": "A", "States": {"A": END}}],
                    "End": True,
                }
            }
        ),
        [("/States/A/Branches/0/States/A", 'state name "A" is already used at /States/A')],
    ),
    (
        "choice rules malformed",
        machine(
            {
                "C": {
                    "Type": "Choice",
                    "Choices": [
                        {"Variable": "$.x", "StringEquals": "a", "NumericEquals": 1, "Next": "D"},
                        {"Variable": "$.x", "Next": "D"},
                        {"StringEquals": "a", "Next": "D"},
                        {"And": [], "Next": "D"},
                        {"Not": [{"Variable": "$.x", "IsNull": True}], "Next": "D"},
                        {"Or": [{"Variable": "$.x", "IsNull": True, "Next": "D"}], "Next": "D"},
                        {"Variable": "$.x", "IsNull": True},
                        {
                            "And": [{"Variable": "$.x", "IsNull": True}],
                            "Variable": "$.y",
                            "Next": "D",
                        },
                        {"Variable": "$.x", "NoSuchOperator": 1, "Next": "D"},
                    ],
                    "Default": "Gone",
                },
                "D": END,
            }
        ),
        [
            ("/States/C/Choices/3/And", "must not be empty"),
            ("/States/C/Choices/4/Not", "must be a JSON object"),
            ("/States/C/Choices/8/NoSuchOperator", "field is not allowed here"),
            ("/States/C/Default", 'state "Gone" does not exist'),
            (
                "/States/C/Choices/0",
                "must have exactly one comparison operator, found NumericEquals, StringEquals",
            ),
            ("/States/C/Choices/1", "must have a comparison operator (or And/Or/Not)"),
            ("/States/C/Choices/2/Variable", "required field is missing"),
            ("/States/C/Choices/5/Or/0/Next", "field is only allowed in a top-level Choice rule"),
            ("/States/C/Choices/6/Next", "required field is missing"),
            (
                "/States/C/Choices/7",
                "a rule must be one comparison or one of And/Or/Not, not And, Variable",
            ),
            ("/States/C/Choices/8", "must have a comparison operator (or And/Or/Not)"),
        ],
    ),
    (
        "choice targets another scope",
        machine(
            {"C": {"Type": "Choice", "Choices": [{"Variable": "$.x", "IsNull": True, "Next": "Z"}]}}
        ),
        [("/States/C/Choices/0/Next", 'state "Z" does not exist')],
    ),
    (
        "choice with no choices",
        machine({"C": {"Type": "Choice", "Choices": []}}),
        [("/States/C/Choices", "must not be empty")],
    ),
    (
        "choice operator value types",
        machine(
            {
                "C": {
                    "Type": "Choice",
                    "Choices": [
                        {"Variable": "$.x", "NumericEquals": "1", "Next": "D"},
                        {"Variable": "$.x", "BooleanEquals": 1, "Next": "D"},
                        {"Variable": "$.x", "TimestampEquals": "yesterday", "Next": "D"},
                    ],
                    "Default": "D",
                },
                "D": END,
            }
        ),
        [
            ("/States/C/Choices/0/NumericEquals", "must be a number"),
            ("/States/C/Choices/1/BooleanEquals", "must be a valid boolean"),
            ("/States/C/Choices/2/TimestampEquals", '"yesterday" is not an ISO-8601 timestamp'),
        ],
    ),
    (
        "jsonpath fields refused in jsonata states",
        machine(
            {
                "A": {
                    "Type": "Task",
                    "Resource": ARN,
                    "InputPath": "$.x",
                    "Parameters": {},
                    "ResultPath": "$.r",
                    "TimeoutSecondsPath": "$.t",
                    "Catch": [{"ErrorEquals": ["X"], "Next": "B", "ResultPath": "$.e"}],
                    "Next": "B",
                },
                "B": {"Type": "Fail", "ErrorPath": "$.e"},
            },
            QueryLanguage="JSONata",
        ),
        [
            ("/States/A/InputPath", "field is not supported when QueryLanguage is JSONata"),
            ("/States/A/Parameters", "field is not supported when QueryLanguage is JSONata"),
            ("/States/A/ResultPath", "field is not supported when QueryLanguage is JSONata"),
            (
                "/States/A/TimeoutSecondsPath",
                "field is not supported when QueryLanguage is JSONata",
            ),
            (
                "/States/A/Catch/0/ResultPath",
                "field is not supported when QueryLanguage is JSONata",
            ),
            ("/States/B/ErrorPath", "field is not supported when QueryLanguage is JSONata"),
        ],
    ),
    (
        "jsonata fields refused in jsonpath states",
        machine(
            {
                "A": {"Type": "Pass", "Output": {}, "Next": "M"},
                "M": {
                    "Type": "Map",
                    "Items": [1],
                    "ItemProcessor": {"StartAt": "I", "States": {"I": END}},
                    "Catch": [{"ErrorEquals": ["X"], "Next": "A", "Output": 1}],
                    "Next": "C",
                },
                "C": {"Type": "Choice", "Choices": [{"Condition": True, "Next": "A"}]},
            }
        ),
        [
            ("/States/A/Output", "field is not supported when QueryLanguage is JSONPath"),
            ("/States/M/Items", "field is not supported when QueryLanguage is JSONPath"),
            ("/States/M/Catch/0/Output", "field is not supported when QueryLanguage is JSONPath"),
            (
                "/States/C/Choices/0/Condition",
                "field is not supported when QueryLanguage is JSONPath",
            ),
            ("/States/C/Choices/0", "must have a comparison operator (or And/Or/Not)"),
            ("/States/C/Choices/0/Variable", "required field is missing"),
        ],
    ),
    (
        "jsonata choice rule shape",
        machine(
            {
                "C": {
                    "Type": "Choice",
                    "QueryLanguage": "JSONata",
                    "Choices": [
                        {"Variable": "$.x", "IsNull": True, "Next": "D"},
                        {"Condition": "$.x", "Next": "D"},
                    ],
                    "Default": "D",
                },
                "D": END,
            }
        ),
        [
            (
                "/States/C/Choices/0/Variable",
                "field is not supported when QueryLanguage is JSONata",
            ),
            ("/States/C/Choices/0/IsNull", "field is not supported when QueryLanguage is JSONata"),
            ("/States/C/Choices/0/Condition", "required field is missing"),
            ("/States/C/Choices/1/Condition", "must be a boolean or a JSONata expression string"),
        ],
    ),
    (
        "jsonpath state in jsonata machine",
        machine(
            {"A": {"Type": "Pass", "QueryLanguage": "JSONPath", "End": True}},
            QueryLanguage="JSONata",
        ),
        [
            (
                "/States/A/QueryLanguage",
                "JSONPath states are not allowed when the state machine's QueryLanguage is JSONata",
            )
        ],
    ),
    (
        "jsonata number fields need an expression",
        machine(
            {
                "M": {
                    "Type": "Map",
                    "Items": "$.items",
                    "MaxConcurrency": "4",
                    "ItemProcessor": {"StartAt": "I", "States": {"I": END}},
                    "End": True,
                }
            },
            QueryLanguage="JSONata",
        ),
        [
            ("/States/M/MaxConcurrency", "must be an integer or a JSONata expression string"),
            ("/States/M/Items", "must be an array or a JSONata expression string"),
        ],
    ),
    (
        "payload template references",
        machine(
            {
                "A": {
                    "Type": "Pass",
                    "Parameters": {
                        "ok.$": "$.a",
                        "ctx.$": "$$.Execution.Id",
                        "var.$": "$myVar.field",
                        "fn.$": "States.Format('{}', $.a)",
                        "literal.$": "hello",
                        "nested": {"deep.$": 5, "list": [{"x.$": "nope"}]},
                    },
                    "End": True,
                }
            }
        ),
        [
            (
                "/States/A/Parameters/literal.$",
                '"hello" is neither a JSONPath nor an intrinsic function',
            ),
            (
                "/States/A/Parameters/nested/deep.$",
                "must be a string holding a JSONPath or an intrinsic function",
            ),
            (
                "/States/A/Parameters/nested/list/0/x.$",
                '"nope" is neither a JSONPath nor an intrinsic function',
            ),
        ],
    ),
    (
        "result path is a reference path into the input",
        machine(
            {
                "A": {"Type": "Pass", "ResultPath": "$.items[*].x", "Next": "B"},
                "B": {"Type": "Pass", "ResultPath": "$$.Execution", "Next": "C"},
                "C": {"Type": "Pass", "ResultPath": "$myVar.x", "Next": "D"},
                "D": {"Type": "Pass", "ResultPath": "$['a:b'].c[0]", "End": True},
            }
        ),
        [
            (
                "/States/A/ResultPath",
                '"$.items[*].x" must be a reference path, without wildcards, filters or slices',
            ),
            (
                "/States/B/ResultPath",
                '"$$.Execution" must point into the state input ($), not context or a variable',
            ),
            (
                "/States/C/ResultPath",
                '"$myVar.x" must point into the state input ($), not context or a variable',
            ),
        ],
    ),
    (
        "task resource must be a literal arn",
        machine(
            {
                "A": {"Type": "Task", "Resource": "lambda-fn", "Next": "B"},
                "B": {
                    "Type": "Task",
                    "Resource": "{% $fn %}",
                    "QueryLanguage": "JSONata",
                    "End": True,
                },
            }
        ),
        [
            ("/States/A/Resource", '"lambda-fn" is not an ARN'),
            ("/States/B/Resource", "must be a literal ARN, not a JSONata expression"),
        ],
    ),
    (
        "fail error and cause forms exclusive",
        machine(
            {
                "F": {
                    "Type": "Fail",
                    "Error": "E",
                    "ErrorPath": "$.e",
                    "Cause": "c",
                    "CausePath": "$.c",
                }
            }
        ),
        [
            ("/States/F", "Error and ErrorPath are mutually exclusive"),
            ("/States/F", "Cause and CausePath are mutually exclusive"),
        ],
    ),
    (
        "json pointer escaping in state names",
        machine({"a/b~c": {"Type": "Pass", "Next": "x"}}),
        [("/States/a~1b~0c/Next", 'state "x" does not exist')],
    ),
]


@pytest.mark.parametrize(
    ("definition", "expected"), [c[1:] for c in INVALID], ids=[c[0] for c in INVALID]
)
def test_invalid_definition_reports_exact_problems(
    definition: dict[str, Any], expected: list[tuple[str, str]]
) -> None:
    assert refused(definition) == expected


def test_reports_every_problem_at_once() -> None:
    definition = machine(
        {
            "Charge": {
                "Type": "Task",
                "Resource": "arn:aws:lambda:us-east-1:1:function:charge",
                "Next": "Ship",
                "Retry": [
                    {"ErrorEquals": ["States.ALL"], "MaxAttempts": -3},
                    {"ErrorEquals": ["X"]},
                ],
            },
            "Decide": {"Type": "Choice", "Choices": [{"Variable": "$.x", "Next": "Charge"}]},
            "Sleep": {"Type": "Wait", "End": True},
            "Bad": {"Type": "Teleport"},
        }
    )
    assert refused(definition) == [
        ("/States/Charge/Retry/0/MaxAttempts", "must be at least 0"),
        (
            "/States/Bad/Type",
            'unknown state type "Teleport"; expected one of Pass, Task, Choice, Wait, Succeed, '
            "Fail, Parallel, Map",
        ),
        ("/States/Charge/Next", 'state "Ship" does not exist'),
        ("/States/Charge/Retry/0/ErrorEquals", 'a retrier with "States.ALL" must be the last one'),
        ("/States/Decide/Choices/0", "must have a comparison operator (or And/Or/Not)"),
        ("/States/Sleep", "must have one of Seconds, SecondsPath, Timestamp or TimestampPath"),
        ("/States/Decide", "state is not reachable from StartAt"),
        ("/States/Sleep", "state is not reachable from StartAt"),
        ("/States/Bad", "state is not reachable from StartAt"),
    ]


def test_error_message_lists_problems() -> None:
    with pytest.raises(DefinitionError) as info:
        load_definition(machine({"A": {"Type": "Pass", "Next": "B"}}))
    assert info.value.problems == [Problem("/States/A/Next", 'state "B" does not exist')]
    assert '/States/A/Next: state "B" does not exist' in str(info.value)


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        (
            "{not json",
            [
                (
                    "",
                    "not valid JSON: Expecting property name enclosed in double quotes: "
                    "line 1 column 2 (char 1)",
                )
            ],
        ),
        ("[1, 2]", [("", "a definition must be a JSON object")]),
        ("null", [("", "a definition must be a JSON object")]),
    ],
)
def test_refuses_non_object_sources(source: str, expected: list[tuple[str, str]]) -> None:
    assert refused(source) == expected


# ------------------------------------------------- collaboration with siblings


def test_jsonata_expressions_are_syntax_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[str] = []

    def check(expr: str) -> str | None:
        seen.append(expr)
        return "unbalanced" if "(" in expr else None

    monkeypatch.setattr(jsonata_query, "check_syntax", check)
    definition = machine(
        {
            "A": {
                "Type": "Pass",
                "Output": {"good": "{% $states.input %}", "bad": ["{% $sum( %}"], "plain": "text"},
                "Assign": {"v": "{% 1 %}"},
                "End": True,
            }
        },
        QueryLanguage="JSONata",
    )
    assert problems(definition) == [
        ("/States/A/Output/bad/0", "invalid JSONata expression: unbalanced")
    ]
    assert sorted(seen) == [" $states.input ", " $sum( ", " 1 "]


def test_paths_and_intrinsics_use_sibling_validators(monkeypatch: pytest.MonkeyPatch) -> None:
    paths: list[str] = []

    def validate_path(path: str) -> str | None:
        paths.append(path)
        return "no filters" if "?" in path else None

    monkeypatch.setattr(jsonpath, "validate_path", validate_path)
    monkeypatch.setattr(
        intrinsics, "validate", lambda expr: "unknown function" if "Nope" in expr else None
    )
    definition = machine(
        {
            "A": {
                "Type": "Pass",
                "InputPath": "$$.Execution.Input",
                "Parameters": {
                    "a.$": "$var.x[?(@.y)]",
                    "b.$": "States.Nope()",
                    "c.$": "States.UUID()",
                },
                "ResultPath": "$.r",
                "End": True,
            }
        }
    )
    assert problems(definition) == [
        ("/States/A/Parameters/a.$", 'invalid JSONPath "$var.x[?(@.y)]": no filters'),
        ("/States/A/Parameters/b.$", "invalid intrinsic function: unknown function"),
    ]
    # Context and variable references are checked as plain data paths.
    assert paths == ["$.Execution.Input", "$.r", "$.x[?(@.y)]"]


def test_path_fields_report_the_path_validators_reason(monkeypatch: pytest.MonkeyPatch) -> None:
    def validate_path(path: str) -> str | None:
        return None if path.startswith("$") else "must start with '$'"

    monkeypatch.setattr(jsonpath, "validate_path", validate_path)
    definition = machine(
        {
            "A": {
                "Type": "Pass",
                "InputPath": "a.b",
                "ResultPath": None,
                "OutputPath": None,
                "Next": "C",
            },
            "C": {
                "Type": "Choice",
                "Choices": [{"Variable": "x", "StringEqualsPath": "y", "Next": "A"}],
            },
        }
    )
    assert problems(definition) == [
        ("/States/A/InputPath", "invalid JSONPath \"a.b\": must start with '$'"),
        ("/States/C/Choices/0/Variable", "invalid JSONPath \"x\": must start with '$'"),
        ("/States/C/Choices/0/StringEqualsPath", "invalid JSONPath \"y\": must start with '$'"),
    ]


def test_unimplemented_siblings_are_tolerated(monkeypatch: pytest.MonkeyPatch) -> None:
    def stub(_: str) -> str | None:
        raise NotImplementedError

    for module, name in (
        (jsonpath, "validate_path"),
        (intrinsics, "validate"),
        (jsonata_query, "check_syntax"),
    ):
        monkeypatch.setattr(module, name, stub)
    definition = machine(
        {
            "A": {
                "Type": "Pass",
                "Parameters": {"x.$": "States.UUID()", "y.$": "$.y"},
                "Next": "B",
            },
            "B": {"Type": "Pass", "QueryLanguage": "JSONata", "Output": "{% $x %}", "End": True},
        }
    )
    assert problems(definition) == []


# ----------------------------------------------------------------- properties

names = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=1, max_size=80)


@given(st.lists(names, min_size=1, max_size=8, unique=True))
def test_any_chain_of_pass_states_is_valid(chain: list[str]) -> None:
    states = {name: {"Type": "Pass", "Next": nxt} for name, nxt in itertools.pairwise(chain)}
    states[chain[-1]] = {"Type": "Pass", "End": True}
    model = load_definition(machine(states, start=chain[0]))
    assert list(model.States) == chain


@given(st.lists(names, min_size=2, max_size=8, unique=True), st.data())
def test_broken_link_is_reported_with_its_escaped_path(
    chain: list[str], data: st.DataObject
) -> None:
    states: dict[str, Any] = {
        name: {"Type": "Pass", "Next": nxt} for name, nxt in itertools.pairwise(chain)
    }
    states[chain[-1]] = {"Type": "Pass", "End": True}
    cut = data.draw(st.integers(0, len(chain) - 2))
    del states[chain[cut]]["Next"]
    states[chain[cut]]["End"] = True
    found = problems(machine(states, start=chain[0]))
    expected = [
        (pointer(["States", name]), "state is not reachable from StartAt")
        for name in chain[cut + 1 :]
    ]
    assert found == expected


@given(st.lists(st.one_of(names, st.integers(0, 99)), max_size=5))
def test_pointer_round_trips(parts: list[str | int]) -> None:
    text = pointer(parts)
    decoded = [p.replace("~1", "/").replace("~0", "~") for p in text.split("/")[1:]]
    assert decoded == [str(p) for p in parts]

"""The Task resources stepq can run, and the refusal of those it cannot.

A definition naming a resource stepq has no way to run is refused when it is
created or validated (``stepq validate``, ``load_definition``, the API's
CreateStateMachine), each problem at its JSON path, rather than failing
later as a missing Lambda function. stepq runs:

- Lambda functions: ``arn:aws:lambda:REGION:ACCOUNT:function:NAME[:QUALIFIER]``;
- ``arn:aws:states:::lambda:invoke``, ``sqs:sendMessage`` and ``sns:publish``,
  each also as ``.waitForTaskToken``;
- ``arn:aws:states:::aws-sdk:SERVICE:ACTION`` (request-response, or
  ``.waitForTaskToken``), run through boto3;
- activities: ``arn:aws:states:REGION:ACCOUNT:activity:NAME``;
- stepq's people resources (docs/PEOPLE.md): ``arn:aws:states:::stepq:humanTask.waitForTaskToken``
  (a human task, answered only through the inbox) and ``arn:aws:states:::stepq:processActivities``
  (notes, e-mails, stakeholders; request-response).

The optimised ``sqs:sendMessage`` and ``sns:publish`` integrations take only
the fields Step Functions lets through (an unknown one is refused, as AWS
refuses it). Distributed Map's ``ItemReader`` and ``ResultWriter`` (S3) are
refused too: they are not supported yet, and silently ignoring them would
run a different machine.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from stepq.core.definition import people_checks
from stepq.core.people.model import (
    HUMAN_TASK_RESOURCE,
    NOTICE_RESOURCE,
    PROCESS_ACTIVITIES_RESOURCE,
    REMINDER_RESOURCE,
)

WAIT_FOR_TOKEN = ".waitForTaskToken"
_PARTITION = r"arn:aws[a-zA-Z-]*"
_LAMBDA_FUNCTION = re.compile(rf"^{_PARTITION}:lambda:[^:]*:[^:]*:function:[^:]+(?::[^:]+)?$")
_OPTIMISED = re.compile(
    rf"^{_PARTITION}:states:::(?P<name>lambda:invoke|sqs:sendMessage|sns:publish)"
    rf"(?:{re.escape(WAIT_FOR_TOKEN)})?$"
)
_AWS_SDK = re.compile(
    rf"^{_PARTITION}:states:::aws-sdk:(?P<service>[a-z0-9-]+):(?P<action>[a-zA-Z][a-zA-Z0-9]*)"
    rf"(?:{re.escape(WAIT_FOR_TOKEN)})?$"
)
_ACTIVITY = re.compile(rf"^{_PARTITION}:states:[a-z0-9-]+:\d{{12}}:activity:[^:]+$")

PEOPLE_RESOURCES = frozenset({HUMAN_TASK_RESOURCE, PROCESS_ACTIVITIES_RESOURCE})
SUPPORTED = (
    "Lambda functions, lambda:invoke, sqs:sendMessage, sns:publish, aws-sdk:*, activities, "
    "stepq:humanTask.waitForTaskToken, stepq:processActivities"
)

# The fields the optimised integrations pass on (Step Functions refuses others).
FIELDS: dict[str, frozenset[str]] = {
    "sqs:sendMessage": frozenset(
        {
            "QueueUrl",
            "MessageBody",
            "DelaySeconds",
            "MessageAttributes",
            "MessageDeduplicationId",
            "MessageGroupId",
            "MessageSystemAttributes",
        }
    ),
    "sns:publish": frozenset(
        {
            "Message",
            "MessageAttributes",
            "MessageDeduplicationId",
            "MessageGroupId",
            "MessageStructure",
            "PhoneNumber",
            "Subject",
            "TargetArn",
            "TopicArn",
        }
    ),
}
REQUIRED: dict[str, tuple[str, ...]] = {
    "sqs:sendMessage": ("QueueUrl", "MessageBody"),
    "sns:publish": ("Message",),
}
# Distributed Map fields that read or write S3: not supported yet.
_S3_FIELDS = ("ItemReader", "ResultWriter")


def check_resource(resource: str) -> str | None:
    """Why stepq cannot run ``resource`` (None: it can)."""
    if (
        _LAMBDA_FUNCTION.match(resource)
        or _OPTIMISED.match(resource)
        or _AWS_SDK.match(resource)
        or _ACTIVITY.match(resource)
        or resource in PEOPLE_RESOURCES
    ):
        return None
    if resource.startswith("arn:aws:states:::stepq:"):
        return (
            f"{resource} is not a stepq resource; stepq's are {', '.join(sorted(PEOPLE_RESOURCES))}"
        )
    return f"{resource} is not supported; stepq runs: {SUPPORTED}"


def is_service_integration(resource: str) -> bool:
    """sqs:sendMessage, sns:publish or aws-sdk:*: what a host's integrations run."""
    return optimised_name(resource) in FIELDS or bool(_AWS_SDK.match(resource))


def is_people_resource(resource: str) -> bool:
    """A human task, process activities, a reminder or an assignment notice: what the
    host's people runner runs."""
    return resource in PEOPLE_RESOURCES or resource in (REMINDER_RESOURCE, NOTICE_RESOURCE)


def optimised_name(resource: str) -> str | None:
    """``sqs:sendMessage`` for ``arn:aws:states:::sqs:sendMessage[.waitForTaskToken]``."""
    match = _OPTIMISED.match(resource)
    return match.group("name") if match else None


def problems(state: dict[str, Any]) -> Iterator[tuple[tuple[str, ...], str]]:
    """(path under the state, message) for each resource problem of a state."""
    kind = state.get("Type")
    # A human task's or process activities' Parameters, and those resources elsewhere.
    yield from people_checks.problems(state)
    if kind == "Map":
        for field in _S3_FIELDS:
            if field in state:
                yield (field,), f"{field} (S3) is not supported yet"
        return
    resource = state.get("Resource")
    if kind != "Task" or not isinstance(resource, str) or not resource.startswith("arn:"):
        return  # a missing or non-ARN Resource is the other checks' business
    problem = check_resource(resource)
    if problem is not None:
        yield ("Resource",), problem
        return
    yield from _field_problems(state, optimised_name(resource))


def _field_problems(
    state: dict[str, Any], integration: str | None
) -> Iterator[tuple[tuple[str, ...], str]]:
    allowed = FIELDS.get(integration or "")
    if allowed is None:
        return
    field = "Arguments" if "Arguments" in state else "Parameters"
    template = state.get(field)
    if template is None:
        template = {}
    if not isinstance(template, dict):
        return  # a JSONata expression: known only when it runs
    # JSONPath templates name a field "Key.$" when its value is a path.
    given = {key.removesuffix(".$") for key in template if isinstance(key, str)}
    for name in sorted(given - allowed):
        yield (field,), f'the field "{name}" is not supported by {integration}'
    for name in REQUIRED[integration or ""]:
        if name not in given:
            yield (field,), f'the field "{name}" is required by {integration} but is missing'

"""template.yaml's IAM: one role per function, only the actions and resources it uses.

What each function calls (docs: functions/*/app.py and backends/aws/):
every function: its log group, X-Ray, GetQueueUrl, the claim-check bucket and
the table; the SQS consumers: their own queue; whoever commits: sends to the
events queue, the task queues and activity queues; the workers alone run
service integrations (sts:AssumeRole on the integration roles) and, opted in,
invoke Lambda functions.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("cfnlint")
from cfnlint.decode import decode

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template.yaml"
SLOTS = 8
WORKERS = ["WorkerFunction"] + [f"Slot{i}WorkerFunction" for i in range(SLOTS)]
FUNCTIONS = ["OrchestratorFunction", "SchedulerFunction", "InboxFunction", "ApiFunction", *WORKERS]
TABLE_ACTIONS = {"GetItem", "PutItem", "UpdateItem", "DeleteItem", "Query"}
# Services each function may reach at all (kms only with KmsKeyArn).
COMMON = {"logs", "xray", "sqs", "s3", "dynamodb", "kms"}


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    parsed, problems = decode(str(TEMPLATE))
    assert not problems, problems
    return parsed


def _role(template: dict[str, Any], function: str) -> dict[str, Any]:
    name = template["Resources"][function]["Properties"]["Role"]["Fn::GetAtt"][0]
    return template["Resources"][name]


def _statements(template: dict[str, Any], function: str) -> list[dict[str, Any]]:
    """A function's statements, conditional ones unwrapped (their enabled branch)."""
    (policy,) = _role(template, function)["Properties"]["Policies"]
    found = []
    for statement in policy["PolicyDocument"]["Statement"]:
        if "Fn::If" in statement:
            _, enabled, disabled = statement["Fn::If"]
            assert disabled == {"Ref": "AWS::NoValue"}
            statement = enabled
        found.append(statement)
    return found


def _listed(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _actions(statement: dict[str, Any]) -> list[str]:
    return _listed(statement["Action"])


def _granting(template: dict[str, Any], function: str, action: str) -> list[Any]:
    """Every resource an Allow statement grants ``action`` on."""
    return [
        resource
        for s in _statements(template, function)
        if s["Effect"] == "Allow" and action in _actions(s)
        for resource in _listed(s["Resource"])
    ]


@pytest.mark.parametrize("function", FUNCTIONS)
def test_each_function_has_its_own_role_only_lambda_assumes(
    template: dict[str, Any], function: str
) -> None:
    role = _role(template, function)
    assert role["Type"] == "AWS::IAM::Role"
    assert role.get("Condition") == template["Resources"][function].get("Condition")
    (trust,) = role["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert trust == {
        "Effect": "Allow",
        "Principal": {"Service": "lambda.amazonaws.com"},
        "Action": "sts:AssumeRole",
    }
    assert "ManagedPolicyArns" not in role["Properties"]
    others = [f for f in FUNCTIONS if f != function]
    assert all(_role(template, f) is not role for f in others)


@pytest.mark.parametrize("function", FUNCTIONS)
def test_no_wildcard_actions_and_star_only_for_x_ray(
    template: dict[str, Any], function: str
) -> None:
    for statement in _statements(template, function):
        for action in _actions(statement):
            assert "*" not in action, (function, action)
        if "*" in _listed(statement["Resource"]):
            # X-Ray has no resource-level permissions; nothing else gets "*".
            assert set(_actions(statement)) == {"xray:PutTraceSegments", "xray:PutTelemetryRecords"}
    services = {a.split(":")[0] for s in _statements(template, function) for a in _actions(s)}
    # Workers: integration roles, direct Lambda invokes, people's e-mail (MailFrom).
    extra = {"sts", "lambda", "ses"} if function in WORKERS else set()
    assert services <= COMMON | extra, (function, services)


@pytest.mark.parametrize("function", FUNCTIONS)
def test_logs_go_to_the_functions_own_log_group(template: dict[str, Any], function: str) -> None:
    group = template["Resources"][function]["Properties"]["LoggingConfig"]["LogGroup"]["Ref"]
    assert template["Resources"][group]["Type"] == "AWS::Logs::LogGroup"
    for action in ["logs:CreateLogStream", "logs:PutLogEvents"]:
        assert _granting(template, function, action) == [{"Fn::GetAtt": [group, "Arn"]}]
    assert not _granting(template, function, "logs:CreateLogGroup")  # the stack makes it


@pytest.mark.parametrize("function", FUNCTIONS)
def test_table_actions_are_items_and_queries_only(template: dict[str, Any], function: str) -> None:
    granted = {
        a.removeprefix("dynamodb:")
        for s in _statements(template, function)
        for a in _actions(s)
        if a.startswith("dynamodb:")
    }
    assert {"GetItem", "PutItem", "Query"} <= granted <= TABLE_ACTIONS, function
    # Query on the indexes (timers_by_due, by_machine_*) needs the index ARNs.
    assert _granting(template, function, "dynamodb:Query") == [
        {"Fn::GetAtt": ["Table", "Arn"]},
        {"Fn::Sub": "${Table.Arn}/index/*"},
    ]
    # Only the API writes machines and redrives (UpdateItem); the workers' steps
    # keep Powertools idempotency records (stepq.idempotency); the scheduler's
    # renewal re-stamps running executions' expires_at (runtime/renewal.py).
    updaters = ["ApiFunction", "SchedulerFunction", *WORKERS]
    assert ("UpdateItem" in granted) == (function in updaters)


@pytest.mark.parametrize("function", [f for f in FUNCTIONS if f != "SchedulerFunction"])
def test_consumers_receive_from_their_event_source_only(
    template: dict[str, Any], function: str
) -> None:
    props = template["Resources"][function]["Properties"]
    sources = [e["Properties"]["Queue"] for e in props["Events"].values() if e["Type"] == "SQS"]
    received = _granting(template, function, "sqs:ReceiveMessage")
    if function == "ApiFunction":  # no event source: GetActivityTask polls activity queues
        assert not sources
        assert [r["Fn::Sub"] for r in received] == [
            "arn:${AWS::Partition}:sqs:${AWS::Region}:${AWS::AccountId}:${QueuePrefix}-activity-*"
        ]
        return
    assert received == sources
    # What Lambda's event source mapping needs of the function's role.
    for action in ["sqs:DeleteMessage", "sqs:GetQueueAttributes"]:
        assert _granting(template, function, action) == sources, action
    # Only workers keep running tasks' messages invisible (runtime.worker).
    extended = _granting(template, function, "sqs:ChangeMessageVisibility")
    assert extended == (sources if function in WORKERS else [])


@pytest.mark.parametrize("function", FUNCTIONS)
def test_committers_send_to_events_tasks_and_activities(
    template: dict[str, Any], function: str
) -> None:
    sent = _granting(template, function, "sqs:SendMessage")
    assert {"Fn::GetAtt": ["EventsQueue", "Arn"]} in sent
    patterns = {r["Fn::Sub"].rsplit(":", 1)[1] for r in sent if "Fn::Sub" in r}
    assert patterns == {"${QueuePrefix}-tasks-*", "${QueuePrefix}-activity-*"}


def test_dead_letters_go_to_the_consumed_queues_own_dlq(template: dict[str, Any]) -> None:
    # Named DLQs only; the task-queue name pattern (<prefix>-tasks-*) does also
    # match the task DLQs, as an SQS ARN pattern cannot leave a suffix out.
    resources = template["Resources"]
    for function in FUNCTIONS:
        props = resources[function]["Properties"]
        for event in props["Events"].values():
            if event["Type"] != "SQS":
                continue
            queue = event["Properties"]["Queue"]["Fn::GetAtt"][0]
            dlq = resources[queue]["Properties"]["RedrivePolicy"]["deadLetterTargetArn"]
            sent = _granting(template, function, "sqs:SendMessage")
            assert dlq in sent, function
            other_dlqs = [
                {"Fn::GetAtt": [name, "Arn"]}
                for name in resources
                if name.endswith("DLQ") and {"Fn::GetAtt": [name, "Arn"]} != dlq
            ]
            assert not [d for d in other_dlqs if d in sent], function


def test_the_scheduler_sweeps_every_dlq_but_the_inbox(template: dict[str, Any]) -> None:
    received = _granting(template, "SchedulerFunction", "sqs:ReceiveMessage")
    assert {"Fn::GetAtt": ["EventsDLQ", "Arn"]} in received
    assert {
        "Fn::Sub": "arn:${AWS::Partition}:sqs:${AWS::Region}:${AWS::AccountId}:${QueuePrefix}-tasks-*-dlq"
    } in received
    # Its inbox DLQ messages own no execution (stepq.runtime.poison sweeps
    # events and task DLQs); nothing else is received.
    assert len(received) == 2
    assert _granting(template, "SchedulerFunction", "sqs:DeleteMessage") == received


@pytest.mark.parametrize("function", FUNCTIONS)
def test_only_workers_assume_integration_roles(template: dict[str, Any], function: str) -> None:
    assumed = _granting(template, function, "sts:AssumeRole")
    if function not in WORKERS:
        assert assumed == []
        return
    # Service integrations run as the state machine's roleArn, never as the worker.
    assert assumed == [
        {
            "Fn::If": [
                "HasIntegrationRolePattern",
                {"Ref": "IntegrationRolePattern"},
                {"Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:role/stepq-*"},
            ]
        }
    ]
    services = {a.split(":")[0] for s in _statements(template, function) for a in _actions(s)}
    assert not services & {"sns", "states", "events"}


@pytest.mark.parametrize("function", FUNCTIONS)
def test_the_customer_key_is_granted_only_with_the_parameter(
    template: dict[str, Any], function: str
) -> None:
    (policy,) = _role(template, function)["Properties"]["Policies"]
    kms = [
        s["Fn::If"]
        for s in policy["PolicyDocument"]["Statement"]
        if "Fn::If" in s and "kms:" in str(s)
    ]
    assert len(kms) == 1
    condition, statement, _ = kms[0]
    assert condition == "HasKmsKey"
    assert statement["Resource"] == {"Ref": "KmsKeyArn"}
    assert set(statement["Action"]) == {"kms:Decrypt", "kms:GenerateDataKey"}


def test_the_api_alone_creates_queues_and_only_activity_queues(template: dict[str, Any]) -> None:
    for function in FUNCTIONS:
        created = _granting(template, function, "sqs:CreateQueue")
        if function == "ApiFunction":
            assert [r["Fn::Sub"].rsplit(":", 1)[1] for r in created] == [
                "${QueuePrefix}-activity-*"
            ]
        else:
            assert created == [], function

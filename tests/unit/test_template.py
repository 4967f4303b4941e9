"""template.yaml: cfn-lint clean, table matches create_table, handlers exist."""

from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import Any

import pytest

cfnlint_api = pytest.importorskip("cfnlint.api")
from cfnlint.decode import decode  # noqa: E402
from stepq.backends.aws.dynamodb_store import TTL_ATTRIBUTE, create_table  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template.yaml"


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    parsed, problems = decode(str(TEMPLATE))
    assert not problems, problems
    return parsed


def _of_type(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == kind}


class _RecordingDynamoDB:
    """Just enough of a DynamoDB client to capture what create_table asks for."""

    def __init__(self) -> None:
        self.calls: dict[str, dict[str, Any]] = {}

    def create_table(self, **kwargs: Any) -> dict[str, Any]:
        self.calls["create_table"] = kwargs
        return {}

    def get_waiter(self, name: str) -> Any:
        return type("Waiter", (), {"wait": lambda self, **kw: None})()

    def describe_time_to_live(self, **kwargs: Any) -> dict[str, Any]:
        return {"TimeToLiveDescription": {"TimeToLiveStatus": "DISABLED"}}

    def update_time_to_live(self, **kwargs: Any) -> dict[str, Any]:
        self.calls["update_time_to_live"] = kwargs
        return {}


@pytest.fixture(scope="module")
def created() -> dict[str, dict[str, Any]]:
    client = _RecordingDynamoDB()
    create_table(client, "t")
    return client.calls


def test_cfn_lint_reports_no_errors() -> None:
    matches = cfnlint_api.lint_file(TEMPLATE)
    errors = [m for m in matches if m.rule.id.startswith("E")]
    assert errors == [], "\n".join(str(m) for m in errors)


def test_cfn_lint_does_catch_errors() -> None:
    # Guards the test above against a linter that silently checks nothing.
    broken = TEMPLATE.read_text().replace("BillingMode: PAY_PER_REQUEST", "BillingMode: FREE")
    matches = cfnlint_api.lint(broken)
    assert any(m.rule.id.startswith("E") for m in matches)


def test_table_keys_match_create_table(template: dict[str, Any], created: dict[str, Any]) -> None:
    (table,) = _of_type(template, "AWS::DynamoDB::Table").values()
    props = table["Properties"]
    expected = created["create_table"]
    assert props["BillingMode"] == expected["BillingMode"] == "PAY_PER_REQUEST"
    assert props["KeySchema"] == expected["KeySchema"]
    assert sorted(props["AttributeDefinitions"], key=lambda a: a["AttributeName"]) == sorted(
        expected["AttributeDefinitions"], key=lambda a: a["AttributeName"]
    )


def test_table_indexes_match_create_table(
    template: dict[str, Any], created: dict[str, Any]
) -> None:
    (table,) = _of_type(template, "AWS::DynamoDB::Table").values()
    ours = {i["IndexName"]: i for i in table["Properties"]["GlobalSecondaryIndexes"]}
    theirs = {i["IndexName"]: i for i in created["create_table"]["GlobalSecondaryIndexes"]}
    assert ours.keys() == theirs.keys()
    for name, index in theirs.items():
        assert ours[name]["KeySchema"] == index["KeySchema"], name
        assert ours[name]["Projection"]["ProjectionType"] == index["Projection"]["ProjectionType"]
        assert sorted(ours[name]["Projection"].get("NonKeyAttributes", [])) == sorted(
            index["Projection"].get("NonKeyAttributes", [])
        ), name


def test_table_ttl_pitr_and_retention(template: dict[str, Any], created: dict[str, Any]) -> None:
    (table,) = _of_type(template, "AWS::DynamoDB::Table").values()
    props = table["Properties"]
    ttl = created["update_time_to_live"]["TimeToLiveSpecification"]
    assert props["TimeToLiveSpecification"] == {"AttributeName": TTL_ATTRIBUTE, "Enabled": True}
    assert ttl["AttributeName"] == TTL_ATTRIBUTE
    assert props["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert table["DeletionPolicy"] == "Retain"


@pytest.mark.parametrize(
    "name", ["OrchestratorFunction", "WorkerFunction", "SchedulerFunction", "InboxFunction"]
)
def test_handler_points_at_a_function_that_exists(template: dict[str, Any], name: str) -> None:
    props = template["Resources"][name]["Properties"]
    module, function = props["Handler"].rsplit(".", 1)
    source = ROOT / props["CodeUri"] / (module.replace(".", "/") + ".py")
    assert source.is_file(), source
    tree = ast.parse(source.read_text())
    defined = {n.name for n in tree.body if isinstance(n, ast.FunctionDef)}
    assert function in defined


def test_layer_packages_stepq(template: dict[str, Any]) -> None:
    layers = _of_type(template, "AWS::Serverless::LayerVersion")
    ((name, layer),) = layers.items()
    content = ROOT / layer["Properties"]["ContentUri"]
    assert (content / "stepq" / "__init__.py").is_file()
    assert (content / "requirements.txt").is_file()
    # `sam build` runs `make build-<LogicalId>` in ContentUri (test_lambda_layer builds it).
    assert layer["Metadata"]["BuildMethod"] == "makefile"
    makefile = (content / "Makefile").read_text()
    assert f"build-{name}" in re.findall(r"^([\w-]+):", makefile, re.MULTILINE)
    # The Makefile fetches wheels for the functions' Python and architecture.
    runtime = template["Globals"]["Function"]["Runtime"]
    assert layer["Properties"]["CompatibleRuntimes"] == [runtime]
    assert f"LAMBDA_PYTHON ?= {runtime.removeprefix('python')}\n" in makefile
    assert template["Globals"]["Function"]["Architectures"] == ["arm64"]
    assert layer["Properties"]["CompatibleArchitectures"] == ["arm64"]
    assert layer["Metadata"]["BuildArchitecture"] == "arm64"
    assert "aarch64" in makefile


def test_sqs_sources_report_batch_item_failures(template: dict[str, Any]) -> None:
    functions = _of_type(template, "AWS::Serverless::Function")
    sources = [
        event["Properties"]
        for fn in functions.values()
        for event in fn["Properties"].get("Events", {}).values()
        if event["Type"] == "SQS"
    ]
    assert len(sources) == 4  # events queue, two task queues, the inbox
    for source in sources:
        assert source["BatchSize"] == 10
        assert source["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    schedules = [
        event["Properties"]["Schedule"]
        for fn in functions.values()
        for event in fn["Properties"].get("Events", {}).values()
        if event["Type"] == "Schedule"
    ]
    assert schedules == ["rate(1 minute)"]


def test_every_work_queue_redrives_to_a_dlq(template: dict[str, Any]) -> None:
    queues = _of_type(template, "AWS::SQS::Queue")
    work = {k: v for k, v in queues.items() if "RedrivePolicy" in v["Properties"]}
    assert set(work) == {"EventsQueue", "DefaultTaskQueue", "ExampleTaskQueue", "InboxQueue"}
    for queue in work.values():
        policy = queue["Properties"]["RedrivePolicy"]
        assert policy["maxReceiveCount"] == 5
        dlq = policy["deadLetterTargetArn"]["Fn::GetAtt"][0]
        assert dlq in queues and "RedrivePolicy" not in queues[dlq]["Properties"]
        # SqsQueues finds the DLQ by name: <queue>-dlq.
        assert queues[dlq]["Properties"]["QueueName"]["Fn::Sub"] == (
            queue["Properties"]["QueueName"]["Fn::Sub"] + "-dlq"
        )


def test_eventbridge_rule_feeds_the_inbox_and_only_it_may(template: dict[str, Any]) -> None:
    from stepq.runtime.inbox import INBOX_QUEUE

    resources = template["Resources"]
    queue = resources["InboxQueue"]["Properties"]
    # SqsQueues finds the inbox by name: <prefix>-inbox.
    assert queue["QueueName"] == {"Fn::Sub": "${QueuePrefix}-" + INBOX_QUEUE}
    rule = resources["InboxRule"]["Properties"]
    assert rule["EventPattern"] == {"source": [{"Ref": "InboxEventSource"}]}
    assert [t["Arn"] for t in rule["Targets"]] == [{"Fn::GetAtt": ["InboxQueue", "Arn"]}]
    (statement,) = resources["InboxQueuePolicy"]["Properties"]["PolicyDocument"]["Statement"]
    assert statement["Principal"] == {"Service": "events.amazonaws.com"}
    assert statement["Action"] == "sqs:SendMessage"
    assert statement["Condition"] == {
        "ArnEquals": {"aws:SourceArn": {"Fn::GetAtt": ["InboxRule", "Arn"]}}
    }
    inbox = resources["InboxFunction"]["Properties"]
    (source,) = inbox["Events"].values()
    assert source["Properties"]["Queue"] == {"Fn::GetAtt": ["InboxQueue", "Arn"]}


def test_bucket_is_encrypted_and_private(template: dict[str, Any]) -> None:
    (bucket,) = _of_type(template, "AWS::S3::Bucket").values()
    props = bucket["Properties"]
    assert props["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert all(props["PublicAccessBlockConfiguration"].values())
    assert len(props["PublicAccessBlockConfiguration"]) == 4


def test_direct_lambda_invoke_is_opt_in_and_conditional(template: dict[str, Any]) -> None:
    param = template["Parameters"]["DirectLambdaInvoke"]
    assert param["AllowedValues"] == ["true", "false"]
    assert param["Default"] == "false"
    assert template["Conditions"]["DirectLambdaInvokeEnabled"] == {
        "Fn::Equals": [{"Ref": "DirectLambdaInvoke"}, "true"]
    }
    worker = template["Resources"]["WorkerFunction"]["Properties"]
    # backends.aws.lambda_invoke.direct_lambda_enabled reads this variable.
    assert worker["Environment"]["Variables"]["STEPQ_DIRECT_LAMBDA"] == {
        "Ref": "DirectLambdaInvoke"
    }
    conditional = [p for p in worker["Policies"] if isinstance(p, dict) and "Fn::If" in p]
    assert len(conditional) == 1
    condition, enabled, disabled = conditional[0]["Fn::If"]
    assert condition == "DirectLambdaInvokeEnabled"
    assert disabled == {"Ref": "AWS::NoValue"}
    allow = [s for s in enabled["Statement"] if s["Effect"] == "Allow"]
    assert [s["Action"] for s in allow] == ["lambda:InvokeFunction"]
    assert allow[0]["Resource"] == {
        "Fn::Sub": "arn:${AWS::Partition}:lambda:${AWS::Region}:${AWS::AccountId}:function:*"
    }
    deny = [s for s in enabled["Statement"] if s["Effect"] == "Deny"]
    denied = {r["Fn::GetAtt"][0] for s in deny for r in s["Resource"] if "Fn::GetAtt" in r}
    assert denied == {"OrchestratorFunction", "SchedulerFunction"}
    # No other function may invoke Lambda, conditionally or not.
    for name, fn in _of_type(template, "AWS::Serverless::Function").items():
        if name != "WorkerFunction":
            assert "lambda:" not in str(fn["Properties"].get("Policies")), name


# The DynamoDB actions of SAM's policy templates (samtranslator's policy_templates.json).
_SAM_DYNAMODB_ACTIONS = {
    "DynamoDBCrudPolicy": {
        "GetItem",
        "DeleteItem",
        "PutItem",
        "Scan",
        "Query",
        "UpdateItem",
        "BatchWriteItem",
        "BatchGetItem",
        "DescribeTable",
        "ConditionCheckItem",
    },
    "DynamoDBReadPolicy": {"GetItem", "Scan", "Query", "BatchGetItem", "DescribeTable"},
    "DynamoDBWritePolicy": {"PutItem", "UpdateItem", "BatchWriteItem"},
}


def _dynamodb_actions_on_table(policies: list[Any]) -> set[str]:
    """What a function's SAM ``Policies`` let it do on the ``Table`` resource."""
    actions: set[str] = set()
    for policy in policies:
        if not isinstance(policy, dict):
            continue
        for name, args in policy.items():
            if name in _SAM_DYNAMODB_ACTIONS and args == {"TableName": {"Ref": "Table"}}:
                actions |= _SAM_DYNAMODB_ACTIONS[name]
        for statement in policy.get("Statement", []):
            resources = statement.get("Resource", [])
            resources = resources if isinstance(resources, list) else [resources]
            if statement.get("Effect") == "Allow" and {"Fn::GetAtt": ["Table", "Arn"]} in resources:
                listed = statement["Action"]
                for action in listed if isinstance(listed, list) else [listed]:
                    if action.startswith("dynamodb:"):
                        actions.add(action.removeprefix("dynamodb:"))
    return actions


def test_worker_role_can_keep_idempotency_records_in_the_table(template: dict[str, Any]) -> None:
    # stepq.idempotency.stepq_table_persistence: Powertools' calls on the stepq
    # table, from the steps the worker runs (the table's name is STEPQ_TABLE).
    worker = template["Resources"]["WorkerFunction"]["Properties"]
    granted = _dynamodb_actions_on_table(worker["Policies"])
    assert {"GetItem", "PutItem", "UpdateItem", "DeleteItem"} <= granted, granted
    variables = {
        **template["Globals"]["Function"]["Environment"]["Variables"],
        **worker.get("Environment", {}).get("Variables", {}),
    }
    assert variables["STEPQ_TABLE"] == {"Ref": "Table"}  # the helper's default table name
    # Guards the check above: read-only access to the table does not pass it.
    assert not {"PutItem", "UpdateItem", "DeleteItem"} <= _dynamodb_actions_on_table(
        [{"DynamoDBReadPolicy": {"TableName": {"Ref": "Table"}}}]
    )

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
SLOTS = 8  # dedicated step-function slots (DedicatedStepFunctions)


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


def test_cfn_lint_reports_no_errors_or_warnings() -> None:
    # The slowest check here (seconds: the template has ~100 resources once SAM
    # expands it); infra/ templates: test_template_checks.py.
    matches = cfnlint_api.lint_file(TEMPLATE)
    found = [m for m in matches if m.rule.id[0] in "EW"]
    assert found == [], "\n".join(str(m) for m in found)


def test_cfn_lint_does_catch_errors() -> None:
    # Guards the test above against a linter that silently checks nothing: the
    # same table resource with a billing mode DynamoDB does not have.
    head = TEMPLATE.read_text().split("\nResources:", 1)[0]
    table = TEMPLATE.read_text().split("\n  Table:\n", 1)[1].split("\n\n", 1)[0]
    broken = f"{head}\nResources:\n  Table:\n{table}\n".replace(
        "BillingMode: PAY_PER_REQUEST", "BillingMode: FREE"
    )
    matches = cfnlint_api.lint(broken)
    assert "E3030" in {m.rule.id for m in matches}, matches  # E3030: not an allowed value


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
    "name",
    ["OrchestratorFunction", "WorkerFunction", "SchedulerFunction", "InboxFunction", "ApiFunction"],
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
    assert len(sources) == 3 + SLOTS  # events, tasks-unknown, inbox, one per slot
    parameters = template["Parameters"]
    for source in sources:
        assert source["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
        # Batch size and window are parameters (10 and 0 by default, as Lambda's).
        size, window = source["BatchSize"]["Ref"], source["MaximumBatchingWindowInSeconds"]["Ref"]
        assert parameters[size]["Type"] == "Number" and parameters[size]["Default"] == 10
        assert parameters[window]["Type"] == "Number" and parameters[window]["Default"] == 0
        assert parameters[window]["MaxValue"] == 300  # Lambda's limit
    schedules = [
        event["Properties"]["Schedule"]
        for fn in functions.values()
        for event in fn["Properties"].get("Events", {}).values()
        if event["Type"] == "Schedule"
    ]
    assert schedules == ["rate(1 minute)"]


def _queue_name(props: dict[str, Any]) -> str:
    """A QueueName's Fn::Sub text; a slot's is the list form with its ${Name}."""
    sub = props["QueueName"]["Fn::Sub"]
    return sub if isinstance(sub, str) else sub[0]


def test_every_work_queue_redrives_to_a_dlq(template: dict[str, Any]) -> None:
    queues = _of_type(template, "AWS::SQS::Queue")
    work = {k: v for k, v in queues.items() if "RedrivePolicy" in v["Properties"]}
    slots = {f"Slot{i}TaskQueue" for i in range(SLOTS)}
    assert set(work) == {"EventsQueue", "DefaultTaskQueue", "InboxQueue"} | slots
    for name, queue in work.items():
        policy = queue["Properties"]["RedrivePolicy"]
        assert policy["maxReceiveCount"] == 5
        dlq = policy["deadLetterTargetArn"]["Fn::GetAtt"][0]
        assert dlq in queues and "RedrivePolicy" not in queues[dlq]["Properties"]
        # A slot's DLQ exists exactly when its queue does.
        assert queues[dlq].get("Condition") == queue.get("Condition"), name
        # SqsQueues finds the DLQ by name: <queue>-dlq.
        assert _queue_name(queues[dlq]["Properties"]) == _queue_name(queue["Properties"]) + "-dlq"
        # 14 days: the longest SQS keeps a message, time to look at it.
        assert queues[dlq]["Properties"]["MessageRetentionPeriod"] == 1209600


def test_every_queue_is_encrypted_by_the_key_or_sqs(template: dict[str, Any]) -> None:
    for name, queue in _of_type(template, "AWS::SQS::Queue").items():
        props = queue["Properties"]
        assert props["KmsMasterKeyId"] == {
            "Fn::If": ["HasKmsKey", {"Ref": "KmsKeyArn"}, {"Ref": "AWS::NoValue"}]
        }, name
        assert props["SqsManagedSseEnabled"] == {
            "Fn::If": ["HasKmsKey", {"Ref": "AWS::NoValue"}, True]
        }, name


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


def test_buckets_are_encrypted_private_and_tls_only(template: dict[str, Any]) -> None:
    buckets = _of_type(template, "AWS::S3::Bucket")
    assert set(buckets) == {"ClaimCheckBucket", "AccessLogBucket"}
    policies = {
        p["Properties"]["Bucket"]["Ref"]: p["Properties"]["PolicyDocument"]["Statement"]
        for p in _of_type(template, "AWS::S3::BucketPolicy").values()
    }
    for name, bucket in buckets.items():
        props = bucket["Properties"]
        assert props["BucketEncryption"]["ServerSideEncryptionConfiguration"], name
        assert all(props["PublicAccessBlockConfiguration"].values())
        assert len(props["PublicAccessBlockConfiguration"]) == 4
        (deny,) = [s for s in policies[name] if s["Sid"] == "DenyInsecureTransport"]
        assert deny["Effect"] == "Deny"
        assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    claims = buckets["ClaimCheckBucket"]["Properties"]
    assert claims["LoggingConfiguration"]["DestinationBucketName"] == {"Ref": "AccessLogBucket"}
    rules = {r["Id"]: r for r in claims["LifecycleConfiguration"]["Rules"]}
    # Claim checks of queue messages (queue_wire.claim_key: messages/<queue>/...) expire.
    from stepq.backends.queue_wire import claim_key

    assert claim_key("events", "0" * 64).startswith(rules["expire-message-claim-checks"]["Prefix"])
    assert rules["expire-message-claim-checks"]["ExpirationInDays"] == {
        "Ref": "ClaimCheckMessageDays"
    }
    # Never before SQS (14 days, DLQ included) can have dropped the message.
    assert template["Parameters"]["ClaimCheckMessageDays"]["MinValue"] >= 15
    assert rules["tidy-up"]["NoncurrentVersionExpiration"]["NoncurrentDays"] > 0


def _statements(template: dict[str, Any], function: str) -> list[dict[str, Any]]:
    """The statements of a function's own role, conditional ones as (condition, statement)."""
    role = template["Resources"][function]["Properties"]["Role"]["Fn::GetAtt"][0]
    (policy,) = template["Resources"][role]["Properties"]["Policies"]
    return policy["PolicyDocument"]["Statement"]


def test_direct_lambda_invoke_is_opt_in_and_conditional(template: dict[str, Any]) -> None:
    param = template["Parameters"]["DirectLambdaInvoke"]
    assert param["AllowedValues"] == ["true", "false"]
    assert param["Default"] == "false"
    assert template["Conditions"]["DirectLambdaInvokeEnabled"] == {
        "Fn::Equals": [{"Ref": "DirectLambdaInvoke"}, "true"]
    }
    workers = ["WorkerFunction"] + [f"Slot{i}WorkerFunction" for i in range(SLOTS)]
    for name in workers:
        worker = template["Resources"][name]["Properties"]
        # backends.aws.lambda_invoke.direct_lambda_enabled reads this variable.
        assert worker["Environment"]["Variables"]["STEPQ_DIRECT_LAMBDA"] == {
            "Ref": "DirectLambdaInvoke"
        }
        conditional = [s["Fn::If"] for s in _statements(template, name) if "Fn::If" in s]
        invoking = [c for c in conditional if c[0] == "DirectLambdaInvokeEnabled"]
        assert len(invoking) == 2, name
        for _, enabled, disabled in invoking:
            assert disabled == {"Ref": "AWS::NoValue"}
            assert enabled["Action"] == "lambda:InvokeFunction"
        (allow,) = [e for _, e, _ in invoking if e["Effect"] == "Allow"]
        assert allow["Resource"] == {
            "Fn::Sub": "arn:${AWS::Partition}:lambda:${AWS::Region}:${AWS::AccountId}:function:*"
        }
        (deny,) = [e for _, e, _ in invoking if e["Effect"] == "Deny"]
        denied = {r["Fn::GetAtt"][0] for r in deny["Resource"] if "Fn::GetAtt" in r}
        assert denied == {
            "OrchestratorFunction",
            "SchedulerFunction",
            "ApiFunction",
            "InboxFunction",
        }
    # No other function may invoke Lambda, conditionally or not.
    for name in _of_type(template, "AWS::Serverless::Function"):
        if name not in workers:
            assert "lambda:" not in str(_statements(template, name)), name


def _dynamodb_actions_on_table(statements: list[Any]) -> set[str]:
    """What a role's statements let it do on the ``Table`` resource."""
    actions: set[str] = set()
    for statement in statements:
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
    for name in ["WorkerFunction"] + [f"Slot{i}WorkerFunction" for i in range(SLOTS)]:
        worker = template["Resources"][name]["Properties"]
        granted = _dynamodb_actions_on_table(_statements(template, name))
        assert {"GetItem", "PutItem", "UpdateItem", "DeleteItem"} <= granted, (name, granted)
        variables = {
            **template["Globals"]["Function"]["Environment"]["Variables"],
            **worker.get("Environment", {}).get("Variables", {}),
        }
        assert variables["STEPQ_TABLE"] == {"Ref": "Table"}  # the helper's default table name
    # Guards the check above: read-only access to the table does not pass it.
    read_only = [
        {
            "Effect": "Allow",
            "Action": ["dynamodb:GetItem", "dynamodb:Query"],
            "Resource": [{"Fn::GetAtt": ["Table", "Arn"]}],
        }
    ]
    assert not {"PutItem", "UpdateItem", "DeleteItem"} <= _dynamodb_actions_on_table(read_only)


# The shared contract: each function's Powertools service name.
SERVICES = {
    "OrchestratorFunction": "stepq-orchestrator",
    "WorkerFunction": "stepq-worker",
    "SchedulerFunction": "stepq-scheduler",
    "InboxFunction": "stepq-inbox",
    "ApiFunction": "stepq-api",
} | {f"Slot{i}WorkerFunction": "stepq-worker" for i in range(SLOTS)}


def test_every_function_names_its_service_as_its_handler_does(template: dict[str, Any]) -> None:
    functions = _of_type(template, "AWS::Serverless::Function")
    assert set(functions) == set(SERVICES)
    for name, fn in functions.items():
        props = fn["Properties"]
        service = props["Environment"]["Variables"]["POWERTOOLS_SERVICE_NAME"]
        assert service == SERVICES[name], name
        source = (ROOT / props["CodeUri"] / "app.py").read_text()
        assert f'Observability("{service}")' in source, name  # its Logger, Tracer, Metrics


def test_the_environment_carries_the_stack_parameters(template: dict[str, Any]) -> None:
    env = template["Globals"]["Function"]["Environment"]["Variables"]
    assert env["POWERTOOLS_METRICS_NAMESPACE"] == "Stepq"
    assert env["POWERTOOLS_LOG_LEVEL"] == {"Ref": "LogLevel"}
    assert env["STEPQ_RETENTION_DAYS"] == {"Ref": "RetentionDays"}
    assert template["Parameters"]["LogLevel"]["AllowedValues"] == [
        "DEBUG",
        "INFO",
        "WARNING",
        "ERROR",
        "CRITICAL",
    ]
    # X-Ray records traces only when asked: Active costs about $0.03/M transitions more.
    assert template["Globals"]["Function"]["Tracing"] == {"Ref": "Tracing"}
    assert template["Parameters"]["Tracing"]["Default"] == "PassThrough"
    (table,) = _of_type(template, "AWS::DynamoDB::Table").values()
    assert table["Properties"]["DeletionProtectionEnabled"] == {"Ref": "TableDeletionProtection"}


@pytest.mark.parametrize(
    "name",
    [
        "ApiUrl",
        "TableName",
        "QueuePrefix",
        "BucketName",
        "EventsQueueUrl",
        "EventsDLQUrl",
        "InboxQueueUrl",
        "InboxDLQUrl",
    ],
)
def test_the_contracts_outputs_exist(template: dict[str, Any], name: str) -> None:
    assert name in template["Outputs"]


def test_the_api_url_is_the_stage_of_the_iam_api(template: dict[str, Any]) -> None:
    api = template["Resources"]["StepqApi"]
    assert api["Type"] == "AWS::Serverless::Api"
    assert api["Properties"]["Auth"]["DefaultAuthorizer"] == "AWS_IAM"
    assert api["Properties"]["StageName"] == {"Ref": "Stage"}
    events = template["Resources"]["ApiFunction"]["Properties"]["Events"]
    assert set(events) == {"Api", "People"}
    event = events["Api"]
    assert event["Type"] == "Api"
    assert (event["Properties"]["Path"], event["Properties"]["Method"]) == ("/", "POST")
    assert event["Properties"]["RestApiId"] == {"Ref": "StepqApi"}
    assert "Authorizer" not in event["Properties"]["Auth"]  # the default: AWS_IAM
    url = template["Outputs"]["ApiUrl"]["Value"]["Fn::Sub"]
    assert url == "https://${StepqApi}.execute-api.${AWS::Region}.${AWS::URLSuffix}/${Stage}/"


def test_people_sign_in_with_cognito_at_post_people(template: dict[str, Any]) -> None:
    people = template["Resources"]["ApiFunction"]["Properties"]["Events"]["People"]
    assert (people["Properties"]["Path"], people["Properties"]["Method"]) == ("/people", "POST")
    assert people["Properties"]["RestApiId"] == {"Ref": "StepqApi"}
    assert people["Properties"]["Auth"]["Authorizer"] == "PeopleCognito"
    authorizer = template["Resources"]["StepqApi"]["Properties"]["Auth"]["Authorizers"]
    assert authorizer["PeopleCognito"]["UserPoolArn"] == {
        "Fn::If": ["CreateUserPool", {"Fn::GetAtt": ["UserPool", "Arn"]}, {"Ref": "PeopleUserPool"}]
    }
    pool = template["Resources"]["UserPool"]
    assert pool["Condition"] == "CreateUserPool"
    assert pool["Properties"]["AdminCreateUserConfig"]["AllowAdminCreateUserOnly"] is True
    client = template["Resources"]["UserPoolClient"]["Properties"]
    assert client["GenerateSecret"] is False
    assert "ALLOW_USER_SRP_AUTH" in client["ExplicitAuthFlows"]
    for name in ("PeopleApiUrl", "UserPoolId", "UserPoolClientId"):
        assert name in template["Outputs"]


def test_workers_mail_through_ses_only_with_mail_from(template: dict[str, Any]) -> None:
    workers = [
        name
        for name, r in template["Resources"].items()
        if r["Type"] == "AWS::Serverless::Function"
        and r["Properties"]["CodeUri"] == "functions/worker/"
    ]
    assert len(workers) == 9
    for name in workers:
        env = template["Resources"][name]["Properties"]["Environment"]["Variables"]
        assert env["STEPQ_MAIL_FROM"] == {"Ref": "MailFrom"}, name
        role = template["Resources"][name]["Properties"]["Role"]["Fn::GetAtt"][0]
        statements = template["Resources"][role]["Properties"]["Policies"][0]["PolicyDocument"][
            "Statement"
        ]
        mail = [
            s["Fn::If"] for s in statements if "Fn::If" in s and s["Fn::If"][0] == "HasMailFrom"
        ]
        assert len(mail) == 1, name
        assert mail[0][1]["Action"] == "ses:SendEmail", name

"""template.yaml through aws-sam-translator, offline: what SAM turns it into.

``sam package`` replaces local CodeUri/ContentUri with S3 URLs before the
transform runs in CloudFormation; the same is done here, then the Serverless
resources are expanded as CloudFormation would expand them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("samtranslator")
from cfnlint.decode import decode
from samtranslator.translator.transform import transform

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template.yaml"
SLOTS = 8
FUNCTIONS = ["OrchestratorFunction", "WorkerFunction", "SchedulerFunction", "InboxFunction"]
FUNCTIONS += ["ApiFunction"] + [f"Slot{i}WorkerFunction" for i in range(SLOTS)]


class _NoManagedPolicies:
    """The translator's managed-policy loader: asking for one fails (there are none)."""

    def load(self) -> dict[str, str]:
        raise AssertionError("the template should need no AWS managed policy")


def _packaged(template: dict[str, Any]) -> dict[str, Any]:
    for resource in template["Resources"].values():
        props = resource.get("Properties", {})
        for key in ("CodeUri", "ContentUri"):
            if isinstance(props.get(key), str):
                props[key] = f"s3://packaged/{props[key]}"
    return template


@pytest.fixture(scope="module")
def translated() -> dict[str, Any]:
    parsed, problems = decode(str(TEMPLATE))
    assert not problems, problems
    with pytest.MonkeyPatch.context() as patch:  # the translator wants a region, nothing else
        patch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
        return transform(_packaged(parsed), {}, _NoManagedPolicies())


def _of_type(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == kind}


def test_nothing_serverless_is_left(translated: dict[str, Any]) -> None:
    kinds = {r["Type"] for r in translated["Resources"].values()}
    assert not {k for k in kinds if k.startswith("AWS::Serverless::")}
    assert "Transform" not in translated
    assert set(_of_type(translated, "AWS::Lambda::Function")) == set(FUNCTIONS)


def test_the_api_is_post_slash_with_iam_auth_invoking_the_api_function(
    translated: dict[str, Any],
) -> None:
    (api,) = _of_type(translated, "AWS::ApiGateway::RestApi").values()
    body = api["Properties"]["Body"]
    assert body["openapi"].startswith("3.")
    assert sorted(body["paths"]) == ["/", "/people"]
    assert list(body["paths"]["/"]) == ["post"]
    post = body["paths"]["/"]["post"]
    assert post["security"] == [{"AWS_IAM": []}]
    scheme = body["components"]["securitySchemes"]["AWS_IAM"]
    assert scheme["x-amazon-apigateway-authtype"] == "awsSigv4"
    # People: the same function at POST /people, behind the Cognito user pool authorizer.
    people = body["paths"]["/people"]["post"]
    assert people["security"] == [{"PeopleCognito": []}]
    cognito = body["components"]["securitySchemes"]["PeopleCognito"]
    assert cognito["x-amazon-apigateway-authorizer"]["type"] == "cognito_user_pools"
    assert "${ApiFunction.Arn}" in people["x-amazon-apigateway-integration"]["uri"]["Fn::Sub"]
    integration = post["x-amazon-apigateway-integration"]
    assert integration["type"] == "aws_proxy"
    assert "${ApiFunction.Arn}" in integration["uri"]["Fn::Sub"]
    # API Gateway invokes with its own permission, not with each caller's credentials.
    assert "credentials" not in integration
    permissions = [
        p["Properties"]
        for p in _of_type(translated, "AWS::Lambda::Permission").values()
        if p["Properties"]["Principal"] == "apigateway.amazonaws.com"
    ]
    assert len(permissions) == 2  # POST / and POST /people
    assert all(p["FunctionName"] == {"Ref": "ApiFunction"} for p in permissions)
    (stage,) = _of_type(translated, "AWS::ApiGateway::Stage").values()
    assert stage["Properties"]["StageName"] == {"Ref": "Stage"}
    assert stage["Properties"]["TracingEnabled"] == {"Fn::If": ["TracingActive", True, False]}


def test_sqs_event_sources_report_partial_batch_failures(translated: dict[str, Any]) -> None:
    mappings = _of_type(translated, "AWS::Lambda::EventSourceMapping")
    by_function = {m["Properties"]["FunctionName"]["Ref"]: m for m in mappings.values()}
    assert len(by_function) == len(mappings) == len(FUNCTIONS) - 2  # not the scheduler, the API
    expected_queue = {
        "OrchestratorFunction": "EventsQueue",
        "WorkerFunction": "DefaultTaskQueue",
        "InboxFunction": "InboxQueue",
    } | {f"Slot{i}WorkerFunction": f"Slot{i}TaskQueue" for i in range(SLOTS)}
    for function, mapping in by_function.items():
        props = mapping["Properties"]
        assert props["FunctionResponseTypes"] == ["ReportBatchItemFailures"], function
        assert props["EventSourceArn"] == {"Fn::GetAtt": [expected_queue[function], "Arn"]}
        assert set(props["BatchSize"]) == {"Ref"}
        assert set(props["MaximumBatchingWindowInSeconds"]) == {"Ref"}
        # A slot's mapping exists with its slot, as its function and queue do.
        if function.startswith("Slot"):
            assert mapping["Condition"] == function[:5]
            assert translated["Resources"][function]["Condition"] == function[:5]


def test_the_slots_keep_their_conditions(translated: dict[str, Any]) -> None:
    for i in range(SLOTS):
        condition = translated["Conditions"][f"Slot{i}"]
        assert "Fn::Select" in str(condition) and "DedicatedStepFunctions" in str(condition)
        owned = {
            name: r for name, r in translated["Resources"].items() if name.startswith(f"Slot{i}")
        }
        kinds = {r["Type"] for r in owned.values()}
        assert {
            "AWS::SQS::Queue",
            "AWS::IAM::Role",
            "AWS::Lambda::Function",
            "AWS::Lambda::EventSourceMapping",
            "AWS::Logs::LogGroup",
        } == kinds
        assert all(r["Condition"] == f"Slot{i}" for r in owned.values())


def test_sam_adds_no_role_and_no_managed_policy(translated: dict[str, Any]) -> None:
    # Each function runs as the role the template declares, with only its statements.
    roles = _of_type(translated, "AWS::IAM::Role")
    functions = _of_type(translated, "AWS::Lambda::Function")
    used = {f["Properties"]["Role"]["Fn::GetAtt"][0] for f in functions.values()}
    assert used == set(roles)
    assert len(used) == len(functions)  # one role per function
    for name, role in roles.items():
        assert "ManagedPolicyArns" not in role["Properties"], name


def test_the_schedule_invokes_the_scheduler_every_minute(translated: dict[str, Any]) -> None:
    rules = [
        r["Properties"]
        for r in _of_type(translated, "AWS::Events::Rule").values()
        if "ScheduleExpression" in r["Properties"]
    ]
    (rule,) = rules
    assert rule["ScheduleExpression"] == "rate(1 minute)"
    assert rule["Targets"][0]["Arn"] == {"Fn::GetAtt": ["SchedulerFunction", "Arn"]}


def test_the_observability_stack_is_nested(translated: dict[str, Any]) -> None:
    (stack,) = _of_type(translated, "AWS::CloudFormation::Stack").values()
    location = stack["Properties"]["TemplateURL"]
    assert (ROOT / location).is_file()

"""The integrations' request and response shaping and error naming (no network:
botocore's clients are made, never called), and the resource checks."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from stepq.backends.aws.integrations import AwsIntegrations, optimised, sdk
from stepq.core.definition import find_problems, load_definition
from stepq.core.definition.resources import check_resource, is_service_integration
from stepq.errors import DefinitionError

CASES = Path(__file__).resolve().parents[2].parent / "shared" / "conformance" / "cases"


@pytest.fixture(scope="module")
def session() -> Any:
    return boto3.session.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1"
    )


def client_error(code: str, message: str = "nope", query_code: str | None = None) -> ClientError:
    error: dict[str, Any] = {"Code": code, "Message": message}
    if query_code:
        error["QueryErrorCode"] = query_code
    meta = {"HTTPStatusCode": 400, "RequestId": "req-1"}
    return ClientError({"Error": error, "ResponseMetadata": meta}, "Op")  # type: ignore[arg-type]


# --- which resources stepq runs --------------------------------------------------------


@pytest.mark.parametrize(
    "resource",
    [
        "arn:aws:lambda:us-east-1:111111111111:function:charge",
        "arn:aws:lambda:us-east-1:111111111111:function:charge:prod",
        "arn:aws:states:::lambda:invoke",
        "arn:aws:states:::lambda:invoke.waitForTaskToken",
        "arn:aws:states:::sqs:sendMessage",
        "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
        "arn:aws:states:::sns:publish",
        "arn:aws:states:::sns:publish.waitForTaskToken",
        "arn:aws:states:::aws-sdk:sqs:getQueueUrl",
        "arn:aws:states:::aws-sdk:dynamodb:putItem.waitForTaskToken",
        "arn:aws-us-gov:states:::aws-sdk:acmpca:deleteCertificateAuthority",
        "arn:aws:states:us-east-1:111111111111:activity:review",
    ],
)
def test_resources_stepq_runs_are_accepted(resource: str) -> None:
    assert check_resource(resource) is None


@pytest.mark.parametrize(
    "resource",
    [
        "arn:aws:states:::dynamodb:putItem",
        "arn:aws:states:::lambda:invoke.sync",
        "arn:aws:states:::states:startExecution.sync:2",
        "arn:aws:states:::sqs:sendMessage.sync",
        "arn:aws:states:::aws-sdk:sqs",
        "arn:aws:states:::aws-sdk:sqs:getQueueUrl.sync",
        "arn:aws:s3:::bucket",
    ],
)
def test_resources_stepq_cannot_run_are_refused_naming_what_it_runs(resource: str) -> None:
    problem = check_resource(resource)
    assert problem is not None and problem.startswith(f"{resource} is not supported")
    for supported in ("Lambda functions", "sqs:sendMessage", "sns:publish", "aws-sdk:*"):
        assert supported in problem


def test_only_service_integrations_go_to_the_integrations() -> None:
    assert is_service_integration("arn:aws:states:::sqs:sendMessage.waitForTaskToken")
    assert is_service_integration("arn:aws:states:::aws-sdk:s3:listBuckets")
    assert not is_service_integration("arn:aws:states:::lambda:invoke")
    assert not is_service_integration("arn:aws:states:us-east-1:111111111111:activity:a")


def _machine(**states: dict[str, Any]) -> dict[str, Any]:
    return {"StartAt": next(iter(states)), "States": states}


def test_validation_reports_each_refusal_with_its_path() -> None:
    processor = {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}
    definition = _machine(
        Put={"Type": "Task", "Resource": "arn:aws:states:::dynamodb:putItem", "Next": "Map"},
        Map={
            "Type": "Map",
            "ItemReader": {"Resource": "arn:aws:states:::s3:getObject"},
            "ResultWriter": {"Resource": "arn:aws:states:::s3:putObject"},
            "ItemProcessor": processor,
            "Next": "Send",
        },
        Send={
            "Type": "Task",
            "Resource": "arn:aws:states:::sqs:sendMessage",
            "Parameters": {"QueueUrl": "q", "Body.$": "$"},
            "End": True,
        },
    )
    found = {(p.path, p.message) for p in find_problems(definition)}
    assert (
        "/States/Put/Resource",
        "arn:aws:states:::dynamodb:putItem is not supported; stepq runs: Lambda functions, "
        "lambda:invoke, sqs:sendMessage, sns:publish, aws-sdk:*, activities, "
        "stepq:humanTask.waitForTaskToken, stepq:processActivities",
    ) in found
    assert ("/States/Map/ItemReader", "ItemReader (S3) is not supported yet") in found
    assert ("/States/Map/ResultWriter", "ResultWriter (S3) is not supported yet") in found
    assert (
        "/States/Send/Parameters",
        'the field "Body" is not supported by sqs:sendMessage',
    ) in found
    assert (
        "/States/Send/Parameters",
        'the field "MessageBody" is required by sqs:sendMessage but is missing',
    ) in found
    with pytest.raises(DefinitionError):
        load_definition(definition)


def test_a_refused_resource_inside_a_parallel_branch_has_its_path() -> None:
    branch = {
        "StartAt": "T",
        "States": {
            "T": {"Type": "Task", "Resource": "arn:aws:states:::ecs:runTask.sync", "End": True}
        },
    }
    definition = _machine(P={"Type": "Parallel", "Branches": [branch], "End": True})
    paths = [p.path for p in find_problems(definition)]
    assert paths == ["/States/P/Branches/0/States/T/Resource"]


def test_jsonata_arguments_of_sns_publish_are_checked() -> None:
    publish = {
        "Type": "Task",
        "QueryLanguage": "JSONata",
        "Resource": "arn:aws:states:::sns:publish",
        "Arguments": {"TopicArn": "t", "Message": "{% $states.input %}", "Colour": "red"},
        "End": True,
    }
    problems = find_problems(_machine(P=publish))
    assert [(p.path, p.message) for p in problems] == [
        ("/States/P/Arguments", 'the field "Colour" is not supported by sns:publish')
    ]


@pytest.mark.skipif(not CASES.is_dir(), reason=f"conformance cases not found at {CASES}")
def test_no_conformance_case_aws_accepted_is_refused_for_its_resources() -> None:
    checked = 0
    for path in sorted(CASES.rglob("*.json")):
        case = json.loads(path.read_text())
        if case.get("expected", {}).get("status") == "REJECTED_AT_CREATE":
            continue
        problems = find_problems(case["definition"])
        assert not [p for p in problems if "not supported" in p.message], path
        checked += 1
    assert checked > 500


# --- the optimised integrations -------------------------------------------------------


def test_a_json_message_body_is_sent_as_compact_text() -> None:
    sent = optimised.request("sqs:sendMessage", {"QueueUrl": "q", "MessageBody": {"a": [1, "é"]}})
    assert sent == {"QueueUrl": "q", "MessageBody": '{"a":[1,"é"]}'}
    assert optimised.request("sns:publish", {"Message": "as is"}) == {"Message": "as is"}
    assert optimised.request("sns:publish", {"Message": 7}) == {"Message": "7"}


def test_the_result_carries_the_sdk_metadata() -> None:
    response = {
        "MessageId": "m-1",
        "MD5OfMessageBody": "abc",
        "ResponseMetadata": {
            "RequestId": "r-1",
            "HTTPStatusCode": 200,
            "HTTPHeaders": {"x-amzn-requestid": "r-1", "content-length": "9"},
        },
    }
    assert optimised.result(response) == {
        "MessageId": "m-1",
        "MD5OfMessageBody": "abc",
        "SdkHttpMetadata": {
            "AllHttpHeaders": {"x-amzn-requestid": ["r-1"], "content-length": ["9"]},
            "HttpHeaders": {"x-amzn-requestid": "r-1", "content-length": "9"},
            "HttpStatusCode": 200,
        },
        "SdkResponseMetadata": {"RequestId": "r-1"},
    }


def test_optimised_errors_are_named_as_step_functions_names_them() -> None:
    sqs = optimised.service_failure(
        "sqs:sendMessage", client_error("AWS.SimpleQueueService.NonExistentQueue", "gone")
    )
    assert sqs.error == "SQS.AmazonSQSException"
    assert sqs.cause == (
        "gone (Service: AmazonSQS; Status Code: 400; Error Code: "
        "AWS.SimpleQueueService.NonExistentQueue; Request ID: req-1; Proxy: null)"
    )
    assert (
        optimised.service_failure("sns:publish", client_error("NotFound")).error
        == "SNS.NotFoundException"
    )
    assert (
        optimised.service_failure("sns:publish", client_error("InvalidParameterException")).error
        == "SNS.InvalidParameterException"
    )


def test_no_answer_at_all_is_the_sdk_client_exception(session: Any) -> None:
    from botocore.config import Config

    # Port 9 (discard) on loopback: refused at once, nothing leaves the machine.
    integrations = AwsIntegrations(
        endpoint_url="http://127.0.0.1:9",
        session=session,
        config=Config(retries={"max_attempts": 1}, connect_timeout=1),
    )
    outcome = integrations(
        "arn:aws:states:::sqs:sendMessage",
        {"QueueUrl": "http://127.0.0.1:9/1/q", "MessageBody": "x"},
    )
    assert outcome.error == "SQS.SdkClientException"
    assert outcome.cause and outcome.cause.startswith("Unable to execute HTTP request")
    outcome = integrations("arn:aws:states:::aws-sdk:sqs:listQueues", {})
    assert outcome.error == "Sqs.SdkClientException"


def test_parameters_that_are_not_an_object_fail_with_states_runtime() -> None:
    outcome = AwsIntegrations()("arn:aws:states:::sns:publish", "text")
    assert outcome.error == "States.Runtime"
    assert (
        outcome.cause
        == 'The parameters of arn:aws:states:::sns:publish are not valid: expected an object, got "text"'
    )


# --- aws-sdk:* ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "service_id, name",
    [
        ("SQS", "Sqs"),
        ("DynamoDB", "DynamoDb"),
        ("ACM PCA", "AcmPca"),
        ("CloudWatch Logs", "CloudWatchLogs"),
        ("EventBridge", "EventBridge"),
        ("SFN", "Sfn"),
        ("S3", "S3"),
        ("EC2", "Ec2"),
        ("API Gateway", "ApiGateway"),
        ("Elastic Load Balancing v2", "ElasticLoadBalancingV2"),
        ("IoT", "Iot"),
    ],
)
def test_service_names_are_the_java_sdks(service_id: str, name: str) -> None:
    assert sdk.java_service_name(service_id) == name


@pytest.mark.parametrize(
    "sdk_name, boto_name",
    [
        ("sqs", "sqs"),
        ("dynamodb", "dynamodb"),
        ("sfn", "stepfunctions"),
        ("acmpca", "acm-pca"),
        ("cloudwatchlogs", "logs"),
        ("eventbridge", "events"),
        ("secretsmanager", "secretsmanager"),
    ],
)
def test_aws_sdk_service_names_resolve_to_boto3s(
    session: Any, sdk_name: str, boto_name: str
) -> None:
    assert sdk.ServiceCatalog(session).boto_name(sdk_name) == boto_name


def test_an_unknown_service_or_action_fails_the_task(session: Any) -> None:
    integrations = AwsIntegrations(session=session, region="us-east-1")
    outcome = integrations("arn:aws:states:::aws-sdk:nosuchservice:doIt", {})
    assert outcome.error == "States.Runtime" and "no service 'nosuchservice'" in (
        outcome.cause or ""
    )
    outcome = integrations("arn:aws:states:::aws-sdk:sqs:doIt", {})
    assert outcome.error == "States.Runtime" and "sqs has no action 'doIt'" in (outcome.cause or "")


@pytest.mark.parametrize(
    "service, code, name",
    [
        ("sqs", "QueueDoesNotExist", "Sqs.QueueDoesNotExistException"),
        ("sqs", "", "Sqs.SqsException"),
        ("s3", "NoSuchBucket", "S3.NoSuchBucketException"),
        ("dynamodb", "ResourceNotFoundException", "DynamoDb.ResourceNotFoundException"),
        ("stepfunctions", "InvalidArn", "Sfn.InvalidArnException"),
        ("logs", "AccessDeniedException", "CloudWatchLogs.AccessDeniedException"),
        ("events", "AccessDenied", "EventBridge.AccessDeniedException"),
    ],
)
def test_aws_sdk_errors_are_named_service_dot_error_exception(
    session: Any, service: str, code: str, name: str
) -> None:
    assert sdk.error_name(session.client(service), code) == name


def test_an_aws_sdk_failure_prefers_the_query_code_and_reads_like_the_java_sdk(
    session: Any,
) -> None:
    exc = client_error(
        "AWS.SimpleQueueService.NonExistentQueue", "gone", query_code="QueueDoesNotExist"
    )
    outcome = sdk.service_failure(session.client("sqs"), exc)
    assert outcome.error == "Sqs.QueueDoesNotExistException"
    assert outcome.cause == "gone (Service: Sqs, Status Code: 400, Request ID: req-1)"


def test_parameters_are_matched_to_the_apis_members_ignoring_case(session: Any) -> None:
    model = session.client("stepfunctions").meta.service_model
    shape = model.operation_model("StartExecution").input_shape
    shaped = sdk.to_request({"StateMachineArn": "arn", "Input": {"a": 1}, "Name": "n"}, shape)
    assert shaped == {"stateMachineArn": "arn", "input": '{"a":1}', "name": "n"}


def test_a_blob_parameter_takes_text_or_json(session: Any) -> None:
    shape = session.client("lambda").meta.service_model.operation_model("Invoke").input_shape
    shaped = sdk.to_request({"FunctionName": "f", "Payload": {"k": "v"}}, shape)
    assert shaped == {"FunctionName": "f", "Payload": b'{"k":"v"}'}


def test_results_are_in_the_apis_casing_first_letter_upper(session: Any) -> None:
    model = session.client("stepfunctions").meta.service_model
    shape = model.operation_model("StartExecution").output_shape
    when = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    answer = {"executionArn": "arn", "startDate": when, "ResponseMetadata": {"RequestId": "r"}}
    assert sdk.from_response(answer, shape) == {
        "ExecutionArn": "arn",
        "StartDate": "2026-01-02T03:04:05+00:00",
    }


def test_nested_results_keep_map_keys_and_decode_bytes(session: Any) -> None:
    shape = (
        session.client("sqs").meta.service_model.operation_model("GetQueueAttributes").output_shape
    )
    answer = {"Attributes": {"queueLike": "x"}}
    assert sdk.from_response(answer, shape) == {"Attributes": {"queueLike": "x"}}
    assert sdk.from_response(b"text") == "text"
    assert sdk.from_response(b"\xff\xfe") == "//4="


def test_stepq_validate_refuses_an_unsupported_resource_with_its_path(tmp_path: Path) -> None:
    from stepq.cli.commands import app
    from typer.testing import CliRunner

    path = tmp_path / "m.asl.json"
    put = {"Type": "Task", "Resource": "arn:aws:states:::dynamodb:putItem", "End": True}
    path.write_text(json.dumps(_machine(Put=put)))
    result = CliRunner().invoke(app, ["validate", str(path)])
    assert result.exit_code == 1
    assert "/States/Put/Resource: arn:aws:states:::dynamodb:putItem is not supported" in (
        result.output
    )

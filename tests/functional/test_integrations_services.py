"""Service integrations end to end: the embedded runtime's worker calls SQS, SNS and
any AWS API (aws-sdk:*) on a moto server on 127.0.0.1, through boto3.

The "department" pattern: a machine sends work with its task token to another
team's queue (sqs:sendMessage.waitForTaskToken) and resumes when that team
answers with SendTaskSuccess.
"""

from __future__ import annotations

import itertools
import json
import threading
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto.server import ThreadedMotoServer
from stepq.backends.aws.integrations import AwsIntegrations
from stepq.errors import DefinitionError
from stepq.hosting.embedded import EmbeddedRuntime

REGION = "us-east-1"
ACCOUNT = "123456789012"  # moto's default account: the server's resources live there
_numbers = itertools.count()


@pytest.fixture(scope="module")
def services_url() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture(scope="module")
def runtime(services_url: str) -> Iterator[EmbeddedRuntime]:
    # Real time: the department answers from another thread while the machine waits.
    # One runtime for the module (each test deploys its own machine): starting one is slow.
    integrations = AwsIntegrations(endpoint_url=services_url)
    with EmbeddedRuntime({}, integrations=integrations) as rt:
        yield rt


def client(service: str, url: str) -> Any:
    return boto3.client(service, endpoint_url=url, region_name=REGION)


def machine(*states: tuple[str, dict[str, Any]]) -> dict[str, Any]:
    return {"StartAt": states[0][0], "States": dict(states)}


def run(runtime: Any, definition: dict[str, Any], data: Any) -> Any:
    name = f"m{next(_numbers)}"
    runtime.deploy(name, definition)
    return runtime.wait(runtime.start(name, data), timeout=30)


def test_a_department_answers_the_token_sent_to_its_queue(runtime: Any, services_url: str) -> None:
    sqs = client("sqs", services_url)
    queue = sqs.create_queue(QueueName="claims-department")["QueueUrl"]
    answered: list[dict[str, Any]] = []

    def department() -> None:
        for _ in range(20):
            got = sqs.receive_message(QueueUrl=queue, WaitTimeSeconds=1).get("Messages", [])
            for message in got:
                work = json.loads(message["Body"])
                answered.append(work)
                runtime.client.send_task_success(work["token"], {"approved": work["claim"]})
                return

    worker = threading.Thread(target=department, daemon=True)
    worker.start()
    send = {
        "Type": "Task",
        "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
        "Parameters": {
            "QueueUrl": queue,
            "MessageBody": {"claim.$": "$.claim", "token.$": "$$.Task.Token"},
        },
        "End": True,
    }
    outcome = run(runtime, machine(("Ask", send)), {"claim": "c-7"})
    worker.join(timeout=5)
    assert outcome.status == "SUCCEEDED", (outcome.error, outcome.cause)
    assert outcome.output == {"approved": "c-7"}
    assert answered and answered[0]["claim"] == "c-7"  # the body was JSON, token inside


def test_send_message_returns_what_step_functions_returns(runtime: Any, services_url: str) -> None:
    sqs = client("sqs", services_url)
    queue = sqs.create_queue(QueueName="plain")["QueueUrl"]
    send = {
        "Type": "Task",
        "Resource": "arn:aws:states:::sqs:sendMessage",
        "Parameters": {"QueueUrl": queue, "MessageBody.$": "$.text"},
        "End": True,
    }
    outcome = run(runtime, machine(("Send", send)), {"text": "hello"})
    assert outcome.status == "SUCCEEDED", (outcome.error, outcome.cause)
    result = outcome.output
    assert set(result) >= {
        "MessageId",
        "MD5OfMessageBody",
        "SdkHttpMetadata",
        "SdkResponseMetadata",
    }
    assert result["MD5OfMessageBody"] == "5d41402abc4b2a76b9719d911017c592"  # md5("hello")
    assert result["SdkHttpMetadata"]["HttpStatusCode"] == 200
    assert result["SdkResponseMetadata"]["RequestId"]
    body = sqs.receive_message(QueueUrl=queue)["Messages"][0]["Body"]
    assert body == "hello"


def test_sns_publish_reaches_the_topic(runtime: Any, services_url: str) -> None:
    sns, sqs = client("sns", services_url), client("sqs", services_url)
    topic = sns.create_topic(Name="claims")["TopicArn"]
    queue = sqs.create_queue(QueueName="claims-audit")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])
    sns.subscribe(
        TopicArn=topic,
        Protocol="sqs",
        Endpoint=queue_arn["Attributes"]["QueueArn"],
        Attributes={"RawMessageDelivery": "true"},
    )
    publish = {
        "Type": "Task",
        "Resource": "arn:aws:states:::sns:publish",
        "Parameters": {"TopicArn": topic, "Subject": "claim", "Message": {"id.$": "$.id"}},
        "End": True,
    }
    outcome = run(runtime, machine(("Publish", publish)), {"id": 42})
    assert outcome.status == "SUCCEEDED", (outcome.error, outcome.cause)
    assert outcome.output["MessageId"]
    assert outcome.output["SdkHttpMetadata"]["HttpStatusCode"] == 200
    body = sqs.receive_message(QueueUrl=queue, WaitTimeSeconds=1)["Messages"][0]["Body"]
    assert json.loads(body) == {"id": 42}  # a JSON Message is sent as its compact text


def test_aws_sdk_calls_and_errors_named_as_step_functions_names_them(
    runtime: Any, services_url: str
) -> None:
    create = {
        "Type": "Task",
        "Resource": "arn:aws:states:::aws-sdk:sqs:createQueue",
        "Parameters": {"QueueName": "made-by-a-machine"},
        "ResultPath": "$.created",
        "Next": "Find",
    }
    find = {
        "Type": "Task",
        "Resource": "arn:aws:states:::aws-sdk:sqs:getQueueUrl",
        "Parameters": {"QueueName": "no-such-queue"},
        "Catch": [
            {
                "ErrorEquals": ["Sqs.QueueDoesNotExistException"],
                "ResultPath": "$.error",
                "Next": "Caught",
            }
        ],
        "End": True,
    }
    caught = {"Type": "Pass", "End": True}
    outcome = run(runtime, machine(("Create", create), ("Find", find), ("Caught", caught)), {})
    assert outcome.status == "SUCCEEDED", (outcome.error, outcome.cause)
    assert outcome.output["created"]["QueueUrl"].endswith("/made-by-a-machine")
    assert outcome.output["error"]["Error"] == "Sqs.QueueDoesNotExistException"
    assert "(Service: Sqs, Status Code: 400" in outcome.output["error"]["Cause"]
    urls = client("sqs", services_url).list_queues(QueueNamePrefix="made-by")["QueueUrls"]
    assert [u.rsplit("/", 1)[-1] for u in urls] == ["made-by-a-machine"]


def test_aws_sdk_takes_pascal_case_parameters_of_a_camel_case_api(
    runtime: Any, services_url: str
) -> None:
    """Step Functions' own API is camelCase: the machine writes PascalCase, both ways."""
    definition = json.dumps(machine(("P", {"Type": "Pass", "End": True})))
    create = {
        "Type": "Task",
        "Resource": "arn:aws:states:::aws-sdk:sfn:createStateMachine",
        "Parameters": {
            "Name": "inner",
            "Definition": definition,
            "RoleArn": f"arn:aws:iam::{ACCOUNT}:role/r",
        },
        "End": True,
    }
    outcome = run(runtime, machine(("Create", create)), {})
    assert outcome.status == "SUCCEEDED", (outcome.error, outcome.cause)
    assert outcome.output["StateMachineArn"].endswith(":stateMachine:inner")
    assert isinstance(outcome.output["CreationDate"], str)  # a timestamp, as text


def test_an_uncaught_service_error_fails_the_execution(runtime: Any, services_url: str) -> None:
    send = {
        "Type": "Task",
        "Resource": "arn:aws:states:::sqs:sendMessage",
        "Parameters": {"QueueUrl": f"{services_url}/{ACCOUNT}/missing", "MessageBody": "x"},
        "End": True,
    }
    outcome = run(runtime, machine(("Send", send)), {})
    assert outcome.status == "FAILED"
    assert outcome.error == "SQS.AmazonSQSException"
    assert "(Service: AmazonSQS; Status Code: 400;" in outcome.cause


def test_bad_parameters_fail_the_task_with_a_message(runtime: Any) -> None:
    call = {
        "Type": "Task",
        "Resource": "arn:aws:states:::aws-sdk:sqs:getQueueUrl",
        "Parameters": {"NoSuchField": 1},
        "End": True,
    }
    outcome = run(runtime, machine(("Call", call)), {})
    assert outcome.status == "FAILED"
    assert outcome.error == "States.Runtime"
    assert "aws-sdk:sqs:getQueueUrl" in outcome.cause and "QueueName" in outcome.cause


def test_deploy_refuses_a_resource_stepq_cannot_run(runtime: Any) -> None:
    put = {"Type": "Task", "Resource": "arn:aws:states:::dynamodb:putItem", "End": True}
    with pytest.raises(DefinitionError) as refused:
        runtime.deploy("m", machine(("Put", put)))
    (problem,) = refused.value.problems
    assert problem.path == "/States/Put/Resource"
    assert "is not supported; stepq runs:" in problem.message and "aws-sdk:*" in problem.message

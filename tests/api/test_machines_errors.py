"""Every refusal of the state machine operations raises botocore's exception of that name.

One server for the module (these tests only make machines to refuse them
something; each test's machines are deleted after it), to keep the suite fast.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from botocore.config import Config
from stepq.hosting.dev import DevServer

from api.conftest import REGION
from api.machines_helpers import ROLE, create, pass_machine


@pytest.fixture(scope="module")
def server() -> Iterator[DevServer]:
    with pytest.MonkeyPatch.context() as env:
        for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_DYNAMODB"):
            env.delenv(name, raising=False)
        env.setenv("AWS_ACCESS_KEY_ID", "testing")
        env.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        env.setenv("AWS_DEFAULT_REGION", REGION)
        env.setenv("AWS_CONFIG_FILE", "/nonexistent/stepq-aws-config")
        env.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/stepq-aws-credentials")
        with DevServer(port=0, environ={}) as dev:
            yield dev


@pytest.fixture
def sfn(server: DevServer) -> Iterator[Any]:
    client = boto3.client(
        "stepfunctions",
        endpoint_url=server.url,
        region_name=REGION,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(retries={"max_attempts": 1}),
    )
    yield client
    for machine in client.list_state_machines()["stateMachines"]:
        client.delete_state_machine(stateMachineArn=machine["stateMachineArn"])


ARN = "arn:aws:states:us-east-1:111111111111:stateMachine:orders"
LOG_GROUP = "arn:aws:logs:us-east-1:111111111111:log-group:sfn:*"


def _callback_machine() -> str:
    task = {
        "Type": "Task",
        "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken",
        "Parameters": {"FunctionName": "f", "Payload": {"token.$": "$$.Task.Token"}},
        "End": True,
    }
    return json.dumps({"StartAt": "Ask", "States": {"Ask": task}})


def _map_machine(label: str) -> str:
    inner = {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}
    state = {"Type": "Map", "Label": label, "ItemProcessor": inner, "End": True}
    return json.dumps({"StartAt": "M", "States": {"M": state}})


CREATE_REFUSALS: list[tuple[str, dict[str, Any], str]] = [
    (
        "unknown Next",
        {"definition": '{"StartAt":"A","States":{"A":{"Type":"Pass","Next":"B"}}}'},
        "InvalidDefinition",
    ),
    ("not JSON", {"definition": "{"}, "InvalidDefinition"),
    ("Label too long", {"definition": _map_machine("L" * 41)}, "InvalidDefinition"),
    ("Label with a space", {"definition": _map_machine("my label")}, "InvalidDefinition"),
    (
        "callback in EXPRESS",
        {"definition": _callback_machine(), "type": "EXPRESS"},
        "InvalidDefinition",
    ),
    ("name with a space", {"name": "my machine"}, "InvalidName"),
    ("name with a colon", {"name": "a:b"}, "InvalidName"),
    ("name of 81", {"name": "n" * 81}, "InvalidName"),
    ("role not a role", {"roleArn": "arn:aws:iam::111111111111:user/bob"}, "InvalidArn"),
    ("role not an ARN", {"roleArn": "role"}, "InvalidArn"),
    ("unknown type", {"type": "FAST"}, "ValidationException"),
    (
        "logging without destination",
        {"loggingConfiguration": {"level": "ALL"}},
        "InvalidLoggingConfiguration",
    ),
    (
        "logging to a non log group",
        {
            "loggingConfiguration": {
                "level": "ERROR",
                "destinations": [{"cloudWatchLogsLogGroup": {"logGroupArn": ROLE}}],
            }
        },
        "InvalidLoggingConfiguration",
    ),
    (
        "customer key without key id",
        {"encryptionConfiguration": {"type": "CUSTOMER_MANAGED_KMS_KEY"}},
        "InvalidEncryptionConfiguration",
    ),
    ("too many tags", {"tags": [{"key": f"k{i}", "value": "v"} for i in range(51)]}, "TooManyTags"),
    ("versionDescription without publish", {"versionDescription": "x"}, "ValidationException"),
]


@pytest.mark.parametrize(
    ("why", "change", "error"), CREATE_REFUSALS, ids=[c[0] for c in CREATE_REFUSALS]
)
def test_create_refusals(sfn: Any, why: str, change: dict[str, Any], error: str) -> None:
    params = {"name": "orders", "definition": pass_machine(), "roleArn": ROLE, **change}
    with pytest.raises(getattr(sfn.exceptions, error)) as refused:
        sfn.create_state_machine(**params)
    assert refused.value.response["Error"]["Message"]
    with pytest.raises(sfn.exceptions.StateMachineDoesNotExist):  # nothing was made
        sfn.describe_state_machine(stateMachineArn=ARN)


def test_invalid_definition_names_every_problem_with_its_path(sfn: Any) -> None:
    bad = {"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "B"}, "C": {"Type": "Nope"}}}
    with pytest.raises(sfn.exceptions.InvalidDefinition) as refused:
        create(sfn, definition=json.dumps(bad))
    message = refused.value.response["Error"]["Message"]
    assert "/States/A/Next" in message and "/States/C/Type" in message


def test_a_good_label_and_a_logging_destination_are_accepted(sfn: Any) -> None:
    logging = {
        "level": "ERROR",
        "includeExecutionData": True,
        "destinations": [{"cloudWatchLogsLogGroup": {"logGroupArn": LOG_GROUP}}],
    }
    arn = create(sfn, definition=_map_machine("batch-1"), loggingConfiguration=logging)[
        "stateMachineArn"
    ]
    assert sfn.describe_state_machine(stateMachineArn=arn)["loggingConfiguration"] == logging


MISSING: list[tuple[str, Callable[[Any], Any]]] = [
    ("describe", lambda s: s.describe_state_machine(stateMachineArn=ARN)),
    ("describe version", lambda s: s.describe_state_machine(stateMachineArn=f"{ARN}:3")),
    ("update", lambda s: s.update_state_machine(stateMachineArn=ARN, definition=pass_machine())),
    ("publish", lambda s: s.publish_state_machine_version(stateMachineArn=ARN)),
    ("list aliases", lambda s: s.list_state_machine_aliases(stateMachineArn=ARN)),
]


@pytest.mark.parametrize(("why", "call"), MISSING, ids=[m[0] for m in MISSING])
def test_a_missing_machine_is_state_machine_does_not_exist(
    sfn: Any, why: str, call: Callable[[Any], Any]
) -> None:
    with pytest.raises(sfn.exceptions.StateMachineDoesNotExist):
        call(sfn)


BAD_ARNS = [
    "orders",
    "arn:aws:states:us-east-1:111111111111:activity:orders",
    "arn:aws:states:eu-west-1:111111111111:stateMachine:orders",  # another region
    "arn:aws:states:us-east-1:222222222222:stateMachine:orders",  # another account
    "arn:aws:states:us-east-1:111111111111:stateMachine:orders:1:2",
]


@pytest.mark.parametrize("arn", BAD_ARNS)
def test_a_bad_arn_is_invalid_arn(sfn: Any, arn: str) -> None:
    with pytest.raises(sfn.exceptions.InvalidArn):
        sfn.describe_state_machine(stateMachineArn=arn)
    with pytest.raises(sfn.exceptions.InvalidArn):
        sfn.delete_state_machine(stateMachineArn=arn)


def test_update_refusals(sfn: Any) -> None:
    arn = create(sfn, publish=True)["stateMachineArn"]
    with pytest.raises(sfn.exceptions.MissingRequiredParameter):
        sfn.update_state_machine(stateMachineArn=arn)
    with pytest.raises(sfn.exceptions.ValidationException):  # a version is immutable
        sfn.update_state_machine(stateMachineArn=f"{arn}:1", definition=pass_machine())
    with pytest.raises(sfn.exceptions.InvalidDefinition):
        sfn.update_state_machine(stateMachineArn=arn, definition='{"StartAt":"X","States":{}}')
    with pytest.raises(sfn.exceptions.InvalidArn):
        sfn.update_state_machine(stateMachineArn=arn, roleArn="nope")
    with pytest.raises(sfn.exceptions.ValidationException):
        sfn.delete_state_machine(stateMachineArn=f"{arn}:1")
    with pytest.raises(sfn.exceptions.ValidationException):
        sfn.delete_state_machine_version(stateMachineVersionArn=arn)


def test_validate_refuses_a_bad_type_or_page(sfn: Any) -> None:
    with pytest.raises(sfn.exceptions.ValidationException):
        sfn.validate_state_machine_definition(definition=pass_machine(), type="FAST")
    with pytest.raises(sfn.exceptions.ValidationException):
        sfn.list_state_machines(maxResults=1001)


ODD: list[tuple[str, Callable[[Any], Any]]] = [
    ("unicode digit version", lambda s: s.describe_state_machine(stateMachineArn=f"{ARN}:²")),
    ("huge version", lambda s: s.describe_state_machine(stateMachineArn=f"{ARN}:{'9' * 40}")),
    ("nested token", lambda s: s.list_state_machines(nextToken="W" * 1000)),
    ("token of brackets", lambda s: s.list_state_machines(nextToken="W1tbW1tbW1tb" * 80)),
    ("tag without key", lambda s: create(s, tags=[{"value": "v"}])),
    (
        "alias of a version",
        lambda s: s.describe_state_machine_alias(stateMachineAliasArn=f"{ARN}:1"),
    ),
    (
        "update nothing of an alias",
        lambda s: s.update_state_machine_alias(stateMachineAliasArn=f"{ARN}:a"),
    ),
    (
        "alias to a non-version",
        lambda s: s.create_state_machine_alias(
            name="a", routingConfiguration=[{"stateMachineVersionArn": ARN, "weight": 100}]
        ),
    ),
    ("definition nested deep", lambda s: create(s, definition="[" * 100_000)),
    ("definition a list", lambda s: s.validate_state_machine_definition(definition="[]")),
]


@pytest.mark.parametrize(("why", "call"), ODD, ids=[o[0] for o in ODD])
def test_odd_requests_get_a_4xx_in_the_error_shape(
    sfn: Any, why: str, call: Callable[[Any], Any]
) -> None:
    try:
        reply = call(sfn)
    except sfn.exceptions.ClientError as exc:
        assert 400 <= exc.response["ResponseMetadata"]["HTTPStatusCode"] < 500
        assert exc.response["Error"]["Code"] != "InternalFailure"
    else:  # validating a bad definition answers with diagnostics, not an error
        assert reply["result"] == "FAIL"


def test_validate_names_duplicate_and_long_state_names(sfn: Any) -> None:
    inner = {"StartAt": "A", "States": {"A": {"Type": "Pass", "End": True}}}
    long_name = "L" * 81
    definition = {
        "StartAt": "A",
        "States": {
            "A": {"Type": "Parallel", "Branches": [inner], "Next": long_name},
            long_name: {"Type": "Pass", "End": True},
        },
    }
    found = sfn.validate_state_machine_definition(definition=json.dumps(definition))
    codes = {(d["code"], d["location"]) for d in found["diagnostics"]}
    assert codes == {
        ("DUPLICATE_STATE_NAME", "/States/A/Branches/0/States/A"),
        ("INVALID_STATE_NAME", f"/States/{long_name}"),
    }

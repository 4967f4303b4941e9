"""State machines over real HTTP with boto3's stepfunctions client: create, describe,
update, delete, list, validate, and what a running execution keeps."""

from __future__ import annotations

import json
import threading
from typing import Any

import botocore.session
import pytest
from stepq.api import catalog
from stepq.api.protocol import ApiError
from stepq.hosting.dev import DevServer

from api.machines_helpers import ROLE, create, pass_machine


def _output_fields(operation: str) -> set[str]:
    model = botocore.session.get_session().get_service_model("stepfunctions")
    return set(model.operation_model(operation).output_shape.members)


def test_create_then_describe_returns_every_field_as_given(sfn: Any) -> None:
    text = pass_machine({"n": 1})  # indented text: Describe gives it back byte for byte
    created = create(sfn, definition=text, tracingConfiguration={"enabled": True})
    assert created["stateMachineArn"] == "arn:aws:states:us-east-1:111111111111:stateMachine:orders"
    assert "stateMachineVersionArn" not in created
    described = sfn.describe_state_machine(stateMachineArn=created["stateMachineArn"])
    assert described["definition"] == text
    assert described["name"] == "orders" and described["status"] == "ACTIVE"
    assert described["roleArn"] == ROLE and described["type"] == "STANDARD"
    assert described["creationDate"] == created["creationDate"]
    assert described["loggingConfiguration"] == {"level": "OFF", "includeExecutionData": False}
    assert described["tracingConfiguration"] == {"enabled": True}
    assert described["encryptionConfiguration"] == {"type": "AWS_OWNED_KEY"}
    assert described["revisionId"]
    # Every field of the output shape but those for versions, Map Runs and variables.
    missing = _output_fields("DescribeStateMachine") - set(described)
    assert missing == {"label", "description", "variableReferences"}


def test_variable_references_are_described(sfn: Any) -> None:
    definition = {
        "QueryLanguage": "JSONata",
        "StartAt": "Set",
        "States": {
            "Set": {"Type": "Pass", "Assign": {"total": "{% $price * 2 %}"}, "Next": "Use"},
            "Use": {"Type": "Pass", "Output": "{% $total + $sum([1]) %}", "End": True},
        },
    }
    arn = create(sfn, definition=json.dumps(definition))["stateMachineArn"]
    described = sfn.describe_state_machine(stateMachineArn=arn)
    assert described["variableReferences"] == {"Set": ["price"], "Use": ["total"]}


def test_create_is_idempotent_and_refuses_other_settings(sfn: Any) -> None:
    first = create(sfn)
    again = sfn.create_state_machine(
        name="orders",
        definition=pass_machine(),
        roleArn="arn:aws:iam::111111111111:role/another",  # not compared, as in AWS
    )
    assert (again["stateMachineArn"], again["creationDate"]) == (
        first["stateMachineArn"],
        first["creationDate"],
    )
    with pytest.raises(sfn.exceptions.StateMachineAlreadyExists):
        create(sfn, definition=pass_machine("other"))
    with pytest.raises(sfn.exceptions.StateMachineAlreadyExists):
        create(sfn, type="EXPRESS")
    published = create(sfn, name="pub", publish=True, versionDescription="one")
    again = create(sfn, name="pub", publish=True, versionDescription="one")
    assert again["stateMachineVersionArn"] == published["stateMachineVersionArn"]
    with pytest.raises(sfn.exceptions.StateMachineAlreadyExists):
        create(sfn, name="pub", publish=True, versionDescription="two")


def test_update_makes_a_new_revision_and_publish_a_version(sfn: Any) -> None:
    arn = create(sfn)["stateMachineArn"]
    before = sfn.describe_state_machine(stateMachineArn=arn)
    updated = sfn.update_state_machine(
        stateMachineArn=arn,
        definition=pass_machine("v2"),
        publish=True,
        versionDescription="second",
    )
    assert updated["revisionId"] != before["revisionId"]
    assert updated["stateMachineVersionArn"] == f"{arn}:1"
    after = sfn.describe_state_machine(stateMachineArn=arn)
    assert json.loads(after["definition"])["States"]["Out"]["Result"] == "v2"
    assert after["revisionId"] == updated["revisionId"]
    version = sfn.describe_state_machine(stateMachineArn=f"{arn}:1")
    assert version["description"] == "second" and version["revisionId"] == updated["revisionId"]
    # A settings-only update is a new revision too; an update that changes nothing is not.
    role = sfn.update_state_machine(stateMachineArn=arn, roleArn=f"{ROLE}-2")
    assert role["revisionId"] != updated["revisionId"]
    same = sfn.update_state_machine(stateMachineArn=arn, roleArn=f"{ROLE}-2")
    assert same["revisionId"] == role["revisionId"]
    assert sfn.describe_state_machine(stateMachineArn=f"{arn}:1")["roleArn"] == ROLE


def test_racing_updates_one_wins_the_others_get_conflict(dev: DevServer, sfn: Any) -> None:
    arn = create(sfn)["stateMachineArn"]
    store = dev.context.store
    real_put = store.put_doc
    barrier = threading.Barrier(4, timeout=10)

    def put_doc_after_everyone_read(kind: str, key: str, body: Any, expected: Any) -> int:
        if kind == "machine" and expected is not None:
            barrier.wait()  # every update has read revision 1 before anyone writes
        return real_put(kind, key, body, expected)

    store.put_doc = put_doc_after_everyone_read  # type: ignore[method-assign]
    results: list[str] = []

    def update(i: int) -> None:
        try:
            sfn.update_state_machine(stateMachineArn=arn, definition=pass_machine(f"u{i}"))
            results.append("ok")
        except sfn.exceptions.ConflictException:
            results.append("conflict")

    threads = [threading.Thread(target=update, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(20)
    store.put_doc = real_put  # type: ignore[method-assign]
    assert sorted(results) == ["conflict", "conflict", "conflict", "ok"]


def test_list_pages_with_an_opaque_token(sfn: Any) -> None:
    for i in range(5):
        create(sfn, name=f"m{i}")
    seen: list[str] = []
    token: dict[str, Any] = {}
    while True:
        page = sfn.list_state_machines(maxResults=2, **token)
        assert len(page["stateMachines"]) <= 2
        seen += [m["name"] for m in page["stateMachines"]]
        if "nextToken" not in page:
            break
        token = {"nextToken": page["nextToken"]}
    assert seen == ["m0", "m1", "m2", "m3", "m4"]
    with pytest.raises(sfn.exceptions.InvalidToken):
        sfn.list_state_machines(nextToken="not-a-token")


def test_validate_reports_diagnostics_with_codes_and_locations(sfn: Any) -> None:
    ok = sfn.validate_state_machine_definition(definition=pass_machine())
    assert (ok["result"], ok["diagnostics"], ok["truncated"]) == ("OK", [], False)
    bad = {
        "StartAt": "A",
        "States": {
            "A": {"Type": "Pass", "Next": "Nowhere"},
            "M": {"Type": "Map", "Label": "x" * 41, "ItemProcessor": {}, "End": True},
        },
    }
    found = sfn.validate_state_machine_definition(definition=json.dumps(bad))
    assert found["result"] == "FAIL"
    where = {d["location"] for d in found["diagnostics"]}
    assert {"/States/A/Next", "/States/M/Label"} <= where
    assert {d["severity"] for d in found["diagnostics"]} == {"ERROR"}
    assert {d["code"] for d in found["diagnostics"]} == {"SCHEMA_VALIDATION_FAILED"}
    cut = sfn.validate_state_machine_definition(definition=json.dumps(bad), maxResults=1)
    assert len(cut["diagnostics"]) == 1 and cut["truncated"] is True
    broken = sfn.validate_state_machine_definition(definition="{nope")
    assert broken["diagnostics"][0]["code"] == "INVALID_JSON_DESCRIPTION"
    warned = sfn.validate_state_machine_definition(
        definition=json.dumps(
            {
                "StartAt": "A",
                "States": {"A": {"Type": "Pass", "Parameters": {"id": "$.id"}, "End": True}},
            }
        ),
        severity="WARNING",
    )
    assert warned["result"] == "OK"
    assert [(d["code"], d["location"]) for d in warned["diagnostics"]] == [
        ("NO_DOLLAR", "/States/A/Parameters/id")
    ]


def _start(dev: DevServer, arn: str, name: str) -> tuple[str, catalog.Target]:
    target = catalog.resolve(dev.context, arn)
    return dev.context.orchestrator.start(target.name, name, {}, version=target.revision), target


def test_a_running_execution_keeps_the_version_it_started_on(dev: DevServer, sfn: Any) -> None:
    created = create(sfn, definition=pass_machine("v1", wait=1), publish=True)
    version_1 = created["stateMachineVersionArn"]
    first, _ = _start(dev, version_1, "on-v1")
    sfn.update_state_machine(
        stateMachineArn=created["stateMachineArn"], definition=pass_machine("v2"), publish=True
    )
    second, _ = _start(dev, created["stateMachineArn"], "on-latest")
    assert dev.runtime.wait(first, 30).output == "v1"
    assert dev.runtime.wait(second, 30).output == "v2"
    for arn, result in ((first, "v1"), (second, "v2")):
        described = sfn.describe_state_machine_for_execution(executionArn=arn)
        assert json.loads(described["definition"])["States"]["Out"]["Result"] == result
        assert described["stateMachineArn"] == created["stateMachineArn"]
    v1 = sfn.describe_state_machine(stateMachineArn=version_1)
    assert (
        sfn.describe_state_machine_for_execution(executionArn=first)["revisionId"]
        == v1["revisionId"]
    )
    with pytest.raises(sfn.exceptions.ExecutionDoesNotExist):
        sfn.describe_state_machine_for_execution(executionArn=first.replace("on-v1", "nope"))


def test_delete_waits_for_running_executions_as_deleting(dev: DevServer, sfn: Any) -> None:
    arn = create(sfn, definition=pass_machine("x", wait=600), publish=True)["stateMachineArn"]
    running, _ = _start(dev, arn, "long")
    sfn.delete_state_machine(stateMachineArn=arn)
    assert sfn.describe_state_machine(stateMachineArn=arn)["status"] == "DELETING"
    assert sfn.list_state_machine_versions(stateMachineArn=arn)["stateMachineVersions"] == []
    with pytest.raises(ApiError) as refused:
        catalog.resolve(dev.context, arn)  # what StartExecution uses
    assert refused.value.code == "StateMachineDeleting"
    with pytest.raises(sfn.exceptions.StateMachineDeleting):
        sfn.update_state_machine(stateMachineArn=arn, definition=pass_machine())
    with pytest.raises(sfn.exceptions.StateMachineDeleting):
        create(sfn)
    dev.context.client.stop_execution(running)
    assert dev.runtime.wait(running, 30).status == "ABORTED"
    with pytest.raises(sfn.exceptions.StateMachineDoesNotExist):
        sfn.describe_state_machine(stateMachineArn=arn)
    assert sfn.list_state_machines()["stateMachines"] == []
    assert create(sfn)["stateMachineArn"] == arn  # the name is free again


def test_delete_without_executions_is_immediate_and_idempotent(sfn: Any) -> None:
    arn = create(sfn)["stateMachineArn"]
    sfn.delete_state_machine(stateMachineArn=arn)
    sfn.delete_state_machine(stateMachineArn=arn)
    with pytest.raises(sfn.exceptions.StateMachineDoesNotExist):
        sfn.describe_state_machine(stateMachineArn=arn)

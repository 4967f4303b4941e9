"""``stepq groups|whoami|tasks|request`` against ``stepq dev --dev-identities``."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from stepq.hosting.dev import DevServer

from api.cli_support import stepq
from api.people_support import ROLE, walkthrough
from api.server_support import client, module_server, unique


@pytest.fixture(scope="module")
def dev() -> Iterator[DevServer]:
    with module_server(dev_identities=True) as server:
        yield server


def ok(dev: DevServer, *args: str) -> str:
    result = stepq(dev, *args)
    assert result.exit_code == 0, result.output
    return str(result.output)


def one_line_error(dev: DevServer, *args: str) -> str:
    result = stepq(dev, *args)
    assert result.exit_code != 0, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, result.output
    assert "Traceback" not in result.output
    return lines[0]


def test_groups_create_add_remove_list_delete(dev: DevServer) -> None:
    name = unique("Execs")
    assert ok(dev, "groups", "create", name, "-m", "tom", "-m", "jane", "--description", "bosses")
    assert f"{name}: jane, sam, tom" in ok(dev, "groups", "add", name, "sam")
    assert f"{name}: sam, tom" in ok(dev, "groups", "remove", name, "jane")
    assert f"{name}: sam, tom -- bosses" in ok(dev, "groups", "list").splitlines()
    listed = json.loads(ok(dev, "groups", "list", "--output", "json"))
    assert {"name": name, "members": ["sam", "tom"], "description": "bosses"} in listed["groups"]
    assert f"deleted group {name}" in ok(dev, "groups", "delete", name)
    assert name not in ok(dev, "groups", "list")


def test_as_user_acts_as_that_person(dev: DevServer) -> None:
    team = unique("Team")
    ok(dev, "groups", "create", team, "-m", "wanda")
    assert ok(dev, "whoami", "--as", "wanda").strip() == f"wanda (person) groups: {team}"
    reply: Any = json.loads(ok(dev, "whoami", "--as", "wanda", "--output", "json"))
    assert reply == {"id": "wanda", "kind": "person", "groups": [team]}
    # wanda is not an admin: the API refuses her, in one line
    line = one_line_error(dev, "groups", "create", unique("Hers"), "--as", "wanda")
    assert line.startswith("AccessDeniedException: wanda may not administer groups")


def test_whoami_without_an_identity_says_so_in_one_line(dev: DevServer) -> None:
    assert one_line_error(dev, "whoami").startswith("AccessDeniedException: ")


def test_group_errors_are_one_line(dev: DevServer) -> None:
    assert one_line_error(dev, "groups", "delete", "NoSuchGroup").startswith(
        "ResourceNotFound: Group Does Not Exist: 'NoSuchGroup'"
    )
    assert one_line_error(dev, "groups", "create", "bad/name").startswith("ValidationException")


def as_json(dev: DevServer, *args: str) -> Any:
    return json.loads(ok(dev, *args, "--output", "json"))


def open_task(dev: DevServer, who: str, execution: str) -> dict[str, Any]:
    """``who``'s open task of ``execution`` once it has opened (stepq tasks mine)."""
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        mine = as_json(dev, "tasks", "mine", "--as", who)
        found = [t for t in mine if t["executionArn"] == execution]
        if found:
            return dict(found[0])
        time.sleep(0.05)
    raise AssertionError(f"{who} never saw a task of {execution}")


def test_a_request_from_the_command_line(dev: DevServer) -> None:
    """jane requests; tom and gary are Executives. A->B needs Approve by the requester
    and by an Executive (people_support.walkthrough)."""
    execs = unique("Execs")
    ok(dev, "groups", "create", execs, "-m", "tom", "-m", "gary")
    definition = json.loads(json.dumps(walkthrough()).replace("Executives", execs))
    machine_arn = client(dev).create_state_machine(
        name=unique("people"), definition=json.dumps(definition), roleArn=ROLE
    )["stateMachineArn"]

    line = ok(
        dev,
        "request",
        "create",
        machine_arn,
        "--input",
        '{"expense": {"amount": 120}}',
        "--stakeholder",
        "sue",
        "--as",
        "jane",
    )
    assert line.startswith("requested arn:aws:states:")
    execution = line.split()[1]
    task = open_task(dev, "tom", execution)
    assert task["state"] == "A" and task["myActions"] == ["Approve", "Deny"]
    task_id = task["taskId"]

    shown = ok(dev, "tasks", "show", task_id, "--as", "tom")
    assert "toB [ACTIVE]" in shown and "Approve by requester: 0/1 (no one yet)" in shown
    assert ok(dev, "tasks", "act", task_id, "Approve", "--comment", "mine", "--as", "jane")
    assert f"{task_id} OPEN" in ok(dev, "tasks", "act", task_id, "Approve", "--as", "jane")
    # sue is a stakeholder, no target: one line, the API's refusal
    refused = one_line_error(dev, "tasks", "act", task_id, "Approve", "--as", "sue")
    assert refused.startswith("AccessDeniedException: ")

    assert "assignee=tom" in ok(dev, "tasks", "claim", task_id, "--as", "tom")
    assert "assignee=gary" in ok(dev, "tasks", "reassign", task_id, "--to", "gary", "--as", "tom")
    assert "assignee" not in ok(dev, "tasks", "unclaim", task_id, "--as", "gary")
    ok(dev, "tasks", "delegate", task_id, "--to", "dan", "--as", "gary")
    assert open_task(dev, "dan", execution)["taskId"] == task_id
    assert "noted" in ok(dev, "tasks", "note", execution, "dan acts for gary", "--as", "dan")

    done = ok(dev, "tasks", "act", task_id, "Approve", "--on-behalf-of", "gary", "--as", "dan")
    assert done.strip() == f"{task_id} COMPLETED transition=toB"
    detail = as_json(dev, "tasks", "show", task_id, "--as", "jane")
    assert detail["status"] == "COMPLETED"
    shown = ok(dev, "tasks", "show", task_id, "--as", "jane")
    assert "dan for gary Approve" in shown and "jane Approve: mine" in shown
    # what a person deciding needs of the request, in the text too
    assert "requester: jane; stakeholders: sue" in shown
    assert "data: {" in shown and '"amount":120' in shown
    assert "dan: dan acts for gary" in shown and "gary delegated gary's part to dan" in shown

    listed = ok(dev, "tasks", "of", execution, "--as", "jane")
    assert f"{task_id} COMPLETED" in listed
    assert all(t["executionArn"] != execution or t["state"] != "A" for t in _mine(dev, "tom"))


def _mine(dev: DevServer, who: str) -> list[dict[str, Any]]:
    return list(as_json(dev, "tasks", "mine", "--as", who))


@pytest.mark.parametrize(
    ("args", "line"),
    [
        (["tasks", "show", "no-such-task"], "ResourceNotFound: "),
        (["tasks", "claim", "no-such-task"], "ResourceNotFound: "),
        (["tasks", "mine", "--as", ""], "AccessDeniedException: "),  # no identity
        (
            ["request", "create", "arn:aws:states:us-east-1:111111111111:stateMachine:none"],
            "StateMachineDoesNotExist: ",
        ),
    ],
)
def test_task_command_errors_are_one_line(dev: DevServer, args: list[str], line: str) -> None:
    if "--as" not in args:
        args = [*args, "--as", "wanda"]
    assert one_line_error(dev, *args).startswith(line)


def test_request_create_refuses_bad_input_before_calling(dev: DevServer) -> None:
    line = one_line_error(dev, "request", "create", "arn:aws:states:::x", "--input", "{nope")
    assert line.startswith("--input is not JSON")


def test_help_says_dev_identities_are_for_development_only() -> None:
    from stepq.cli import app
    from typer.testing import CliRunner

    def help_of(*args: str) -> str:  # rich's boxes and wrapping removed
        text = CliRunner().invoke(app, [*args, "--help"]).output.replace("│", " ")
        return " ".join(text.split())

    dev_help = help_of("dev")
    assert "--dev-identities" in dev_help and "UNSAFE, development only" in dev_help
    mine_help = help_of("tasks", "mine")
    assert "--as" in mine_help and "development only" in mine_help


def test_tasks_attach_uploads_and_lists_the_file(dev: DevServer, tmp_path: Any) -> None:
    from api.people_support import call

    sfn = client(dev)
    arn = sfn.create_state_machine(
        name=unique("cli-attach"), definition=json.dumps(walkthrough()), roleArn=ROLE
    )["stateMachineArn"]
    data = json.dumps({"expense": {"amount": 5}})
    created = ok(dev, "request", "create", arn, "--input", data, "--as", "jane", "-o", "json")
    execution = json.loads(created)["executionArn"]
    receipt = tmp_path / "receipt.txt"
    receipt.write_bytes(b"lunch, 5 EUR")
    said = ok(dev, "tasks", "attach", execution, str(receipt), "--as", "jane")
    assert said.startswith("attached receipt.txt (12 bytes)")
    described = call(dev, "DescribeRequest", {"executionArn": execution}, "jane")
    [listed] = described["attachments"]
    assert (listed["name"], listed["contentType"], listed["size"]) == (
        "receipt.txt",
        "text/plain",
        12,
    )
    line = one_line_error(dev, "tasks", "attach", execution, str(receipt), "--as", "mallory")
    assert line.startswith("AccessDeniedException")

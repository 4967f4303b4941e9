"""``stepq groups|whoami|tasks|request`` against ``stepq dev --dev-identities``."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from stepq.hosting.dev import DevServer

from api.cli_support import stepq
from api.server_support import module_server, unique


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


@pytest.mark.parametrize(
    ("args", "operation"),
    [
        (["tasks", "mine"], "ListMyTasks"),
        (
            ["tasks", "of", "arn:aws:states:us-east-1:111111111111:execution:m:e"],
            "ListRequestTasks",
        ),
        (["tasks", "show", "t-1"], "DescribeTask"),
        (["tasks", "act", "t-1", "Approve", "--comment", "fine"], "ActOnTask"),
        (["tasks", "claim", "t-1"], "ClaimTask"),
        (["tasks", "unclaim", "t-1"], "UnclaimTask"),
        (["tasks", "delegate", "t-1", "--to", "bob"], "DelegateTask"),
        (["tasks", "reassign", "t-1", "--to", "bob"], "ReassignTask"),
        (["tasks", "note", "arn:aws:states:us-east-1:111111111111:execution:m:e", "hi"], "AddNote"),
        (
            ["request", "create", "arn:aws:states:us-east-1:111111111111:stateMachine:m"],
            "CreateRequest",
        ),
    ],
)
def test_task_commands_call_their_operation(
    dev: DevServer, args: list[str], operation: str
) -> None:
    """Each command names its operation; whatever the server answers is one line."""
    from stepq.api.registry import STEPQ_OPERATIONS

    result = stepq(dev, *args, "--as", "wanda")
    if operation in STEPQ_OPERATIONS:  # i12-tasks' operations are here: a real answer
        assert "Traceback" not in result.output
        return
    assert result.exit_code == 1
    assert result.output.strip() == (
        f"UnknownOperationException: unknown operation 'Stepq.{operation}'"
    )


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

"""People in the loop from the command line (docs/PEOPLE.md): groups, tasks, requests.

- ``groups create|delete|add|remove|list``  the groups targets name (admins only)
- ``whoami``                                 who the API takes you for, and your groups
- ``tasks mine|of|show|act|claim|unclaim|delegate|reassign|note|attach``  a person's inbox
- ``request create``                         start an execution as its requester

Each is one ``Stepq.<Operation>`` call through ``ApiClient.stepq``. ``--as
USER`` sends the ``X-Stepq-Dev-User`` header, which only ``stepq dev
--dev-identities`` reads; a deployed API takes the caller from its
authorizer instead.
"""

from __future__ import annotations

import json
import mimetypes
import urllib.error
import urllib.request
from pathlib import Path
from typing import Annotated, Any

import typer

from stepq.cli.api_commands import ClientApiUrl, json_text
from stepq.cli.app import CliError, Output, OutputOption, app, out, print_json
from stepq.cli.app import guarded as _guarded

groups = typer.Typer(no_args_is_help=True, help="Groups of people (admins only).")
app.add_typer(groups, name="groups")
tasks = typer.Typer(no_args_is_help=True, help="Human tasks: your inbox, and acting on tasks.")
app.add_typer(tasks, name="tasks")
requests = typer.Typer(no_args_is_help=True, help="Requests: executions started by a person.")
app.add_typer(requests, name="request")

AsUser = Annotated[
    str | None,
    typer.Option(
        "--as",
        help="Act as this user (development only: sends X-Stepq-Dev-User, which only "
        "`stepq dev --dev-identities` trusts)",
        show_default=False,
    ),
]
GroupArg = Annotated[str, typer.Argument(help="Group name")]
TaskArg = Annotated[str, typer.Argument(help="Task id (from stepq tasks mine)")]
PeopleArg = Annotated[list[str], typer.Argument(help="People (user names, e-mails, IAM ARNs)")]


def _client(api_url: str | None, user: str | None) -> Any:
    from stepq.cli.api_client import ApiClient

    return ApiClient(api_url, dev_user=user)


def _call(api_url: str | None, user: str | None, operation: str, params: dict[str, Any]) -> Any:
    return _client(api_url, user).stepq(operation, params)


def _say(text: str) -> None:
    out.print(text, markup=False, highlight=False)


def _show(reply: Any, output: Output, text: str) -> None:
    if output is Output.json:
        print_json(reply)
    else:
        _say(text)


# --- groups -------------------------------------------------------------------------


@groups.command("create")
@_guarded
def groups_create(
    name: GroupArg,
    member: Annotated[
        list[str] | None, typer.Option("--member", "-m", help="A member (repeat for more)")
    ] = None,
    description: Annotated[str, typer.Option(help="What the group is for")] = "",
    api_url: ClientApiUrl = None,
    as_user: AsUser = None,
) -> None:
    """Create a group (Stepq.CreateGroup)."""
    params = {"name": name, "members": member or [], "description": description}
    _call(api_url, as_user, "CreateGroup", params)
    count = len(set(member or []))
    _say(f"created group {name} ({count} member{'' if count == 1 else 's'})")


@groups.command("delete")
@_guarded
def groups_delete(name: GroupArg, api_url: ClientApiUrl = None, as_user: AsUser = None) -> None:
    """Delete a group (Stepq.DeleteGroup)."""
    _call(api_url, as_user, "DeleteGroup", {"name": name})
    _say(f"deleted group {name}")


def _members(reply: dict[str, Any]) -> str:
    return ", ".join(reply.get("members", [])) or "(no members)"


@groups.command("add")
@_guarded
def groups_add(
    name: GroupArg,
    people: PeopleArg,
    api_url: ClientApiUrl = None,
    as_user: AsUser = None,
    output: OutputOption = Output.text,
) -> None:
    """Add members to a group (Stepq.UpdateGroupMembers); prints its members after."""
    _update_members(api_url, as_user, {"name": name, "add": people}, output)


@groups.command("remove")
@_guarded
def groups_remove(
    name: GroupArg,
    people: PeopleArg,
    api_url: ClientApiUrl = None,
    as_user: AsUser = None,
    output: OutputOption = Output.text,
) -> None:
    """Remove members from a group (Stepq.UpdateGroupMembers); prints its members after."""
    _update_members(api_url, as_user, {"name": name, "remove": people}, output)


def _update_members(
    api_url: str | None, as_user: str | None, params: dict[str, Any], output: Output
) -> None:
    reply = _call(api_url, as_user, "UpdateGroupMembers", params)
    _show(reply, output, f"{params['name']}: {_members(reply)}")


@groups.command("list")
@_guarded
def groups_list(
    api_url: ClientApiUrl = None, as_user: AsUser = None, output: OutputOption = Output.text
) -> None:
    """Every group, one line each: name, members, description (Stepq.ListGroups)."""
    reply = _call(api_url, as_user, "ListGroups", {})
    if output is Output.json:
        print_json(reply)
        return
    for group in reply.get("groups", []):
        about = f" -- {group['description']}" if group.get("description") else ""
        _say(f"{group['name']}: {_members(group)}{about}")


@app.command("whoami")
@_guarded
def whoami(
    api_url: ClientApiUrl = None, as_user: AsUser = None, output: OutputOption = Output.text
) -> None:
    """Who the API takes you for, and your groups (Stepq.WhoAmI)."""
    reply = _call(api_url, as_user, "WhoAmI", {})
    groups_text = ", ".join(reply.get("groups", [])) or "(none)"
    _show(reply, output, f"{reply['id']} ({reply['kind']}) groups: {groups_text}")


# --- tasks --------------------------------------------------------------------------


def _summary_line(task: dict[str, Any]) -> str:
    """One task: id, status, title, where it waits, and what the caller may do."""
    parts = [task.get("taskId", "?"), task.get("status", "?"), repr(task.get("title", ""))]
    if task.get("state"):
        parts.append(f"state={task['state']}")
    if task.get("assignee"):
        parts.append(f"assignee={task['assignee']}")
    if task.get("transition"):
        parts.append(f"transition={task['transition']}")
    if task.get("myActions"):
        parts.append(f"can={','.join(task['myActions'])}")
    if task.get("executionArn"):
        parts.append(task["executionArn"])
    return " ".join(parts)


def _print_tasks(found: list[dict[str, Any]], output: Output, empty: str) -> None:
    if output is Output.json:
        print_json(found)
        return
    for task in found:
        _say(_summary_line(task))
    if not found:
        _say(empty)


@tasks.command("mine")
@_guarded
def tasks_mine(
    all_tasks: Annotated[
        bool, typer.Option("--all", help="Completed and closed tasks too (default: open only)")
    ] = False,
    api_url: ClientApiUrl = None,
    as_user: AsUser = None,
    output: OutputOption = Output.text,
) -> None:
    """Tasks assigned or delegated to you, or that you may act on (Stepq.ListMyTasks)."""
    api = _client(api_url, as_user)
    params: dict[str, Any] = {"status": "ALL" if all_tasks else "OPEN"}
    found: list[dict[str, Any]] = []
    while True:
        reply = api.stepq("ListMyTasks", params)
        found += reply.get("tasks", [])
        if not reply.get("nextToken"):
            break
        params["nextToken"] = reply["nextToken"]
    _print_tasks(found, output, "no tasks")


@tasks.command("of")
@_guarded
def tasks_of(
    execution: Annotated[str, typer.Argument(help="Execution ARN (or MACHINE:EXECUTION)")],
    api_url: ClientApiUrl = None,
    as_user: AsUser = None,
    output: OutputOption = Output.text,
) -> None:
    """A request's tasks, open and done (Stepq.ListRequestTasks)."""
    api = _client(api_url, as_user)
    reply = api.stepq("ListRequestTasks", {"executionArn": api.execution_arn(execution)})
    _print_tasks(reply.get("tasks", []), output, "no tasks")


@tasks.command("show")
@_guarded
def tasks_show(
    task_id: TaskArg,
    api_url: ClientApiUrl = None,
    as_user: AsUser = None,
    output: OutputOption = Output.text,
) -> None:
    """A task in full: its data, transitions and what each still needs, actions,
    delegations, notes and files (Stepq.DescribeTask)."""
    detail = _call(api_url, as_user, "DescribeTask", {"taskId": task_id})
    if output is Output.json:
        print_json(detail)
        return
    _say(_summary_line(detail))
    if detail.get("description"):
        _say(f"  {detail['description']}")
    for transition in detail.get("transitions", []):
        _say(f"  {transition.get('name')} [{transition.get('status')}]")
        for req in transition.get("requirements", []):
            counted = ", ".join(req.get("counted", [])) or "no one yet"
            _say(
                f"    {req.get('action')} by {req.get('target')}: "
                f"{len(req.get('counted', []))}/{req.get('needed')} ({counted}) "
                f"[{req.get('status')}]"
            )
    _show_request_part(detail)
    for action in detail.get("actions", []):
        behalf = f" for {action['onBehalfOf']}" if action.get("onBehalfOf") else ""
        comment = f": {action['comment']}" if action.get("comment") else ""
        _say(f"  {action.get('at', '')} {action.get('by')}{behalf} {action.get('action')}{comment}")
    for entry in detail.get("delegations", []):
        _say(
            f"  {entry.get('at', '')} {entry.get('by')} delegated {entry.get('principal')}'s part to {entry.get('to')}"
        )


def _show_request_part(detail: dict[str, Any]) -> None:
    """What a person deciding needs of the request: its data, people, notes, files."""
    stakeholders = ", ".join(detail.get("stakeholders", [])) or "none"
    _say(f"  requester: {detail.get('requester')}; stakeholders: {stakeholders}")
    if detail.get("data") is not None:
        _say(f"  data: {json.dumps(detail['data'], separators=(',', ':'))}")
    for note in detail.get("notes", []):
        _say(f"  note {note.get('at', '')} {note.get('by')}: {note.get('text')}")
    for item in detail.get("attachments", []):
        _say(
            f"  file {item.get('name')} ({item.get('size', '?')} bytes) {item.get('attachmentId')}"
        )


def _task_step(
    api_url: str | None, user: str | None, operation: str, params: dict[str, Any], output: Output
) -> None:
    reply = _call(api_url, user, operation, params)
    if output is Output.json:
        print_json(reply)
    elif "taskId" in reply:
        _say(_summary_line(reply))
    else:
        _say(f"{operation}: {' '.join(f'{k}={v}' for k, v in reply.items())}")


@tasks.command("act")
@_guarded
def tasks_act(
    task_id: TaskArg,
    action: Annotated[str, typer.Argument(help="The action, e.g. Approve or Deny")],
    comment: Annotated[str | None, typer.Option(help="Why (kept in the record)")] = None,
    on_behalf_of: Annotated[
        str | None, typer.Option(help="Act for the person who delegated this task to you")
    ] = None,
    api_url: ClientApiUrl = None,
    as_user: AsUser = None,
    output: OutputOption = Output.text,
) -> None:
    """Act on a task (Stepq.ActOnTask); prints whether it completed, and how."""
    params: dict[str, Any] = {"taskId": task_id, "action": action}
    if comment:
        params["comment"] = comment
    if on_behalf_of:
        params["onBehalfOf"] = on_behalf_of
    reply = _call(api_url, as_user, "ActOnTask", params)
    done = f" transition={reply['transition']}" if reply.get("transition") else ""
    _show(reply, output, f"{task_id} {reply.get('status', '?')}{done}")


@tasks.command("claim")
@_guarded
def tasks_claim(
    task_id: TaskArg,
    api_url: ClientApiUrl = None,
    as_user: AsUser = None,
    output: OutputOption = Output.text,
) -> None:
    """Take a task you are a target of (Stepq.ClaimTask)."""
    _task_step(api_url, as_user, "ClaimTask", {"taskId": task_id}, output)


@tasks.command("unclaim")
@_guarded
def tasks_unclaim(
    task_id: TaskArg,
    api_url: ClientApiUrl = None,
    as_user: AsUser = None,
    output: OutputOption = Output.text,
) -> None:
    """Give back a task assigned to you (Stepq.UnclaimTask)."""
    _task_step(api_url, as_user, "UnclaimTask", {"taskId": task_id}, output)


ToPerson = Annotated[str, typer.Option("--to", help="The person")]


@tasks.command("delegate")
@_guarded
def tasks_delegate(
    task_id: TaskArg,
    to: ToPerson,
    api_url: ClientApiUrl = None,
    as_user: AsUser = None,
    output: OutputOption = Output.text,
) -> None:
    """Let someone act for you on this task only (Stepq.DelegateTask)."""
    _task_step(api_url, as_user, "DelegateTask", {"taskId": task_id, "to": to}, output)


@tasks.command("reassign")
@_guarded
def tasks_reassign(
    task_id: TaskArg,
    to: ToPerson,
    api_url: ClientApiUrl = None,
    as_user: AsUser = None,
    output: OutputOption = Output.text,
) -> None:
    """Give a task to someone else: its assignee or an admin (Stepq.ReassignTask)."""
    _task_step(api_url, as_user, "ReassignTask", {"taskId": task_id, "to": to}, output)


@tasks.command("note")
@_guarded
def tasks_note(
    execution: Annotated[str, typer.Argument(help="Execution ARN (or MACHINE:EXECUTION)")],
    text: Annotated[str, typer.Argument(help="The note")],
    task: Annotated[str | None, typer.Option("--task", help="About this task")] = None,
    api_url: ClientApiUrl = None,
    as_user: AsUser = None,
    output: OutputOption = Output.text,
) -> None:
    """Add a note to a request (Stepq.AddNote)."""
    api = _client(api_url, as_user)
    params: dict[str, Any] = {"executionArn": api.execution_arn(execution), "text": text}
    if task:
        params["taskId"] = task
    reply = api.stepq("AddNote", params)
    _show(reply, output, f"noted {reply.get('noteId', '')}".strip())


@tasks.command("attach")
@_guarded
def tasks_attach(
    execution: Annotated[str, typer.Argument(help="Execution ARN (or MACHINE:EXECUTION)")],
    file: Annotated[Path, typer.Argument(help="The file to attach", exists=True, dir_okay=False)],
    content_type: Annotated[
        str | None, typer.Option("--content-type", help="Default: guessed from the name")
    ] = None,
    api_url: ClientApiUrl = None,
    as_user: AsUser = None,
    output: OutputOption = Output.text,
) -> None:
    """Attach a file to a request: Stepq.AttachFile, the upload, Stepq.ConfirmAttachment."""
    api = _client(api_url, as_user)
    arn = api.execution_arn(execution)
    data = file.read_bytes()
    kind = content_type or mimetypes.guess_type(file.name)[0] or "application/octet-stream"
    params = {"executionArn": arn, "name": file.name, "contentType": kind, "size": len(data)}
    link = api.stepq("AttachFile", params)
    upload(link["uploadUrl"], data, link.get("headers") or {"Content-Type": kind})
    reply = api.stepq(
        "ConfirmAttachment", {"executionArn": arn, "attachmentId": link["attachmentId"]}
    )
    _show(reply, output, f"attached {file.name} ({len(data)} bytes) {link['attachmentId']}")


def upload(url: str, data: bytes, headers: dict[str, str]) -> None:
    """PUT the bytes to a signed URL (the URL is a credential: never shown in errors)."""
    request = urllib.request.Request(url, data=data, headers=headers, method="PUT")
    try:
        with urllib.request.urlopen(request, timeout=300) as response:
            response.read()
    except urllib.error.HTTPError as exc:
        raise CliError(f"the upload was refused: HTTP {exc.code}") from None
    except urllib.error.URLError as exc:
        raise CliError(f"the upload failed: {exc.reason}") from None


# --- requests -----------------------------------------------------------------------


@requests.command("create")
@_guarded
def request_create(
    machine: Annotated[str, typer.Argument(help="State machine ARN or name (name:alias too)")],
    input: Annotated[str | None, typer.Option("--input", help="Execution input as JSON")] = None,
    name: Annotated[str | None, typer.Option(help="Execution name (default: a fresh one)")] = None,
    stakeholder: Annotated[
        list[str] | None, typer.Option("--stakeholder", help="A stakeholder (repeat for more)")
    ] = None,
    api_url: ClientApiUrl = None,
    as_user: AsUser = None,
    output: OutputOption = Output.text,
) -> None:
    """Start an execution as its requester (Stepq.CreateRequest)."""
    api = _client(api_url, as_user)
    params: dict[str, Any] = {"stateMachineArn": api.machine_arn(machine)}
    if input is not None:
        params["input"] = json_text(input, "--input")
    if name:
        params["name"] = name
    if stakeholder:
        params["stakeholders"] = stakeholder
    reply = api.stepq("CreateRequest", params)
    if "executionArn" not in reply:
        raise CliError(f"CreateRequest answered without an executionArn: {reply}")
    _show(reply, output, f"requested {reply['executionArn']}")

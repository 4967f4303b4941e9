"""``send-task-success``, ``send-task-failure``, ``send-task-heartbeat``: answer a waiting task."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from stepq.cli.api_commands import ClientApiUrl, _api, json_text
from stepq.cli.app import Output, OutputOption, app, out, print_json
from stepq.cli.app import guarded as _guarded

TokenArg = Annotated[str, typer.Argument(help="The task token the waiting task was given")]


@app.command("send-task-success")
@_guarded
def send_task_success(
    token: TokenArg,
    task_output: Annotated[
        str, typer.Option("--output", "--task-output", help="The task's result, as JSON")
    ] = "{}",
    api_url: ClientApiUrl = None,
    format: Annotated[
        Output, typer.Option("--format", help="text or json (--output is the task's result here)")
    ] = Output.text,
) -> None:
    """Complete a waiting task with a result (SendTaskSuccess)."""
    result = json_text(task_output, "--output")
    reply = _api(api_url).call("send_task_success", taskToken=token, output=result)
    if format is Output.json:
        print_json(reply)
    else:
        out.print("task succeeded: the execution resumes", highlight=False)


@app.command("send-task-failure")
@_guarded
def send_task_failure(
    token: TokenArg,
    error: Annotated[str | None, typer.Option(help="Error name (what Catch matches)")] = None,
    cause: Annotated[str | None, typer.Option(help="A longer explanation")] = None,
    api_url: ClientApiUrl = None,
    output: OutputOption = Output.text,
) -> None:
    """Fail a waiting task (SendTaskFailure)."""
    params: dict[str, Any] = {"taskToken": token}
    if error is not None:
        params["error"] = error
    if cause is not None:
        params["cause"] = cause
    reply = _api(api_url).call("send_task_failure", **params)
    if output is Output.json:
        print_json(reply)
    else:
        out.print("task failed: the execution resumes with the error", highlight=False)


@app.command("send-task-heartbeat")
@_guarded
def send_task_heartbeat(
    token: TokenArg, api_url: ClientApiUrl = None, output: OutputOption = Output.text
) -> None:
    """Tell a waiting task its worker is alive (SendTaskHeartbeat)."""
    reply = _api(api_url).call("send_task_heartbeat", taskToken=token)
    if output is Output.json:
        print_json(reply)
    else:
        out.print("heartbeat sent", highlight=False)

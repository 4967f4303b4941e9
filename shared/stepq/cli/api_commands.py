"""Client commands: drive a stepq API (``stepq dev`` or a deployed one) as Step Functions.

Each goes through boto3's ``stepfunctions`` client (``api_client.py``). A
machine NAME is accepted where a state machine ARN is expected and
``MACHINE:EXECUTION`` where an execution ARN is (the ARN is built from the
API's account and region). ``--output json`` prints the API's reply.
"""

from __future__ import annotations

import json
import sys
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer

from stepq.cli.app import CliError, Output, OutputOption, app, err, out, print_json
from stepq.cli.app import guarded as _guarded

ApiUrl = Annotated[
    str | None,
    typer.Option(
        "--api-url",
        envvar="STEPQ_API_URL",
        help="The stepq API (default http://127.0.0.1:8083, what stepq dev serves)",
        show_default=False,
    ),
]
# The client commands also say --endpoint-url, as `aws stepfunctions` does: the API is
# their endpoint. (Commands that also reach DynamoDB and SQS, ``ops`` and ``worker``,
# keep --endpoint-url for those and take ApiUrl.)
ClientApiUrl = Annotated[
    str | None,
    typer.Option(
        "--endpoint-url",
        "--api-url",
        envvar="STEPQ_API_URL",
        help="The stepq API: default http://127.0.0.1:8083 (stepq dev); any other URL, "
        "e.g. a stack's ApiUrl, is signed for execute-api with your AWS credentials",
        show_default=False,
    ),
]
ExecutionArg = Annotated[str, typer.Argument(help="Execution ARN (or MACHINE:EXECUTION)")]
FINISHED = ("SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED")


def _api(url: str | None) -> Any:
    from stepq.cli.api_client import ApiClient

    return ApiClient(url)


# --- reading what the user gives ------------------------------------------------------


def read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or exc
        raise CliError(f"cannot read {path}: {reason}", 2) from None


def read_definition(path: Path) -> str:
    text = read_text(path)
    try:
        json.loads(text)
    except ValueError as exc:
        raise CliError(f"{path} is not JSON: {exc}", 2) from None
    return text


def machine_name(path: Path) -> str:
    """``order_saga`` from ``state_machine/order_saga.asl.json``."""
    name = path.name
    for suffix in (".asl.json", ".json", ".asl.yaml", ".yaml"):
        if name.endswith(suffix) and len(name) > len(suffix):
            return name[: -len(suffix)]
    return path.stem


def json_text(value: str, what: str) -> str:
    """``value`` if it is JSON (compacted), else a CliError naming ``what``."""
    try:
        return json.dumps(json.loads(value), separators=(",", ":"))
    except ValueError as exc:
        raise CliError(f"{what} is not JSON: {exc}", 2) from None


def read_input(value: str | None, file: Path | None) -> str:
    if value is not None and file is not None:
        raise CliError("give --input or --input-file, not both", 2)
    if file is not None and str(file) != "-":
        return json_text(read_text(file), str(file))
    if value == "-" or (file is not None and str(file) == "-"):
        return json_text(sys.stdin.read(), "the input read from stdin")
    return json_text(value if value is not None else "{}", "--input")


def loads(text: Any) -> Any:
    """A JSON document the API returned as text, parsed when it parses."""
    if not isinstance(text, str):
        return text
    try:
        return json.loads(text)
    except ValueError:
        return text


# --- printing -----------------------------------------------------------------------


def _shown(value: Any) -> str:
    if isinstance(value, datetime):
        return value.isoformat(sep=" ", timespec="seconds")
    if isinstance(value, dict | list):
        return json.dumps(value, separators=(",", ":"))
    return str(value)


def print_fields(reply: dict[str, Any], documents: tuple[str, ...] = ()) -> None:
    """Scalars as a two-column table; ``documents`` (JSON text fields) pretty below it."""
    from rich.table import Table

    table = Table(show_header=False, box=None, pad_edge=False)
    table.add_column(style="bold")
    table.add_column(overflow="fold")
    for key, value in reply.items():
        if key not in documents and value not in (None, "", [], {}):
            table.add_row(key, _shown(value))
    out.print(table)
    for key in documents:
        if reply.get(key) not in (None, ""):
            out.print(f"[bold]{key}[/bold]")
            out.print_json(json.dumps(loads(reply[key]), default=str))


def render_event(event: dict[str, Any]) -> dict[str, Any]:
    """A Step Functions history event in the shape ``render.py`` prints."""
    details = next(
        (v for k, v in event.items() if k.endswith("EventDetails") and isinstance(v, dict)), {}
    )
    shown: dict[str, Any] = {}
    for key in ("name", "error"):
        if details.get(key):
            shown[key] = details[key]
    if "output" in details:
        shown["output"] = loads(details["output"])
    stamp = event.get("timestamp")
    return {
        "id": event.get("id", 0),
        "type": event.get("type", "?"),
        "timestamp": stamp.isoformat() if isinstance(stamp, datetime) else str(stamp),
        "details": shown,
    }


def history_events(api: Any, arn: str) -> list[dict[str, Any]]:
    return api.pages("get_execution_history", "events", executionArn=arn, maxResults=1000)


# --- state machines ---------------------------------------------------------------------


@app.command()
@_guarded
def create(
    path: Annotated[Path, typer.Argument(help="An ASL definition (state_machine/*.asl.json)")],
    name: Annotated[
        str | None, typer.Option(help="Default: the file's name before .asl.json")
    ] = None,
    role_arn: Annotated[
        str | None, typer.Option(help="Default: a role in the API's account")
    ] = None,
    type: Annotated[str, typer.Option("--type", help="STANDARD or EXPRESS")] = "STANDARD",
    api_url: ClientApiUrl = None,
    output: OutputOption = Output.text,
) -> None:
    """Create a state machine from a definition file (CreateStateMachine)."""
    definition = read_definition(path)
    api = _api(api_url)
    chosen = name or machine_name(path)
    if role_arn is None:
        role_arn = f"arn:aws:iam::{api.where('give --role-arn')[1]}:role/stepq-{chosen}"
    reply = api.call(
        "create_state_machine",
        name=chosen,
        definition=definition,
        roleArn=role_arn,
        type=type.upper(),
    )
    if output is Output.json:
        print_json(reply)
    else:
        out.print(f"created {reply['stateMachineArn']}", markup=False, highlight=False)


@app.command()
@_guarded
def update(
    path: Annotated[Path, typer.Argument(help="An ASL definition (state_machine/*.asl.json)")],
    name: Annotated[
        str | None, typer.Option(help="Machine name or ARN (default: the file's name)")
    ] = None,
    publish: Annotated[bool, typer.Option("--publish", help="Publish a version")] = False,
    api_url: ClientApiUrl = None,
    output: OutputOption = Output.text,
) -> None:
    """Replace a state machine's definition (UpdateStateMachine)."""
    definition = read_definition(path)
    api = _api(api_url)
    arn = api.machine_arn(name or machine_name(path))
    params: dict[str, Any] = {"stateMachineArn": arn, "definition": definition}
    if publish:
        params["publish"] = True
    reply = api.call("update_state_machine", **params)
    if output is Output.json:
        print_json(reply)
        return
    line = f"updated {arn}"
    if reply.get("stateMachineVersionArn"):
        line += f" (version {reply['stateMachineVersionArn']})"
    out.print(line, markup=False, highlight=False)


machines_app = typer.Typer(no_args_is_help=False)
app.add_typer(machines_app, name="machines")


@machines_app.callback(invoke_without_command=True)
@_guarded
def machines(
    ctx: typer.Context, api_url: ClientApiUrl = None, output: OutputOption = Output.text
) -> None:
    """List the state machines (ListStateMachines); machines sync: create/update from files."""
    if ctx.invoked_subcommand is not None:
        return
    api = _api(api_url)
    found = api.pages("list_state_machines", "stateMachines")
    if output is Output.json:
        print_json(found)
        return
    from rich.table import Table

    table = Table("name", "type", "created")
    table.add_column("arn", overflow="fold")  # whole, on narrow terminals too
    for item in found:
        table.add_row(
            item["name"],
            item.get("type", ""),
            _shown(item.get("creationDate")),
            item["stateMachineArn"],
        )
    out.print(table)


@machines_app.command("sync")
@_guarded
def machines_sync(
    directory: Annotated[Path, typer.Argument(help="A folder of *.asl.json (state_machine/)")],
    role_arn: Annotated[
        str | None,
        typer.Option(help="Every machine's role, {name} its name (default: role/stepq-{name})"),
    ] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Change nothing, say what")] = False,
    api_url: ClientApiUrl = None,
    output: OutputOption = Output.text,
) -> None:
    """Create or update a machine per DIR/*.asl.json, publishing a version when it changed."""
    from stepq.cli.machines_sync import report, sync

    if not report(
        sync(_api(api_url), directory, role_arn, dry_run), json_output=output is Output.json
    ):
        raise typer.Exit(1)


# --- executions ------------------------------------------------------------------------


@app.command()
@_guarded
def start(
    machine: Annotated[str, typer.Argument(help="State machine ARN or name (name:alias too)")],
    name: Annotated[str | None, typer.Option(help="Execution name (default: a fresh one)")] = None,
    input: Annotated[
        str | None, typer.Option("--input", help="Execution input as JSON ('-': stdin)")
    ] = None,
    input_file: Annotated[
        Path | None, typer.Option("--input-file", help="Read the input from a file ('-': stdin)")
    ] = None,
    wait: Annotated[
        bool, typer.Option("--wait", help="Wait for the outcome, with progress")
    ] = False,
    timeout: Annotated[
        float | None, typer.Option(help="With --wait: give up after this many seconds")
    ] = None,
    api_url: ClientApiUrl = None,
    output: OutputOption = Output.text,
) -> None:
    """Start an execution (StartExecution); with --wait, follow it to its outcome."""
    text = read_input(input, input_file)
    api = _api(api_url)
    params: dict[str, Any] = {"stateMachineArn": api.machine_arn(machine), "input": text}
    if name:
        params["name"] = name
    reply = api.call("start_execution", **params)
    arn = reply["executionArn"]
    if not wait:
        if output is Output.json:
            print_json(reply)
        else:
            out.print(f"started {arn}", markup=False, highlight=False)
        return
    described = follow(api, arn, timeout, quiet=output is Output.json)
    if output is Output.json:
        print_json(described)
    else:
        from stepq.cli.render import print_outcome

        print_outcome(
            out,
            described["status"],
            loads(described.get("output")),
            described.get("error"),
            described.get("cause"),
        )
    raise typer.Exit(0 if described["status"] == "SUCCEEDED" else 1)


def follow(api: Any, arn: str, timeout: float | None, *, quiet: bool = False) -> dict[str, Any]:
    """Poll until the execution closes, printing each new history event; its description."""
    from time import monotonic, sleep

    from stepq.cli.render import progress_line

    deadline = None if timeout is None else monotonic() + timeout
    seen = 0
    # The spinner goes where the JSON does not.
    with (err if quiet else out).status(f"running {arn}") as status:
        while True:
            described = api.call("describe_execution", executionArn=arn)
            if not quiet:
                events = history_events(api, arn)
                for event in events[seen:]:
                    out.print(progress_line(render_event(event)), highlight=False)
                seen = max(seen, len(events))
                status.update(f"running {arn}: {seen} events")
            if described["status"] in FINISHED:
                return described
            if deadline is not None and monotonic() > deadline:
                raise CliError(f"{arn} is still {described['status']} after {timeout:g} s")
            sleep(0.25)


@app.command()
@_guarded
def describe(
    arn: Annotated[
        str,
        typer.Argument(help="Execution or state machine ARN, a machine name, or MACHINE:EXECUTION"),
    ],
    api_url: ClientApiUrl = None,
    output: OutputOption = Output.text,
) -> None:
    """Describe an execution (DescribeExecution) or a state machine (DescribeStateMachine)."""
    api = _api(api_url)
    is_execution = ":execution:" in arn or (not arn.startswith("arn:") and ":" in arn)
    if is_execution:
        reply = api.call("describe_execution", executionArn=api.execution_arn(arn))
        documents: tuple[str, ...] = ("input", "output")
    else:
        reply = api.call("describe_state_machine", stateMachineArn=api.machine_arn(arn))
        documents = ("definition",)
    if output is Output.json:
        print_json(reply)
        return
    print_fields(reply, documents)


StatusOption = Annotated[
    str | None,
    typer.Option(
        "--status", help="RUNNING, SUCCEEDED, FAILED, TIMED_OUT, ABORTED or PENDING_REDRIVE"
    ),
]


@app.command("list")
@_guarded
def list_executions(
    machine: Annotated[str | None, typer.Option(help="State machine ARN or name")] = None,
    status: StatusOption = None,
    name_prefix: Annotated[str | None, typer.Option(help="Execution names starting so")] = None,
    started_after: Annotated[
        datetime | None, typer.Option(help="Started at or after (ISO-8601)")
    ] = None,
    started_before: Annotated[
        datetime | None, typer.Option(help="Started before (ISO-8601)")
    ] = None,
    limit: Annotated[int, typer.Option(min=1, help="At most this many, newest first")] = 100,
    api_url: ClientApiUrl = None,
    output: OutputOption = Output.text,
) -> None:
    """List executions; filters beyond ListExecutions' use stepq's SearchExecutions."""
    from stepq.cli.listing import Filters, list_matching

    api = _api(api_url)
    filters = Filters(
        machine_arn=api.machine_arn(machine) if machine else None,
        status=status.upper() if status else None,
        name_prefix=name_prefix,
        started_after=started_after,
        started_before=started_before,
        limit=limit,
    )
    found = list_matching(api, filters)
    if output is Output.json:
        print_json(found)
        return
    from rich.table import Table

    from stepq.cli.render import status_style

    table = Table("machine", "name", "status", "started", "stopped")
    for item in found:
        style = status_style(item.get("status", ""))
        table.add_row(
            item.get("stateMachineArn", "").rsplit(":", 1)[-1],
            item.get("name", ""),
            f"[{style}]{item.get('status', '')}[/{style}]",
            _shown(item.get("startDate", "")),
            _shown(item.get("stopDate", "")),
        )
    out.print(table)
    if not found:
        out.print("no executions match")


@app.command()
@_guarded
def history(
    arn: ExecutionArg,
    api_url: ClientApiUrl = None,
    output: OutputOption = Output.text,
) -> None:
    """The execution's history as a readable timeline (GetExecutionHistory)."""
    from stepq.cli.render import print_timeline

    api = _api(api_url)
    events = history_events(api, api.execution_arn(arn))
    if output is Output.json:
        print_json(events)
        return
    print_timeline(out, [render_event(e) for e in events])


@app.command()
@_guarded
def stop(
    arn: ExecutionArg,
    error: Annotated[str | None, typer.Option(help="Error name recorded")] = None,
    cause: Annotated[str | None, typer.Option(help="Cause recorded")] = None,
    api_url: ClientApiUrl = None,
    output: OutputOption = Output.text,
) -> None:
    """Stop a running execution (StopExecution)."""
    api = _api(api_url)
    target = api.execution_arn(arn)
    params: dict[str, Any] = {"executionArn": target}
    if error is not None:
        params["error"] = error
    if cause is not None:
        params["cause"] = cause
    reply = api.call("stop_execution", **params)
    if output is Output.json:
        print_json(reply)
    else:
        out.print(f"stopped {target}", markup=False, highlight=False)


@app.command()
@_guarded
def redrive(
    arn: ExecutionArg,
    api_url: ClientApiUrl = None,
    output: OutputOption = Output.text,
) -> None:
    """Restart a failed, aborted or timed-out execution from where it failed (RedriveExecution)."""
    api = _api(api_url)
    target = api.execution_arn(arn)
    reply = api.call("redrive_execution", executionArn=target)
    if output is Output.json:
        print_json(reply)
    else:
        out.print(f"redriven {target}", markup=False, highlight=False)

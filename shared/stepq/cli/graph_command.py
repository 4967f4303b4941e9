"""``stepq graph``: the command over ``graph.py``'s pictures."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from stepq.cli.api_commands import ClientApiUrl, _api, loads, read_definition
from stepq.cli.app import CliError, Output, OutputOption, app, guarded, print_json
from stepq.cli.graph import GraphvizMissing, build, dot, mark, mermaid, svg


class Format(StrEnum):
    mermaid = "mermaid"
    dot = "dot"
    svg = "svg"


@app.command("graph")
@guarded
def graph_command(
    source: Annotated[
        str,
        typer.Argument(help="A definition file, a state machine ARN or name, or an execution ARN"),
    ],
    execution: Annotated[
        str | None,
        typer.Option(help="Mark this execution's path and states (ARN or MACHINE:EXECUTION)"),
    ] = None,
    format: Annotated[
        Format, typer.Option("--format", help="mermaid, dot or svg")
    ] = Format.mermaid,
    api_url: ClientApiUrl = None,
    output: OutputOption = Output.text,
) -> None:
    """Draw a state machine (Mermaid, DOT or SVG), with an execution's path when given."""
    api = None
    if ":execution:" in source and execution is None:
        execution = source
    path = Path(source)
    if ":execution:" not in source and (path.is_file() or source.endswith(".json")):
        definition = loads(read_definition(path))
        title = path.name.split(".")[0]
    else:
        api = _api(api_url)
        if ":execution:" in source:
            reply = api.call(
                "describe_state_machine_for_execution", executionArn=api.execution_arn(source)
            )
        else:
            reply = api.call("describe_state_machine", stateMachineArn=api.machine_arn(source))
        definition, title = loads(reply["definition"]), str(reply.get("name", "stepq"))
    if not isinstance(definition, dict):
        raise CliError(f"{source}: a definition is a JSON object", 2)
    graph = build(definition)
    if execution is not None:
        from stepq.cli.api_commands import history_events

        api = api or _api(api_url)
        arn = api.execution_arn(execution)
        status = api.call("describe_execution", executionArn=arn)["status"]
        mark(graph, history_events(api, arn), status)
    if format is Format.mermaid:
        text = mermaid(graph)
    else:
        text = dot(graph, title)
        if format is Format.svg:
            try:
                text = svg(text)
            except GraphvizMissing as exc:
                raise CliError(str(exc), 2) from None
    if output is Output.json:
        names = {graph.nodes[n].name: s for n, s in graph.statuses.items()}
        print_json({"format": format.value, "graph": text, "states": names})
    else:
        print(text, end="")

"""``stepq process compile|deploy FILE``: a process definition (YAML or JSON) as ASL.

``compile`` prints (or writes) the ASL ``core/people/process.py`` makes of the
file. ``deploy`` creates the state machine named by the file's ``process``, or
updates it, publishing a version either way: running requests keep the
version they started on, new ones take the new one (docs/PEOPLE.md,
"Process definitions"). A file that does not parse is one line; an invalid
process is one line per problem, each with its path, like ``stepq validate``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from stepq.cli.api_commands import ClientApiUrl, _api, read_text
from stepq.cli.app import CliError, Output, OutputOption, app, err, guarded, out, print_json

process_app = typer.Typer(no_args_is_help=True, help="Process definitions: compile, deploy.")
app.add_typer(process_app, name="process")

FileArg = Annotated[Path, typer.Argument(help="A process definition (.process.yaml or .json)")]
_MISSING = "StateMachineDoesNotExist"


def load_process(path: Path) -> Any:
    """The file's content: JSON for ``*.json``, else YAML (duplicate keys refused)."""
    text = read_text(path)
    if path.suffix == ".json":
        try:
            return json.loads(text)
        except ValueError as exc:
            raise CliError(f"{path} is not JSON: {exc}", 2) from None
    from stepq.strict_yaml import YamlProblem, load_yaml

    try:
        return load_yaml(text)
    except YamlProblem as exc:
        raise CliError(f"{path} {exc}", 2) from None


def compiled(path: Path) -> Any:
    """The file compiled (``CompiledProcess``); every problem on its own line, then exit 1."""
    from stepq.core.people.process import compiled_process
    from stepq.errors import ProcessDefinitionError

    source = load_process(path)
    try:
        return compiled_process(source)
    except ProcessDefinitionError as exc:
        for problem in exc.problems:
            err.print(f"{path}: {problem}", style="red", markup=False, highlight=False)
        raise typer.Exit(1) from None


@process_app.command("compile")
@guarded
def compile_command(
    path: FileArg,
    out_file: Annotated[
        Path | None, typer.Option("--out", "-o", help="Write the ASL here instead of stdout")
    ] = None,
) -> None:
    """Print the ASL of a process definition (or write it with -o)."""
    text = json.dumps(compiled(path).asl, indent=2, ensure_ascii=False) + "\n"
    if out_file is None:
        print(text, end="")
        return
    try:
        out_file.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise CliError(f"cannot write {out_file}: {exc.strerror or exc}", 2) from None
    out.print(f"wrote {out_file}", markup=False, highlight=False)


@process_app.command("deploy")
@guarded
def deploy_command(
    path: FileArg,
    role_arn: Annotated[
        str | None,
        typer.Option(
            help="The machine's role (default: role/stepq-<process> in the API's account)"
        ),
    ] = None,
    api_url: ClientApiUrl = None,
    output: OutputOption = Output.text,
) -> None:
    """Create or update the process's state machine and publish a version."""
    from stepq.cli.api_client import ApiCallError

    process = compiled(path)  # before any request: an invalid file needs no API
    name, version = process.name, process.version
    api = _api(api_url)
    arn = api.machine_arn(name)
    published: dict[str, Any] = {"publish": True}
    if version:
        published["versionDescription"] = f"version {version}"
    definition = json.dumps(process.asl)
    try:
        api.call("describe_state_machine", stateMachineArn=arn)
    except ApiCallError as exc:
        if exc.error_code != _MISSING:
            raise
        role = role_arn or f"arn:aws:iam::{api.where('give --role-arn')[1]}:role/stepq-{name}"
        reply = api.call(
            "create_state_machine",
            name=name,
            definition=definition,
            roleArn=role,
            type="STANDARD",
            **published,
        )
        action = "created"
    else:
        params: dict[str, Any] = {"stateMachineArn": arn, "definition": definition, **published}
        if role_arn is not None:
            params["roleArn"] = role_arn
        reply = api.call("update_state_machine", **params)
        action = "updated"
    version_arn = str(reply.get("stateMachineVersionArn") or "")
    if output is Output.json:
        print_json(
            {"action": action, "stateMachineArn": arn, "stateMachineVersionArn": version_arn}
        )
        return
    out.print(f"{action} {version_arn or arn}", markup=False, highlight=False)

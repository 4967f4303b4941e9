"""The ``stepq`` command line."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

app = typer.Typer(
    add_completion=False, no_args_is_help=True, help="Durable ASL workflows on SQS + DynamoDB."
)
err = Console(stderr=True)
out = Console()


@app.command()
def conformance(
    directories: Annotated[
        list[Path], typer.Argument(help="Folders holding conformance case files")
    ],
    results: Annotated[Path | None, typer.Option(help="Write one JSON line per case here")] = None,
    backend: Annotated[str, typer.Option(help="Which backend runs the cases")] = "memory",
) -> None:
    """Run Step Functions conformance cases and compare with AWS's outcomes."""
    from stepq.conformance.runner import BACKENDS, run_directories
    from stepq.errors import StepqError

    if backend not in BACKENDS:
        err.print(
            f"[red]unknown backend {backend!r}; choose one of: {', '.join(sorted(BACKENDS))}[/red]"
        )
        raise typer.Exit(2)
    try:
        with results.open("w", encoding="utf-8") if results else _null() as sink:
            reports = run_directories(directories, BACKENDS[backend], sink)
    except StepqError as exc:
        err.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None
    failed = [r for r in reports if not r.passed]
    for report in failed:
        print(f"FAIL {report.case.file}: {report.difference}")
    lenient = sum(1 for r in reports if r.needs_redactions)
    if lenient:
        print(
            f"({lenient} of the passing cases match only through recorder-redaction placeholders)"
        )
    print(f"{len(reports) - len(failed)} passed, {len(failed)} failed")
    raise typer.Exit(0 if not failed else 1)


class _null:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


@app.command()
def validate(path: Annotated[Path, typer.Argument(help="An ASL definition (.asl.json)")]) -> None:
    """Check a definition; list every problem with its JSON path."""
    from stepq.core.definition import load_definition
    from stepq.errors import DefinitionError

    try:
        load_definition(_read_json(path))
    except DefinitionError as exc:
        for problem in exc.problems:
            print(f"{path}:{problem}")
        raise typer.Exit(1) from None
    out.print(f"[green]{path}: valid[/green]")


@app.command()
def run(
    path: Annotated[Path, typer.Argument(help="An ASL definition (.asl.json)")],
    input: Annotated[str, typer.Option("--input", help="Execution input, as JSON")] = "{}",
    functions: Annotated[
        str | None, typer.Option(help="Module or .py file of step functions")
    ] = None,
    name: Annotated[str, typer.Option(help="Execution name")] = "run-1",
) -> None:
    """Run one execution and print its output and history timeline."""
    from stepq.core.definition import load_definition
    from stepq.core.machine import Machine
    from stepq.errors import DefinitionError, StepqError
    from stepq.functions_loader import load_functions
    from stepq.local.memory import MemoryBackend
    from stepq.render import print_result

    try:
        execution_input = json.loads(input)
    except ValueError as exc:
        err.print(f"[red]--input is not JSON: {exc}[/red]")
        raise typer.Exit(2) from None
    try:
        model = load_definition(_read_json(path))
        steps = load_functions(functions) if functions else {}
    except DefinitionError as exc:
        for problem in exc.problems:
            err.print(f"{path}:{problem}")
        raise typer.Exit(2) from None
    except StepqError as exc:
        err.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None
    machine = Machine(model.raw, name=path.name.split(".")[0])
    result = MemoryBackend(steps).run(machine, execution_input, name=name)
    print_result(out, result)
    raise typer.Exit(0 if result.status == "SUCCEEDED" else 1)


def _read_json(path: Path) -> object:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        err.print(f"[red]cannot read {path}: {exc.strerror}[/red]")
        raise typer.Exit(2) from None
    except ValueError as exc:
        err.print(f"[red]{path} is not JSON: {exc}[/red]")
        raise typer.Exit(2) from None


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)

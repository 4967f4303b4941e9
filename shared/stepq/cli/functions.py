"""``stepq functions MODULE``: the step functions ``--functions MODULE`` registers."""

from __future__ import annotations

import inspect
from typing import Annotated

import typer

from stepq.cli.app import CliError, Output, OutputOption, app, guarded, out, print_json


@app.command()
@guarded
def functions(
    module: Annotated[str, typer.Argument(help="A dotted module or a .py file")],
    output: OutputOption = Output.text,
) -> None:
    """List the step functions a module registers (what --functions MODULE would run)."""
    from stepq.errors import FunctionsLoadError
    from stepq.runtime.steps import load_functions

    try:
        found = load_functions(module)
    except FunctionsLoadError as exc:
        raise CliError(str(exc), 2) from None
    where = {name: _origin(fn) for name, fn in sorted(found.items())}
    if output is Output.json:
        print_json(where)
        return
    if not found:
        out.print(f"{module} registers no step functions", markup=False, highlight=False)
        return
    for name, origin in where.items():
        out.print(f"{name}  [dim]{origin}[/dim]", highlight=False)


def _origin(fn: object) -> str:
    """``file:line`` where the step is defined (its module when the file is unknown)."""
    try:
        file = inspect.getsourcefile(fn)  # type: ignore[arg-type]
        _, line = inspect.getsourcelines(fn)  # type: ignore[arg-type]
    except (OSError, TypeError):
        return str(getattr(fn, "__module__", "?"))
    return f"{file}:{line}"

"""The typer app every command registers on, its consoles, and one way to fail.

A command reports a problem by raising ``CliError``; ``guarded`` turns it (and
anything unexpected) into one red line on stderr and a non-zero exit, so no
traceback reaches a user. ``--output json`` prints machine-readable results.
"""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable
from datetime import date, datetime
from enum import StrEnum
from typing import Annotated, Any, NoReturn, TypeVar

import typer
from rich.console import Console

app = typer.Typer(
    add_completion=False, no_args_is_help=True, help="Durable ASL workflows on SQS + DynamoDB."
)
# No emoji codes (":b:" in an ARN is not an emoji) and no wrapping: one error, one line.
err = Console(stderr=True, emoji=False, soft_wrap=True)
out = Console(emoji=False, soft_wrap=True)


class CliError(Exception):
    """A problem to report as one line; ``code`` is the exit status."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


def fail(message: str, code: int = 1) -> NoReturn:
    # markup=False: ARNs, JSON and file names print as they are.
    err.print(message, style="red", markup=False, highlight=False)
    raise typer.Exit(code)


F = TypeVar("F", bound=Callable[..., Any])


def guarded(fn: F) -> F:
    """One red line and a non-zero exit for any failure of ``fn``; never a traceback."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except (typer.Exit, typer.Abort, KeyboardInterrupt):
            raise
        except CliError as exc:
            fail(exc.message, exc.code)
        except Exception as exc:  # a bug of ours still gets one line, not a traceback
            fail(f"{fn.__name__.replace('_', '-')} failed: {type(exc).__name__}: {exc}")

    return wrapper  # type: ignore[return-value]


class Output(StrEnum):
    text = "text"
    json = "json"


OutputOption = Annotated[
    Output, typer.Option("--output", "-o", help="text for people, json for scripts")
]


def _plain(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, bytes | bytearray):
        return value.decode("utf-8", "replace")
    raise TypeError(f"not JSON: {type(value).__name__}")


def print_json(value: Any) -> None:
    """``value`` as indented JSON on stdout (datetimes in ISO-8601)."""
    print(json.dumps(value, indent=2, default=_plain, ensure_ascii=False))


def version_callback(value: bool) -> None:
    if value:
        from importlib.metadata import PackageNotFoundError, version

        try:
            shown = version("stepq")
        except PackageNotFoundError:  # a checkout on PYTHONPATH, not installed
            shown = "unknown (not installed)"
        print(f"stepq {shown}")
        raise typer.Exit()


@app.callback()
def root(
    show_version: Annotated[
        bool,
        typer.Option(
            "--version", callback=version_callback, is_eager=True, help="Print the version"
        ),
    ] = False,
) -> None:
    """Durable ASL workflows on SQS + DynamoDB."""


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)

"""``stepq bench ...``: the figures of docs/BENCHMARKS.md."""

from __future__ import annotations

from typing import Annotated

import typer

from stepq.cli.app import app, err

bench = typer.Typer(
    no_args_is_help=True, help="The figures of docs/BENCHMARKS.md (embedded backend)."
)
app.add_typer(bench, name="bench")


@bench.command("cost")
def bench_cost(
    copies: Annotated[
        int,
        typer.Option(
            min=1,
            help="Executions of each example run at once (1: no batching, the worst case)",
        ),
    ] = 10,
) -> None:
    """AWS requests and dollars per state transition over the example workflows."""
    from stepq.bench.cost import report_lines, run_cost

    results, overall = run_cost(log=err.print, copies=copies)
    print("\n".join(report_lines(results, overall)))


@bench.command("flat")
def bench_flat(
    iterations: Annotated[
        int,
        typer.Option(help="Loop iterations (2 transitions each); 2500 reaches transition 5,000"),
    ] = 2500,
    early: Annotated[int, typer.Option(help="The early transition to compare with")] = 5,
    matrix: Annotated[
        bool,
        typer.Option(
            help="Also bill a transition with inputs of 1 KB and 200 KB x Maps of 10 and "
            "1,000 items (printed first; about a minute)"
        ),
    ] = True,
) -> None:
    """Requests and bytes of an early transition vs the last one of a long loop, and write
    units per transition whatever the input size or a Map's width."""
    from stepq.bench.flat import report_lines, run_flat
    from stepq.bench.flat_matrix import matrix_lines, run_matrix

    if matrix:
        print("\n".join(matrix_lines(run_matrix(log=err.print))), flush=True)
    result = run_flat(iterations, early=early, log=err.print)
    print("\n".join(report_lines(result)))


@bench.command("throughput")
def bench_throughput(
    executions: Annotated[int, typer.Option(help="Concurrent order sagas")] = 200,
    extra_pumps: Annotated[int, typer.Option(help="Extra orchestrator + worker pump threads")] = 0,
    dbos: Annotated[bool, typer.Option(help="Also run the DBOS comparison")] = True,
) -> None:
    """State transitions per second on the embedded backend, and DBOS on SQLite."""
    from stepq.bench.throughput import report_lines, run_throughput

    result = run_throughput(executions, extra_pumps=extra_pumps, dbos=dbos, log=err.print)
    print("\n".join(report_lines(result)))


@bench.command("lateness")
def bench_lateness(
    seconds: Annotated[
        list[int] | None, typer.Option("--seconds", help="Wait durations (repeatable)")
    ] = None,
) -> None:
    """How late a Wait state fires on the embedded backend, in real time."""
    from stepq.bench.lateness import report_lines, run_lateness

    results = run_lateness(tuple(seconds or (2, 3, 4)), log=err.print)
    print("\n".join(report_lines(results)))

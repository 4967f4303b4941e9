"""The ``stepq`` command line: run, validate, worker, dev, conformance.

Long: the runtime-facing commands (the API's client commands live in
api_commands.py, task_commands.py, bench_commands.py).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from stepq.cli.app import Output, OutputOption, app, err, main, out, print_json

if TYPE_CHECKING:
    from stepq.hosting.people_script import PeopleFile

__all__ = ["app", "main"]


@app.command()
def conformance(
    directories: Annotated[
        list[Path], typer.Argument(help="Folders holding conformance case files")
    ],
    results: Annotated[Path | None, typer.Option(help="Write one JSON line per case here")] = None,
    backend: Annotated[
        str,
        typer.Option(
            help="memory: the local runner (pure core, no store or queues); local: the durable runtime on the embedded backend"
        ),
    ] = "memory",
) -> None:
    """Run Step Functions conformance cases and compare with AWS's outcomes."""
    from stepq.conformance.runner import BACKENDS, run_directories
    from stepq.errors import StepqError

    if backend not in BACKENDS:
        err.print(
            f"[red]unknown backend {backend!r}; choose one of: {', '.join(sorted(BACKENDS))}[/red]"
        )
        raise typer.Exit(2)
    runner = BACKENDS[backend]()
    try:
        with results.open("w", encoding="utf-8") if results else _null() as sink:
            reports = run_directories(directories, runner, sink)
    except StepqError as exc:
        err.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None
    finally:
        close = getattr(runner, "close", None)
        if close is not None:
            close()
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
def validate(
    path: Annotated[Path, typer.Argument(help="An ASL definition (.asl.json)")],
    output: OutputOption = Output.text,
) -> None:
    """Check a definition; list every problem with its JSON path."""
    from rich.markup import escape

    from stepq.core.definition import load_definition
    from stepq.errors import DefinitionError

    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or exc
        err.print(f"[red]cannot read {escape(str(path))}: {escape(str(reason))}[/red]")
        raise typer.Exit(2) from None
    try:
        load_definition(text)  # text that is not JSON is a problem too, at path ""
    except DefinitionError as exc:
        if output is Output.json:
            problems = [{"path": p.path, "message": p.message} for p in exc.problems]
            print_json({"file": str(path), "valid": False, "problems": problems})
            raise typer.Exit(1) from None
        for problem in exc.problems:
            # A lone surrogate (JSON escapes let one into a state name) prints escaped.
            print(f"{path}:{problem}".encode("utf-8", "backslashreplace").decode("utf-8"))
        raise typer.Exit(1) from None
    if output is Output.json:
        print_json({"file": str(path), "valid": True, "problems": []})
        return
    out.print(f"[green]{escape(str(path))}: valid[/green]")


@app.command()
def run(
    path: Annotated[Path, typer.Argument(help="An ASL definition (.asl.json)")],
    input: Annotated[str, typer.Option("--input", help="Execution input, as JSON")] = "{}",
    functions: Annotated[
        str | None, typer.Option(help="Module or .py file of step functions")
    ] = None,
    name: Annotated[str, typer.Option(help="Execution name")] = "run-1",
    skip_time: Annotated[
        bool, typer.Option("--skip-time", help="Jump over Waits, retries and timeouts")
    ] = False,
    backend: Annotated[
        str,
        typer.Option(
            help="embedded (the durable runtime on moto) or memory (the local runner: pure core)"
        ),
    ] = "embedded",
    timeout: Annotated[
        float, typer.Option(help="Give up after this many seconds of wall time")
    ] = 600.0,
    serve_api: Annotated[
        bool | None,
        typer.Option(
            "--serve-api/--no-serve-api",
            help="Serve the API while it runs (default: when a task waits for a callback)",
            show_default=False,
        ),
    ] = None,
    api_port: Annotated[int, typer.Option(help="Port of that API (taken: any free one)")] = 8083,
    people: Annotated[
        Path | None,
        typer.Option(
            help="People file: the requester, groups, e-mail addresses and the answers "
            "people give to human tasks (docs/PEOPLE.md)",
            show_default=False,
        ),
    ] = None,
    output: OutputOption = Output.text,
) -> None:
    """Run one execution, print its progress, output and history timeline.

    A task that waits for a callback gets its token printed with the command
    that answers it (stepq send-task-success), served by the API this run
    serves on loopback while it runs. With --people FILE the execution is a
    request of the file's requester, and the file's answers are given to its
    human tasks as they open (skipped time waits for them); a definition with
    human tasks needs one.
    """
    from stepq.core.definition import load_definition
    from stepq.errors import DefinitionError, StepqError
    from stepq.hosting.people_script import load_people_file
    from stepq.runtime.steps import load_functions

    try:
        execution_input = json.loads(input)
    except ValueError as exc:
        err.print(f"[red]--input is not JSON: {exc}[/red]")
        raise typer.Exit(2) from None
    try:
        definition = _read_json(path)
        load_definition(definition)
        steps = load_functions(functions) if functions else {}
        cast = load_people_file(people) if people is not None else None
    except DefinitionError as exc:
        for problem in exc.problems:
            err.print(f"{path}:{problem}")
        raise typer.Exit(2) from None
    except StepqError as exc:
        err.print(f"[red]{exc}[/red]", highlight=False)
        raise typer.Exit(2) from None
    machine_name = path.name.split(".")[0]
    # With --output json, stdout holds one JSON document; progress goes to stderr.
    console = err if output is Output.json else out
    if backend == "memory":
        if cast is not None:
            err.print("[red]--people needs the embedded backend (the inbox is durable)[/red]")
            raise typer.Exit(2)
        status = _run_memory(definition, machine_name, execution_input, steps, name, console)
    elif backend == "embedded":
        from stepq.cli.callbacks import has_callbacks

        serve = has_callbacks(definition) if serve_api is None else serve_api
        if cast is None and _has_human_tasks(definition):
            # Nobody could act: no requester, no groups, no identities. Say so, not hang.
            err.print(
                f"{path.name} has human tasks: give --people FILE (the requester, groups "
                "and answers; docs/PEOPLE.md, Running a people example)",
                highlight=False,
            )
            raise typer.Exit(2)
        status = _run_embedded(
            definition,
            machine_name,
            execution_input,
            steps,
            name,
            skip_time,
            timeout,
            api_port if serve else None,
            console,
            cast,
        )
    else:
        err.print(f"[red]unknown backend {backend!r}: use embedded or memory[/red]")
        raise typer.Exit(2)
    raise typer.Exit(0 if status == "SUCCEEDED" else 1)


def _run_memory(
    definition: object,
    machine_name: str,
    execution_input: object,
    steps: dict,
    name: str,
    console: Console,
) -> str:
    from stepq.cli.render import print_outcome, print_timeline
    from stepq.core.machine import Machine
    from stepq.hosting.local_runner import LocalRunner

    result = LocalRunner(steps).run(
        Machine(definition, name=machine_name), execution_input, name=name
    )  # type: ignore[arg-type]
    history = [e.to_dict() for e in result.history]
    if console is err:
        _print_run(None, result.status, result.output, result.error, result.cause, history)
        return result.status
    print_timeline(out, history)
    print_outcome(out, result.status, result.output, result.error, result.cause)
    return result.status


def _print_run(
    arn: str | None, status: str, output: object, error: object, cause: object, history: list
) -> None:
    """``stepq run --output json``: the outcome and the history as one document."""
    print_json(
        {
            "executionArn": arn,
            "status": status,
            "output": output,
            "error": error,
            "cause": cause,
            "history": history,
        }
    )


def _run_embedded(
    definition: object,
    machine_name: str,
    execution_input: object,
    steps: dict,
    name: str,
    skip_time: bool,
    timeout: float,
    api_port: int | None = None,
    console: Console = out,
    cast: PeopleFile | None = None,
) -> str:
    from contextlib import ExitStack
    from time import monotonic

    from stepq.cli.callbacks import CallbackDesk
    from stepq.cli.people_desk import PeopleDesk
    from stepq.cli.render import print_outcome, print_timeline, progress_line
    from stepq.errors import ExecutionTimeoutError
    from stepq.hosting.dev import api_context
    from stepq.hosting.embedded import EmbeddedRuntime
    from stepq.hosting.people_script import PeopleScript

    with EmbeddedRuntime(steps, skip_time=skip_time) as runtime, ExitStack() as stack:
        desk = None
        if api_port is not None:
            desk = CallbackDesk(runtime, api_port, dev_identities=cast is not None)
            stack.callback(desk.close)
            console.print(f"serving the API at {desk.url} while this runs", highlight=False)
        runtime.deploy(machine_name, definition)  # type: ignore[arg-type]
        people = None
        if cast is None:
            arn = runtime.start(machine_name, execution_input, name)
        else:
            script = PeopleScript(api_context(runtime), cast)
            people = PeopleDesk(script, desk.url if desk else None)
            script.prepare()
            arn = script.ctx.arns.execution(machine_name, name)
            runtime.holds.append(script.holding(arn))  # before a task can open
            script.start(
                machine_name, name, lambda: runtime.start(machine_name, execution_input, name)
            )
        seen = 0
        header = None
        deadline = monotonic() + timeout  # wall time, however long each poll takes
        with console.status(f"running {arn}") as status:
            try:
                while header is None:
                    try:
                        header = runtime.wait(arn, timeout=0.2)
                    except ExecutionTimeoutError:
                        header = None
                    events = runtime.history(arn) if _started(runtime, arn) else []
                    for event in events[seen:]:
                        console.print(progress_line(event))
                    if desk is not None:
                        desk.announce(console, arn, events[seen:])
                    if people is not None:
                        people.show(console, arn)
                    seen = len(events)
                    status.update(f"running {arn}: {seen} events")
                    if monotonic() > deadline and header is None:
                        raise ExecutionTimeoutError(f"{arn} still running; giving up")
            except ExecutionTimeoutError as exc:
                err.print(f"[red]{exc}[/red]")
                return "TIMED_OUT"
            finally:
                if people is not None:
                    people.finish(console)
        if console is err:
            _print_run(
                arn, header.status, header.output, header.error, header.cause, runtime.history(arn)
            )
            return header.status
        print_timeline(out, runtime.history(arn))
        print_outcome(out, header.status, header.output, header.error, header.cause)
        return header.status


def _has_human_tasks(definition: object) -> bool:
    from stepq.core.people.model import HUMAN_TASK_RESOURCE

    return HUMAN_TASK_RESOURCE in json.dumps(definition)


def _started(runtime: object, arn: str) -> bool:
    from stepq.errors import NotFoundError

    try:
        runtime.store.get_execution(arn)  # type: ignore[attr-defined]
    except NotFoundError:
        return False
    return True


# Where a command that talks to a deployment finds it (STEPQ_* otherwise); the
# ``ops`` commands (ops_commands.py) take them too.
EndpointUrl = Annotated[str | None, typer.Option(help="SQS/DynamoDB-compatible endpoint")]
TableName = Annotated[
    str | None, typer.Option(help="DynamoDB table (default: STEPQ_TABLE or stepq)")
]
QueuePrefix = Annotated[str | None, typer.Option(help="SQS name prefix (default: stepq)")]


def _environ(
    endpoint_url: str | None, table: str | None, queue_prefix: str | None
) -> dict[str, str]:
    """The process environment with the command line's choices on top."""
    import os

    overrides = {
        "STEPQ_ENDPOINT_URL": endpoint_url,
        "STEPQ_TABLE": table,
        "STEPQ_QUEUE_PREFIX": queue_prefix,
    }
    return {**os.environ, **{k: v for k, v in overrides.items() if v}}


@app.command()
def worker(
    role: Annotated[str, typer.Option(help="orchestrator, worker, scheduler, inbox or api")],
    endpoint_url: EndpointUrl = None,
    functions: Annotated[
        str | None, typer.Option(help="Module or .py file of step functions (worker)")
    ] = None,
    table: TableName = None,
    queue_prefix: QueuePrefix = None,
    create: Annotated[
        bool, typer.Option("--create", help="Create the table and queues if missing")
    ] = False,
    interval: Annotated[float, typer.Option(help="Seconds between scheduler ticks")] = 60.0,
    host: Annotated[str, typer.Option(help="The API's address (--role api)")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="The API's port (--role api; 0: any free)")] = 8083,
) -> None:
    """Run one role as a long-lived process against any compatible endpoint.

    The loops (orchestrator, worker, scheduler, inbox) wait through an outage;
    the API (--role api) checks its table and queues at start and exits with
    one line if they do not answer."""
    from stepq.cli.app import CliError
    from stepq.cli.deployment import load_settings
    from stepq.errors import StepqError
    from stepq.hosting import serve as hosted
    from stepq.runtime.steps import load_functions

    if role not in hosted.ROLES:
        err.print(f"[red]--role must be one of: {', '.join(hosted.ROLES)}[/red]")
        raise typer.Exit(2)
    environ = _environ(endpoint_url, table, queue_prefix)
    try:
        settings = load_settings(environ)
        steps = (
            load_functions(functions or settings.functions)
            if (functions or settings.functions)
            else {}
        )
        stop = hosted.stop_on_signals()  # before provisioning: Ctrl-C stops a wait for the endpoint
        endpoint = settings.endpoint_url or "AWS"
        if role == "api":  # the API does not wait for its endpoint: one line if it is down
            hosted.check_endpoints(settings)
        if create:
            out.print(f"stepq {role}: creating the table and queues if missing ({endpoint})")
        if create and not hosted.provision_until_done(settings, sorted(steps), stop):
            return  # stopped while the endpoint was still unreachable
        if role == "api":
            line = f"stepq api running against {endpoint}, serving {{}} (Ctrl-C stops)"
            shown = lambda url: out.print(line.format(url), markup=False)  # noqa: E731  ([::1])
            hosted.serve(role, settings, steps, stop=stop, host=host, port=port, announce=shown)
            return
        out.print(f"stepq {role} running against {endpoint} (Ctrl-C stops)")
        hosted.serve(role, settings, steps, interval=interval, stop=stop)
    except CliError as exc:
        err.print(exc.message, style="red", markup=False)
        raise typer.Exit(exc.code) from None
    except StepqError as exc:
        err.print(f"[red]{exc}[/red]")
        raise typer.Exit(1) from None
    except Exception as exc:  # one line, never a traceback (the loops log their own failures)
        err.print(f"[red]stepq {role} failed: {type(exc).__name__}: {exc}[/red]")
        raise typer.Exit(1) from None


def _read_json(path: Path) -> object:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        err.print(f"[red]cannot read {path}: {exc.strerror}[/red]")
        raise typer.Exit(2) from None
    except ValueError as exc:
        err.print(f"[red]{path} is not JSON: {exc}[/red]")
        raise typer.Exit(2) from None


@app.command()
def dev(
    host: Annotated[
        str, typer.Option(help="Address to bind (loopback unless told otherwise)")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to serve the API on")] = 8083,
    functions: Annotated[
        str | None, typer.Option(help="Module or .py file of step functions")
    ] = None,
    skip_time: Annotated[
        bool, typer.Option("--skip-time", help="Jump over Waits, retries and timeouts")
    ] = False,
    dev_identities: Annotated[
        bool,
        typer.Option(
            "--dev-identities",
            help="UNSAFE, development only: take the caller of people operations from the "
            "X-Stepq-Dev-User header (anyone who reaches the port can claim any name)",
        ),
    ] = False,
) -> None:
    """Serve the Step Functions API on the embedded runtime until interrupted."""
    import threading

    from stepq.errors import StepqError
    from stepq.hosting.dev import DevServer
    from stepq.hosting.serve import stop_on_signals
    from stepq.runtime.steps import load_functions

    try:
        steps = load_functions(functions) if functions else {}
        server = DevServer(
            steps, host=host, port=port, skip_time=skip_time, dev_identities=dev_identities
        )
    except StepqError as exc:
        err.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None
    except OSError as exc:  # the port is taken, the address is not ours
        err.print(f"[red]cannot serve on {host}:{port}: {exc.strerror or exc}[/red]")
        raise typer.Exit(2) from None
    stop: threading.Event = stop_on_signals()
    with server:
        out.print(f"stepq dev: the Step Functions API at {server.url}")
        out.print(f"the console at {server.url}/", highlight=False)
        out.print(
            "state lives in memory (moto in-process) and is lost on exit; Ctrl-C stops",
            highlight=False,
        )
        out.print(f"try: aws stepfunctions --endpoint-url {server.url} list-state-machines")
        if dev_identities:
            out.print(
                "--dev-identities: callers name themselves (X-Stepq-Dev-User, stepq ... --as "
                "USER); unsafe beyond development",
                style="yellow",
                highlight=False,
            )
        if server.services_url:  # the machines' sqs/sns/aws-sdk calls land there
            out.print(f"services your machines call (moto): {server.services_url}")
        while not stop.wait(0.5):
            pass

"""``stepq ops``: operator tools for a running stack (docs/OPERATIONS.md).

- ``ops stuck``          running executions with no commit for a while, and what each waits for
- ``ops reconcile``      send again the work running executions wait for
- ``ops dlq list``       what the dead-letter queues hold (no bodies: they may hold tokens)
- ``ops dlq redrive``    move dead-lettered messages back to their queue

Two ways to reach a stack. A deployment: its table and queues directly, with
the settings the roles use (``--endpoint-url``, ``--table``,
``--queue-prefix`` or ``STEPQ_*``) and the operator's own credentials. An
API (``--api-url`` or ``STEPQ_API_URL``): stepq's own operations
(``Stepq.ListStuckExecutions`` ..., ``api/ops.py``), the only way into
``stepq dev``, whose table and queues live in its own process. Both print
the same lines, and with ``--output json`` the same JSON.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

import typer

from stepq.cli.api_commands import ApiUrl
from stepq.cli.app import CliError, Output, OutputOption, app, out, print_json
from stepq.cli.app import guarded as _guarded
from stepq.cli.commands import EndpointUrl, QueuePrefix, TableName, _environ

ops = typer.Typer(no_args_is_help=True, help="Operator tools for a running stack.")
app.add_typer(ops, name="ops")
dlq = typer.Typer(no_args_is_help=True, help="Dead-letter queues: list, redrive.")
ops.add_typer(dlq, name="dlq")


class Stack:
    """Where a command's operation runs: stepq's API, or the deployment's table and queues."""

    def __init__(
        self,
        api_url: str | None,
        endpoint_url: str | None,
        table: str | None,
        queue_prefix: str | None,
    ) -> None:
        if api_url and (endpoint_url or table or queue_prefix):
            raise CliError(
                "give --api-url (an API) or --endpoint-url/--table/--queue-prefix "
                "(a deployment's table and queues), not both",
                2,
            )
        self.api_url = api_url
        self.environ = _environ(endpoint_url, table, queue_prefix)
        self._parts: tuple[Any, Any, Any, Any] | None = None

    def call(self, operation: str, params: dict[str, Any], local: Callable[..., Any]) -> Any:
        """``Stepq.<operation>(params)`` on the API, else ``local(store, queues, clock, config)``."""
        from stepq.errors import StepqError

        if self.api_url:
            from stepq.cli.api_client import ApiCallError, ApiClient

            try:
                return ApiClient(self.api_url).stepq(operation, params)
            except ApiCallError as exc:  # its ``code`` is the API's error name, not an exit status
                raise CliError(exc.message) from None
        try:
            return local(*self._deployment())
        except StepqError as exc:
            raise CliError(str(exc)) from None

    def _deployment(self) -> tuple[Any, Any, Any, Any]:
        if self._parts is None:
            from stepq.backends.aws.settings import build, runtime_config
            from stepq.cli.deployment import load_settings, quick_clients
            from stepq.clock import SystemClock

            settings = load_settings(self.environ)
            store, queues, _ = build(settings, quick_clients(settings))
            self._parts = (store, queues, SystemClock(), runtime_config(settings))
        return self._parts


def _stack(
    api_url: str | None, endpoint_url: str | None, table: str | None, queue_prefix: str | None
) -> Stack:
    return Stack(api_url, endpoint_url, table, queue_prefix)


# --- stuck ---------------------------------------------------------------------------


@ops.command("stuck")
@_guarded
def ops_stuck(
    older_than: Annotated[
        float, typer.Option(help="Minutes with no commit (no progress) to count as stuck")
    ] = 15.0,
    machine: Annotated[str | None, typer.Option(help="Only this state machine")] = None,
    limit: Annotated[
        int,
        typer.Option(
            help="Executions walked at most (newest first, one read each): bounds the cost"
        ),
    ] = 1000,
    api_url: ApiUrl = None,
    endpoint_url: EndpointUrl = None,
    table: TableName = None,
    queue_prefix: QueuePrefix = None,
    output: OutputOption = Output.text,
) -> None:
    """Running executions with no progress past a threshold, each with what it waits for.

    Reasons: callback (a task token not answered yet), task (in flight on its
    queue), timer (a Wait or a retry back-off, with its due time), nothing (lost
    work: the line suggests stepq ops reconcile ARN). One line per execution;
    the last line counts them and says when --limit stopped the walk early."""
    if older_than < 0 or limit < 1:
        raise CliError("--older-than must be >= 0 and --limit >= 1", 2)
    params: dict[str, Any] = {"olderThanMinutes": older_than, "limit": limit}
    if machine:
        params["stateMachineName"] = machine

    def local(store: Any, queues: Any, clock: Any, config: Any) -> dict[str, Any]:
        from datetime import timedelta

        from stepq.runtime.stuck import StuckFinder, as_dict

        finder = StuckFinder(store, queues, clock, config)
        found = finder.find(timedelta(minutes=older_than), machine=machine, limit=limit)
        return as_dict(found)

    report = _stack(api_url, endpoint_url, table, queue_prefix).call(
        "ListStuckExecutions", params, local
    )
    if output is Output.json:
        print_json(report)
        return
    for item in report["stuck"]:
        waits = "; ".join(_wait_text(w) for w in item["waits"]) or "nothing outstanding"
        _line(
            f"{item['execution_arn']} {item['reason']} quiet={_age(item['quiet_seconds'])} "
            f"{waits} -- {item['hint']}"
        )
    _line(
        f"stuck={len(report['stuck'])} running={report['running']} looked_at={report['looked_at']}"
    )
    if report["truncated"]:
        _line(f"stopped at --limit {limit}: older executions were not looked at")


def _wait_text(wait: dict[str, Any]) -> str:
    where = f" at {wait['state']}" if wait.get("state") else ""
    text = f"{wait['kind']}{where} ({wait['detail']})"
    if wait.get("queue"):
        text += f" on {wait['queue']}"
    if wait.get("due"):
        text += f" due {wait['due']}"
    return text


# --- reconcile -----------------------------------------------------------------------


@ops.command("reconcile")
@_guarded
def ops_reconcile(
    arn: Annotated[
        str | None, typer.Argument(help="One execution (default: all quiet ones)")
    ] = None,
    quiet_minutes: Annotated[
        float, typer.Option(help="Without an ARN: executions with no commit for this long")
    ] = 15.0,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Show, send nothing")] = False,
    api_url: ApiUrl = None,
    endpoint_url: EndpointUrl = None,
    table: TableName = None,
    queue_prefix: QueuePrefix = None,
    output: OutputOption = Output.text,
) -> None:
    """Send again the work running executions wait for, re-derived from their history.

    What a crash between a commit and its sends left undelivered is sent again
    (same ids: what did arrive is dropped as a duplicate). The scheduler does
    this on its own for executions quiet for 15 minutes, an hour, six hours and
    a day; this is the same path on demand. Last line: reconciled=<n> resent=<n>.
    """
    if dry_run and arn is None:
        raise CliError("--dry-run needs an ARN", 2)
    params: dict[str, Any] = {"quietMinutes": quiet_minutes, "dryRun": dry_run}
    if arn is not None:
        params["executionArn"] = arn

    def local(store: Any, queues: Any, clock: Any, config: Any) -> dict[str, Any]:
        from datetime import timedelta

        from stepq.api.ops import describe_command
        from stepq.errors import NotFoundError
        from stepq.runtime.reconcile import Reconciler

        reconciler = Reconciler(store, queues, clock, config)
        if arn is None:
            report = reconciler.reconcile_quiet(timedelta(minutes=quiet_minutes))
            return {"reconciled": report.reconciled, "resent": report.resent}
        try:
            plan = reconciler.plan(arn) if dry_run else reconciler.reconcile(arn)
        except NotFoundError:
            raise CliError(f"no execution {arn}") from None
        return {
            "executionArn": arn,
            "status": plan.status,
            "commands": [describe_command(c) for c in plan.commands],
            "missing": plan.missing,
            "dryRun": dry_run,
        }

    try:
        reply = _stack(api_url, endpoint_url, table, queue_prefix).call(
            "ReconcileExecutions", params, local
        )
    except CliError as exc:
        if arn is not None and exc.message.startswith("ExecutionDoesNotExist"):
            raise CliError(f"no execution {arn}") from None
        raise
    if output is Output.json:
        print_json(reply)
        return
    if arn is None:
        for execution_id in reply["reconciled"]:
            _line(f"reconciled {execution_id}")
        _line(f"reconciled={len(reply['reconciled'])} resent={reply['resent']}")
        return
    for command in reply["commands"]:
        _line(f"{'would send' if dry_run else 'sent'} {command}")
    if reply["status"] != "RUNNING":
        _line(f"{arn} is {reply['status']}: nothing to send")
    _line(f"reconciled={0 if dry_run else 1} resent={len(reply['commands'])}")


# --- dead-letter queues --------------------------------------------------------------


@dlq.command("list")
@_guarded
def dlq_list(
    queue: Annotated[
        str | None,
        typer.Argument(help="A source queue (events, inbox, tasks-NAME...); default: every one"),
    ] = None,
    limit: Annotated[int, typer.Option(help="Messages read per dead-letter queue")] = 100,
    api_url: ApiUrl = None,
    endpoint_url: EndpointUrl = None,
    table: TableName = None,
    queue_prefix: QueuePrefix = None,
    output: OutputOption = Output.text,
) -> None:
    """What the dead-letter queues hold: one line per message (queue, id, age, receives,
    execution, reason). Bodies are never shown (they may hold task tokens); the
    messages stay where they are, visible again when this returns."""
    if limit < 1:
        raise CliError("--limit must be >= 1", 2)
    params: dict[str, Any] = {"limit": limit}
    if queue:
        params["queue"] = queue

    def local(store: Any, queues: Any, clock: Any, config: Any) -> dict[str, Any]:
        from stepq.runtime.dead_letters import DeadLetters, as_dict

        return as_dict(DeadLetters(queues, clock).list(queue, limit))

    listing = _stack(api_url, endpoint_url, table, queue_prefix).call(
        "ListDeadLetters", params, local
    )
    if output is Output.json:
        print_json(listing)
        return
    for m in listing["messages"]:
        _line(
            f"{m['queue']} {m['id']} age={_age(m['age_seconds'])} receives={m['receive_count']} "
            f"execution={m['execution_arn'] or '-'} reason={m['reason']}"
        )
    for source in listing["truncated"]:
        _line(
            f"{source}: more than --limit {limit} held ({listing['depth'][source]}), not all listed"
        )
    _line(f"listed={len(listing['messages'])} queues={len(listing['depth'])}")


@dlq.command("redrive")
@_guarded
def dlq_redrive(
    queue: Annotated[str, typer.Argument(help="The source queue (events, inbox, tasks-NAME...)")],
    ids: Annotated[
        list[str] | None, typer.Option("--id", help="A message id from dlq list (repeatable)")
    ] = None,
    every: Annotated[bool, typer.Option("--all", help="Every message of its DLQ")] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Show, move nothing")] = False,
    api_url: ApiUrl = None,
    endpoint_url: EndpointUrl = None,
    table: TableName = None,
    queue_prefix: QueuePrefix = None,
    output: OutputOption = Output.text,
) -> None:
    """Move dead-lettered messages back to QUEUE: each sent as it was (same id, so a
    copy already processed is dropped as a duplicate), then deleted from the DLQ.
    Last line: moved=<n> (would-move=<n> with --dry-run)."""
    if bool(ids) == every:
        raise CliError("give --id ID (one or more) or --all", 2)
    params: dict[str, Any] = {"queue": queue, "all": every, "dryRun": dry_run}
    if ids:
        params["ids"] = list(ids)

    def local(store: Any, queues: Any, clock: Any, config: Any) -> dict[str, Any]:
        from stepq.runtime.dead_letters import DeadLetters, as_dict

        return as_dict(DeadLetters(queues, clock).redrive(queue, ids or None, dry_run=dry_run))

    report = _stack(api_url, endpoint_url, table, queue_prefix).call(
        "RedriveDeadLetters", params, local
    )
    if report["missing"] and not report["moved"]:
        raise CliError(f"not in {queue}'s dead-letter queue: {' '.join(report['missing'])}")
    if output is Output.json:
        print_json(report)
    else:
        for message_id in report["moved"]:
            _line(f"{'would move' if dry_run else 'moved'} {message_id} to {queue}")
        _line(f"{'would-move' if dry_run else 'moved'}={len(report['moved'])}")
    if report["missing"]:
        raise CliError(f"not in {queue}'s dead-letter queue: {' '.join(report['missing'])}")


# --- printing ------------------------------------------------------------------------


def _line(text: str) -> None:
    out.print(text, markup=False, highlight=False)


def _age(seconds: int) -> str:
    """45s, 12m, 3h05m, 2d04h: short enough for one line."""
    seconds = int(seconds)
    if seconds < 60:
        return f"{seconds}s"
    minutes = seconds // 60
    if minutes < 60:
        return f"{minutes}m"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours}h{minutes:02d}m"
    days, hours = divmod(hours, 24)
    return f"{days}d{hours:02d}h"

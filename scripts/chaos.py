"""Chaos over the wire: the three roles as processes, SIGKILLed at random, SQS cut off.

    scripts/chaos.py --executions 300 [--seed 1] [--outage-seconds 120] [--kill-every 3]

Starts DynamoDB Local and a moto server on 127.0.0.1 (installed by
scripts/install_test_services.sh), a loopback proxy in front of each (SQS
and DynamoDB), and ``stepq worker --role orchestrator|worker|scheduler``
processes pointed at them. It then starts N executions of the examples
(spread over the run, some during the outage), SIGKILLs a random role every
``--kill-every`` seconds and restarts it, cuts off ``--outage-target``
(SQS by default) for ``--outage-seconds`` the ``--outage-mode`` way (reset,
blackhole or flaky: see chaoslib/proxy.py), and waits until every execution
is terminal, ``--timeout`` has passed, or nothing has finished for
``--stall-seconds`` after the chaos. Each execution is judged against a
fault-free reference run of the same input (scripts/chaoslib/verdict.py).
docs/RELIABILITY.md ("Chaos run") has the figures.

The last line is ``correct=<n>/<N> stuck=<n> double=<n>``; the exit status
is 0 only for correct=N, stuck=0, double=0 (1 otherwise, 3 when a service
cannot run here, 2 when the harness itself failed). Logs and a JSON report
stay in ``--workdir`` (a fresh temporary folder by default).
"""

from __future__ import annotations

import argparse
import json
import random
import signal
import sys
import tempfile
import threading
import time
import traceback
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

EXIT_FAILED, EXIT_HARNESS, EXIT_UNAVAILABLE, EXIT_INTERRUPTED = 1, 2, 3, 130
POLL_SECONDS = 3.0
PROGRESS_SECONDS = 15.0


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--executions", type=int, required=True, help="executions to start")
    parser.add_argument("--seed", type=int, default=1, help="inputs, kill targets and timing")
    parser.add_argument("--outage-seconds", type=float, default=120.0, help="SQS unreachable")
    parser.add_argument("--outage-at", type=float, default=30.0, help="seconds into the run")
    parser.add_argument(
        "--outage-mode",
        choices=("reset", "blackhole", "flaky"),
        default="reset",
        help="reset: connections refused; blackhole: never answered; flaky: a brownout",
    )
    parser.add_argument(
        "--outage-target",
        choices=("sqs", "dynamodb", "both"),
        default="sqs",
        help="what the roles cannot reach during the outage",
    )
    parser.add_argument("--kill-every", type=float, default=3.0, help="0: no kills")
    parser.add_argument(
        "--start-window",
        type=float,
        default=None,
        help="starts are spread over this many seconds (default: until mid-outage)",
    )
    parser.add_argument(
        "--timeout", type=float, default=1200.0, help="give up on the run after this many seconds"
    )
    parser.add_argument(
        "--stall-seconds",
        type=float,
        default=300.0,
        help="after the chaos, give up once no execution has finished for this long",
    )
    parser.add_argument("--workdir", type=Path, default=None, help="logs and report.json")
    args = parser.parse_args(argv)
    if args.executions < 1:
        parser.error("--executions must be at least 1")
    if args.start_window is None:
        args.start_window = args.outage_at + args.outage_seconds / 2
    return args


@dataclass
class Timeline:
    """When things happen, in seconds since the roles came up."""

    starts: list[float]
    outage_at: float
    outage_end: float
    chaos_end: float  # no kills after this: the system may settle
    deadline: float


@dataclass
class Tally:
    kills: dict[str, int] = field(default_factory=dict)
    start_errors: list[str] = field(default_factory=list)
    sigterm: dict[str, float | None] = field(default_factory=dict)


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="stepq-chaos-"))
    workdir.mkdir(parents=True, exist_ok=True)
    signal.signal(signal.SIGTERM, _interrupt)
    threading.excepthook = lambda hook: _thread_failed(workdir, hook)
    from chaoslib.stack import Unavailable

    stack = None
    try:
        from chaoslib import stack as stack_mod

        say(f"chaos: workdir {workdir}")
        stack = stack_mod.start_stack(args.outage_mode, args.seed)
        return run(args, stack, workdir)
    except Unavailable as exc:
        print(f"chaos: cannot run here: {exc}", flush=True)
        return EXIT_UNAVAILABLE
    except KeyboardInterrupt:
        print("chaos: interrupted; child processes stopped", flush=True)
        return EXIT_INTERRUPTED
    except Exception as exc:
        (workdir / "harness-error.txt").write_text(traceback.format_exc())
        print(f"chaos: harness failed: {type(exc).__name__}: {exc} (see {workdir})", flush=True)
        return EXIT_HARNESS
    finally:
        _cleanup(stack)


_ROLESETS: list[Any] = []


def _cleanup(stack: Any) -> None:
    for roles in _ROLESETS:
        roles.kill_all()
    if stack is not None:
        stack.stop()


def _thread_failed(workdir: Path, hook: Any) -> None:
    """A harness thread (the proxy's) failed: one line here, the traceback in the workdir."""
    text = "".join(traceback.format_exception(hook.exc_type, hook.exc_value, hook.exc_traceback))
    with (workdir / "harness-error.txt").open("a") as sink:
        sink.write(text)
    print(f"chaos: harness thread failed: {hook.exc_type.__name__}: {hook.exc_value}", flush=True)


def _interrupt(*_: object) -> None:
    raise KeyboardInterrupt


def say(line: str) -> None:
    print(line, flush=True)


def run(args: argparse.Namespace, stack: Any, workdir: Path) -> int:
    from chaoslib import verdict, workload
    from chaoslib.roles import ROLES, RoleSet
    from chaoslib.stack import deploy

    rng = random.Random(args.seed)
    planned = workload.plan(args.executions, args.seed)
    say(f"chaos: reference run of {len(planned)} executions (memory backend, no faults)")
    expected = workload.reference(planned)
    functions = str(workload.STEPS_FILE)
    _, store, client = deploy(stack.caller_environ(functions), workload.definitions())
    roles = RoleSet(stack.role_environ(functions), workdir, functions)
    _ROLESETS.append(roles)
    roles.start_all()
    roles.wait_ready()
    say(
        f"chaos: roles up (SQS via {stack.sqs_proxy.url} -> moto {stack.moto.url}, "
        f"DynamoDB via {stack.dynamodb_proxy.url} -> {stack.dynamodb.url}); "
        f"{args.outage_target} outage {args.outage_seconds:.0f}s ({args.outage_mode}) "
        f"at t={args.outage_at:.0f}s, a kill every {args.kill_every}s"
    )
    outage_end = args.outage_at + args.outage_seconds
    timeline = Timeline(
        starts=sorted(rng.uniform(0, args.start_window) for _ in planned),
        outage_at=args.outage_at,
        outage_end=outage_end,
        chaos_end=max(outage_end, args.start_window) + 10.0,
        deadline=args.timeout,
    )
    tally = Tally(kills={name: 0 for name in ROLES})
    began = time.monotonic()
    arns = _drive(args, rng, timeline, planned, roles, client, store, stack, tally)
    elapsed = time.monotonic() - began
    tally.sigterm = roles.stop_all()
    findings = []
    for plan_item in planned:
        header, history = _read(store, arns.get(plan_item.name))
        findings.append(verdict.judge(plan_item, expected[plan_item.name], header, history))
    correct = sum(f.correct for f in findings)
    stuck = sum(f.stuck for f in findings)
    double = sum(f.double for f in findings)
    for line in verdict.report_lines(findings):
        say(line)
    _report_hosting(roles, tally)
    dead = _dead_letters(stack, functions)
    say(f"chaos: dead-letter queues at the end: {dead or 'empty'}")
    say(
        f"chaos: {elapsed:.0f}s, kills {tally.kills}, proxies: sqs "
        f"{asdict(stack.sqs_proxy.stats)} dynamodb {asdict(stack.dynamodb_proxy.stats)}, "
        f"logs and report.json in {workdir}"
    )
    report = {
        "args": {k: str(v) for k, v in vars(args).items()},
        "elapsed_seconds": round(elapsed, 1),
        "kills": tally.kills,
        "sigterm_status": tally.sigterm,
        "unexpected_exits": [asdict(e) for e in roles.unexpected],
        "start_errors": tally.start_errors,
        "dead_letters": dead,
        "findings": [asdict(f) for f in findings],
    }
    (workdir / "report.json").write_text(json.dumps(report, indent=1, default=str))
    line = verdict.summary_line(correct, len(planned), stuck, double)
    say(line)
    ok = correct == len(planned) and stuck == 0 and double == 0
    return 0 if ok else EXIT_FAILED


def _drive(
    args: argparse.Namespace,
    rng: random.Random,
    timeline: Timeline,
    planned: list[Any],
    roles: Any,
    client: Any,
    store: Any,
    stack: Any,
    tally: Tally,
) -> dict[str, str]:
    """The run's main loop (one thread: it forks the roles): starts, kills, the
    outage, and polling until everything is terminal or the deadline."""
    from chaoslib.roles import ROLES

    began = time.monotonic()
    arns: dict[str, str] = {}
    pending = list(zip(timeline.starts, planned, strict=True))
    open_ids: set[str] = set()
    next_kill = args.kill_every if args.kill_every > 0 else float("inf")
    next_poll = next_progress = last_finish = 0.0
    outage_state = "before"
    while True:
        now = time.monotonic() - began
        while pending and pending[0][0] <= now:
            _, item = pending.pop(0)
            try:
                arns[item.name] = client.start_execution(item.machine, item.name, item.input)
                open_ids.add(arns[item.name])
            except Exception as exc:  # the caller's error: recorded, the execution is 'stuck'
                tally.start_errors.append(f"{item.name}: {type(exc).__name__}: {exc}")
        if outage_state == "before" and now >= timeline.outage_at:
            for proxy in stack.outage_proxies(args.outage_target):
                proxy.outage()
            outage_state = "during"
            say(f"chaos: t={now:.0f}s {args.outage_target} outage begins ({args.outage_mode})")
        elif outage_state == "during" and now >= timeline.outage_end:
            for proxy in stack.outage_proxies(args.outage_target):
                proxy.restore()
            outage_state = "after"
            say(f"chaos: t={now:.0f}s {args.outage_target} outage ends")
        if now >= next_kill and now < timeline.chaos_end:
            victim = rng.choice(ROLES)
            roles.kill(victim)
            tally.kills[victim] += 1
            next_kill += args.kill_every
        for exited in roles.check():
            say(f"chaos: t={now:.0f}s {exited.role} exited on its own with status {exited.status}")
        if now >= next_poll:
            still = {arn for arn in open_ids if _running(store, arn)}
            if still != open_ids:
                last_finish = now
            open_ids, next_poll = still, now + POLL_SECONDS
        if now >= next_progress:
            say(
                f"chaos: t={now:.0f}s started {len(arns)}/{len(planned)}, "
                f"open {len(open_ids)}, outage {outage_state}, kills {sum(tally.kills.values())}"
            )
            next_progress = now + PROGRESS_SECONDS
        settled = not pending and not open_ids and outage_state == "after"
        # Stalled: the chaos is over and nothing has finished for a long while
        # since (work dead-lettered during a long outage comes back minutes later).
        quiet_since = max(last_finish, timeline.chaos_end)
        stalled = now >= timeline.chaos_end and now - quiet_since >= args.stall_seconds
        if settled or stalled or now >= timeline.deadline:
            if not settled:
                why = "stalled" if stalled else "timeout"
                say(f"chaos: t={now:.0f}s {why}: {len(open_ids)} executions still open")
            return arns
        time.sleep(0.2)


def _running(store: Any, arn: str) -> bool:
    from stepq.errors import NotFoundError

    try:
        return store.get_execution(arn).status == "RUNNING"
    except NotFoundError:
        return True  # not created yet: still on its way (or lost)
    except Exception:
        return True  # a read that failed tells nothing; asked again next poll


def _read(store: Any, arn: str | None) -> tuple[Any, list[dict[str, Any]]]:
    from stepq.errors import NotFoundError

    if arn is None:
        return None, []
    try:
        return store.get_execution(arn), store.history(arn)
    except NotFoundError:
        return None, []


def _report_hosting(roles: Any, tally: Tally) -> None:
    for exited in roles.unexpected:
        tail = exited.log_tail.strip().splitlines()[-3:]
        say(f"  role exit: {exited.role} status {exited.status}: {' | '.join(tail)}")
    hung = [name for name, status in tally.sigterm.items() if status is None]
    if hung:
        say(f"  roles that ignored SIGTERM for 15s (killed): {', '.join(hung)}")
    for name in roles.roles:
        text = roles.roles[name].log.read_text(errors="replace")
        say(
            f"  {name} log: {text.count('--- start')} starts, "
            f"{text.count('Traceback')} tracebacks, "
            f"{text.count('failing, retrying with backoff')} failure streaks"
        )
    for error in tally.start_errors[:10]:
        say(f"  start failed: {error}")


def _dead_letters(stack: Any, functions: str) -> dict[str, int]:
    """Messages left in each dead-letter queue (the sweeper deletes what it handled)."""
    from stepq.backends.aws.settings import Settings, make_client

    settings = Settings.from_env(stack.caller_environ(functions))
    sqs = make_client(settings, "sqs")
    found = {}
    urls = sqs.list_queues(QueueNamePrefix=settings.queue_prefix).get("QueueUrls", [])
    for url in urls:
        if not url.endswith("-dlq"):
            continue
        attributes = sqs.get_queue_attributes(
            QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"]
        )["Attributes"]
        count = int(attributes.get("ApproximateNumberOfMessages", 0))
        if count:
            found[url.rsplit("/", 1)[-1]] = count
    return found


if __name__ == "__main__":
    sys.exit(main())

"""How long the console takes to draw a big execution (issue 13).

    PYTHONPATH=shared:/path/to/playwright python scripts/bench_console.py [--items 1000] [--runs 5]

One execution of a Map over ``--items`` items whose iterations pass through
four Pass states (about ten history events each: 10,000 for 1,000 items) runs
to completion on ``stepq dev`` (embedded, time skipped). Then Debian's
Chromium (``/usr/bin/chromium``, through playwright) opens the execution's
page ``--runs`` times, each in a fresh tab, and the time from navigation to
the graph and the first timeline page being drawn is measured (the page's
``main[data-ready]``, set once both are in the DOM). Prints one
``console_draw`` line: the event count, and the median and the slowest of the
runs in ms, against the goal of 2 s. A benchmark, not a test: figures in
docs/BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import quote

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "shared"))

from stepq.hosting.dev import DevServer
from stepq.testing.chromium import CHROMIUM, CHROMIUM_ARGS

ROLE = "arn:aws:iam::111111111111:role/stepq"


def _machine() -> dict[str, object]:
    steps = ["Check", "Price", "Tag", "Done"]
    states = {
        name: {"Type": "Pass", **({"Next": steps[i + 1]} if i + 1 < len(steps) else {"End": True})}
        for i, name in enumerate(steps)
    }
    return {
        "StartAt": "Each",
        "States": {
            "Each": {
                "Type": "Map",
                "ItemsPath": "$.items",
                "MaxConcurrency": 0,
                "ItemProcessor": {"StartAt": "Check", "States": states},
                "ResultPath": None,
                "End": True,
            }
        },
    }


def _run_execution(dev: DevServer, items: int) -> tuple[str, int]:
    import boto3

    sfn = boto3.client(
        "stepfunctions",
        endpoint_url=dev.url,
        region_name="us-east-1",
        aws_access_key_id="bench",
        aws_secret_access_key="bench",
    )
    machine = sfn.create_state_machine(
        name="wide", definition=json.dumps(_machine()), roleArn=ROLE
    )["stateMachineArn"]
    data = {"items": [{"n": i} for i in range(items)]}
    arn = sfn.start_execution(stateMachineArn=machine, name="wide-1", input=json.dumps(data))[
        "executionArn"
    ]
    deadline = time.monotonic() + 600
    while sfn.describe_execution(executionArn=arn)["status"] == "RUNNING":
        if time.monotonic() > deadline:
            raise SystemExit("the execution did not finish in 10 minutes")
        time.sleep(0.2)
    count, token = 0, None
    while True:
        page = sfn.get_execution_history(
            executionArn=arn, maxResults=1000, **({"nextToken": token} if token else {})
        )
        count += len(page["events"])
        token = page.get("nextToken")
        if not token:
            return str(arn), count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL"):
        os.environ.pop(name, None)
    with DevServer(port=0, skip_time=True, environ={}) as dev:
        arn, events = _run_execution(dev, args.items)
        print(f"execution ready: {events} events", file=sys.stderr)
        url = f"{dev.url}/#/execution/{quote(arn, safe='')}"
        profile = tempfile.mkdtemp(prefix="stepq-bench-chromium-")
        times: list[float] = []
        try:
            with sync_playwright() as driver:
                context = driver.chromium.launch_persistent_context(
                    profile, executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
                )
                for _ in range(args.runs):
                    tab = context.new_page()
                    started = time.perf_counter()
                    tab.goto(url)
                    tab.wait_for_selector("main[data-ready=true] svg.timeline", timeout=60_000)
                    tab.wait_for_selector("svg.graph[data-graph=ready]", timeout=60_000)
                    times.append((time.perf_counter() - started) * 1000)
                    tab.close()
                context.close()
        finally:
            shutil.rmtree(profile, ignore_errors=True)
    median, worst = statistics.median(times), max(times)
    goal = "met" if median < 2000 else "not met"
    print(
        f"console_draw items={args.items} events={events} runs={len(times)} "
        f"median_ms={median:.0f} max_ms={worst:.0f} goal_ms=2000 goal={goal}"
    )


if __name__ == "__main__":
    main()

"""The console in a real browser: Debian's Chromium (``/usr/bin/chromium``) driven by playwright.

Never ``playwright install``: the browser is the system's, installed by
``scripts/install_browser.sh`` (``make test`` runs it). Without the browser
or the ``playwright`` package these tests skip with the reason, and under
``CI=true`` they fail instead. One ``stepq dev`` per module serves the
examples (state_machine/) with a few executions in every status.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from api.server_support import client, module_server
from stepq.hosting.dev import DevServer
from stepq.runtime.steps import load_functions
from stepq.testing.chromium import CHROMIUM, CHROMIUM_ARGS

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "state_machine"
SCREENSHOTS = ROOT / "docs" / "screenshots"
# Every run takes the pictures; only STEPQ_UPDATE_SCREENSHOTS=1 (make screenshots)
# writes them over the committed ones, so a test run leaves the tree clean.
UPDATE_SCREENSHOTS = os.environ.get("STEPQ_UPDATE_SCREENSHOTS") == "1"
ROLE = "arn:aws:iam::111111111111:role/stepq"
IN_CI = os.environ.get("CI", "").lower() == "true"


def _missing(reason: str) -> None:
    if IN_CI:
        pytest.fail(f"{reason} (CI=true: the browser tests must run)", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _missing("the playwright package is not installed (pip install -e '.[dev]')")
    if not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        _missing(f"no Chromium at {CHROMIUM} (bash scripts/install_browser.sh)")
    profile = tempfile.mkdtemp(prefix="stepq-chromium-")
    try:
        with sync_playwright() as driver:
            context = driver.chromium.launch_persistent_context(
                profile,
                executable_path=CHROMIUM,
                headless=True,
                args=CHROMIUM_ARGS,
                viewport={"width": 1400, "height": 900},
            )
            try:
                yield context
            finally:
                context.close()
    finally:
        shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    tab = browser.new_page()
    tab.set_default_timeout(10_000)
    errors: list[str] = []
    tab.on("pageerror", lambda exc: errors.append(str(exc)))
    tab.on("console", lambda msg: msg.type == "error" and errors.append(msg.text))
    yield tab
    tab.close()
    assert not errors, f"the page logged errors: {errors}"


FLAKY = {
    "StartAt": "Load",
    "States": {
        "Load": {
            "Type": "Task",
            "Resource": "arn:aws:lambda:us-east-1:111111111111:function:flaky_load",
            "Retry": [{"ErrorEquals": ["SupplierDown"], "IntervalSeconds": 1, "MaxAttempts": 1}],
            "End": True,
        }
    },
}
SPREAD = {  # a Distributed Map: its items as a map run, one failure tolerated
    "StartAt": "Spread",
    "States": {
        "Spread": {
            "Type": "Map",
            "ToleratedFailureCount": 1,
            "ItemProcessor": {
                "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
                "StartAt": "Check",
                "States": {
                    "Check": {
                        "Type": "Choice",
                        "Choices": [{"Variable": "$", "NumericEquals": 2, "Next": "Boom"}],
                        "Default": "Fine",
                    },
                    "Boom": {"Type": "Fail", "Error": "Two", "Cause": "two is bad"},
                    "Fine": {"Type": "Pass", "End": True},
                },
            },
            "End": True,
        }
    },
}
SUPPLIER_UP = {"value": False}  # flaky_load fails until a test sets it


class SupplierDown(Exception):
    pass


def flaky_load(event: Any, context: Any) -> dict[str, Any]:
    if not SUPPLIER_UP["value"]:
        raise SupplierDown("the supplier's API is down")
    return {"loaded": True}


def _functions() -> dict[str, Any]:
    steps: dict[str, Any] = {"flaky_load": flaky_load}
    for name in ("order_saga", "insurance_claim", "data_pipeline"):
        steps.update(load_functions(str(EXAMPLES / f"{name}.py")))
    return steps


def wait_status(sfn: Any, arn: str, wanted: str, seconds: float = 20.0) -> dict[str, Any]:
    deadline = time.monotonic() + seconds
    while True:
        described = sfn.describe_execution(executionArn=arn)
        if described["status"] == wanted:
            return dict(described)
        if time.monotonic() > deadline:
            raise AssertionError(f"{arn} is {described['status']}, not {wanted}")
        time.sleep(0.05)


def wait_entered(sfn: Any, arn: str, state: str, seconds: float = 20.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        events = sfn.get_execution_history(executionArn=arn, maxResults=1000)["events"]
        if any((e.get("stateEnteredEventDetails") or {}).get("name") == state for e in events):
            return
        time.sleep(0.05)
    raise AssertionError(f"{arn} never entered {state}")


class Examples:
    """The console's server and the executions the tests look at, by a short name."""

    def __init__(self, dev: DevServer) -> None:
        self.dev = dev
        self.url = dev.url
        self.sfn = client(dev)
        self.arns: dict[str, str] = {}
        self.machines: dict[str, str] = {}

    def deploy(self, name: str, definition: dict[str, Any] | None = None) -> None:
        text = (
            json.dumps(definition)
            if definition is not None
            else (EXAMPLES / f"{name}.asl.json").read_text(encoding="utf-8")
        )
        made = self.sfn.create_state_machine(name=name, definition=text, roleArn=ROLE)
        self.machines[name] = made["stateMachineArn"]

    def start(self, key: str, machine: str, name: str, data: Any) -> str:
        arn = self.sfn.start_execution(
            stateMachineArn=self.machines[machine], name=name, input=json.dumps(data)
        )["executionArn"]
        self.arns[key] = arn
        return str(arn)


@pytest.fixture(scope="module")
def examples() -> Iterator[Examples]:
    """order_saga (one shipped, one compensated), insurance_claim (approved: cooling
    off in its day-long Wait; rejected; silent: waiting for its callback) and
    data_pipeline (Parallel + Map, a retry) on a real clock."""
    with module_server(functions=_functions()) as dev:
        ex = Examples(dev)
        for name in ("order_saga", "insurance_claim", "data_pipeline"):
            ex.deploy(name)
        ex.deploy("flaky", FLAKY)
        ex.deploy("spread", SPREAD)
        order = {"order_id": "o-1", "amount": 42.5, "items": ["book"]}
        ex.start("shipped", "order_saga", "order-shipped", order)
        ex.start("compensated", "order_saga", "order-failed", {**order, "fail_at": "ship"})
        claim = {"policy": "p-7", "amount": 1200}
        ex.start("cooling", "insurance_claim", "claim-approved", claim)
        ex.start("rejected", "insurance_claim", "claim-rejected", {**claim, "verdict": "reject"})
        ex.start("silent", "insurance_claim", "claim-silent", {**claim, "verdict": "silent"})
        ex.start("pipeline", "data_pipeline", "nightly", {"orders": 6})
        wait_status(ex.sfn, ex.arns["shipped"], "SUCCEEDED")
        wait_status(ex.sfn, ex.arns["compensated"], "FAILED")
        wait_status(ex.sfn, ex.arns["rejected"], "FAILED")
        wait_status(ex.sfn, ex.arns["pipeline"], "SUCCEEDED")
        wait_entered(ex.sfn, ex.arns["cooling"], "CoolingOff")
        wait_entered(ex.sfn, ex.arns["silent"], "RequestVerification")
        yield ex


def screenshot(page: Any, name: str) -> None:
    """A picture of the page: into docs/screenshots (linked from README.md) with
    STEPQ_UPDATE_SCREENSHOTS=1, else checked that one is taken and thrown away."""
    picture = page.screenshot(full_page=False)
    assert picture.startswith(b"\x89PNG"), name
    if UPDATE_SCREENSHOTS:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        (SCREENSHOTS / f"{name}.png").write_bytes(picture)

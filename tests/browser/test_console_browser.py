"""The console's pages in headless Chromium against ``stepq dev`` (conftest.py says how).

Each graph test reads the SVG the page drew: every state is a ``<g data-state
data-status>``, so what the picture says is checked, not what the API sent.
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import quote

try:
    from playwright.sync_api import expect
except ImportError:  # the browser fixture skips (or under CI=true fails) with the reason
    expect = None

from browser.conftest import SUPPLIER_UP, Examples, screenshot, wait_entered, wait_status


def _settled(page: Any) -> None:
    """Wait until the page the URL names is drawn (not the one before it: a new hash
    changes the page only once the browser gets to its hashchange event)."""
    route = "#" + page.url.split("#", 1)[1]
    page.wait_for_selector(f'main[data-ready=true][data-route="{route}"]')


def _open(page: Any, examples: Examples, route: str) -> None:
    page.goto(f"{examples.url}/#{route}")
    _settled(page)


def _statuses(page: Any) -> dict[str, str]:
    page.wait_for_selector("svg.graph[data-graph=ready]")
    return dict(
        page.eval_on_selector_all(
            "svg.graph g.node", "nodes => nodes.map(n => [n.dataset.state, n.dataset.status])"
        )
    )


def _execution(page: Any, examples: Examples, key: str) -> dict[str, str]:
    _open(page, examples, f"/execution/{quote(examples.arns[key], safe='')}")
    return _statuses(page)


def _names(page: Any) -> list[str]:
    return list(
        page.eval_on_selector_all(
            "table.executions tbody tr", "rows => rows.map(r => r.dataset.execution)"
        )
    )


def _counts(page: Any) -> dict[str, str]:
    return dict(
        page.eval_on_selector_all(
            ".counts a",
            "links => links.map(a => [a.dataset.count, a.querySelector('b').textContent])",
        )
    )


def test_console_lists_executions_with_counts_filters_and_pages(
    page: Any, examples: Examples
) -> None:
    # Other tests add executions (none named claim-*): this one holds in any order.
    _open(page, examples, "/executions")
    statuses = page.eval_on_selector_all(
        "table.executions tbody tr", "rows => rows.map(r => r.dataset.status)"
    )
    assert len(statuses) == min(50, int(_counts(page)["ALL"])) >= 6  # a page holds 50
    assert set(statuses) <= {"RUNNING", "SUCCEEDED", "FAILED", "ABORTED"}
    screenshot(page, "executions")
    _open(page, examples, "/executions?prefix=claim-")
    assert sorted(_names(page)) == ["claim-approved", "claim-rejected", "claim-silent"]
    counts = _counts(page)
    assert (counts["ALL"], counts["RUNNING"], counts["FAILED"]) == ("3", "2", "1")
    # A status count filters; the machine filter narrows further.
    page.click(".counts a[data-count=FAILED]")
    expect(page).to_have_url(re.compile("status=FAILED"))
    _settled(page)
    assert _names(page) == ["claim-rejected"]
    page.select_option("select[name=machine]", "order_saga")
    expect(page).to_have_url(re.compile("machine=order_saga"))
    _settled(page)
    assert page.locator("p.empty").count() == 1
    _open(page, examples, "/executions?machine=order_saga&prefix=order-")
    rows = page.eval_on_selector_all(
        "table.executions tbody tr",
        "rows => rows.map(r => [r.dataset.execution, r.dataset.status])",
    )
    assert dict(rows) == {"order-failed": "FAILED", "order-shipped": "SUCCEEDED"}
    _open(page, examples, "/executions?prefix=nightly")
    assert _counts(page)["SUCCEEDED"] == "1"
    # A start-time range (UTC): the future holds none of them.
    page.fill("input[name=after]", "2999-01-01T00:00")
    page.click("form.filters button[type=submit]")
    expect(page).to_have_url(re.compile("after=2999"))
    _settled(page)
    assert page.locator("p.empty").count() == 1
    assert _counts(page)["ALL"] == "0"


def test_console_pages_through_executions_with_next_token(page: Any, examples: Examples) -> None:
    for i in range(55):  # one more page than the console's 50 a page
        examples.sfn.start_execution(
            stateMachineArn=examples.machines["order_saga"],
            name=f"bulk-{i:02d}",
            input=json.dumps({"order_id": f"b-{i}", "amount": 1, "items": ["x"]}),
        )
    _open(page, examples, "/executions?prefix=bulk-")
    first = page.eval_on_selector_all(
        "table.executions tbody tr", "rows => rows.map(r => r.dataset.execution)"
    )
    assert len(first) == 50 and page.is_disabled("button[data-page=newer]")
    page.click("button[data-page=older]")
    expect(page.locator("table.executions tbody tr")).to_have_count(5)
    second = page.eval_on_selector_all(
        "table.executions tbody tr", "rows => rows.map(r => r.dataset.execution)"
    )
    assert set(first).isdisjoint(second) and len(set(first) | set(second)) == 55
    assert page.is_disabled("button[data-page=older]")
    page.click("button[data-page=newer]")
    expect(page.locator("table.executions tbody tr")).to_have_count(50)


def test_console_order_saga_graph_marks_the_compensation(page: Any, examples: Examples) -> None:
    shipped = _execution(page, examples, "shipped")
    assert shipped == {
        "Charge": "succeeded",
        "Reserve": "succeeded",
        "Ship": "succeeded",
        "Confirmed": "succeeded",
        "Release": "not_reached",
        "Refund": "not_reached",
        "OrderFailed": "not_reached",
    }
    failed = _execution(page, examples, "compensated")
    assert failed["Ship"] == "caught" and failed["OrderFailed"] == "failed"
    assert failed["Release"] == failed["Refund"] == "succeeded"
    assert failed["Confirmed"] == "not_reached"
    assert page.get_attribute("main .view", "data-execution-status") == "FAILED"
    # Clicking a state shows its input, output and error.
    page.click("svg.graph g.node[data-state=Ship]")
    panel = page.locator(".state-panel")
    assert panel.get_attribute("data-selected") == "Ship"
    text = panel.inner_text()
    assert "caught" in text and "Input" in text and "Parameters" in text
    assert page.locator("svg.timeline g.bar[data-state=Ship].bar-caught").count() == 1
    types = page.eval_on_selector_all(
        "table.events tbody tr td:nth-child(2)", "cells => cells.map(c => c.textContent)"
    )
    assert types[0] == "ExecutionStarted" and types[-1] == "ExecutionFailed"
    screenshot(page, "execution-order-saga")


def test_console_insurance_claim_graphs_show_waiting_and_rejection(
    page: Any, examples: Examples
) -> None:
    cooling = _execution(page, examples, "cooling")
    assert cooling["RegisterClaim"] == cooling["RequestVerification"] == "succeeded"
    assert cooling["CoolingOff"] == "waiting"  # a day-long Wait on a real clock
    assert cooling["Decide"] == cooling["PayOut"] == "not_reached"
    assert page.locator("[data-live=on]").count() == 1
    rejected = _execution(page, examples, "rejected")
    assert rejected["RequestVerification"] == "caught" and rejected["Rejected"] == "failed"
    assert rejected["CoolingOff"] == "not_reached"


def test_console_refreshes_a_running_execution_live(page: Any, examples: Examples) -> None:
    silent = _execution(page, examples, "silent")
    assert silent["RequestVerification"] == "waiting"  # for its task token
    screenshot(page, "execution-waiting")
    events = examples.sfn.get_execution_history(executionArn=examples.arns["silent"])["events"]
    token = next(
        json.loads(e["taskScheduledEventDetails"]["parameters"])["Payload"]["token"]
        for e in events
        if e["type"] == "TaskScheduled"
    )
    examples.sfn.send_task_success(taskToken=token, output=json.dumps({"score": 0.9}))
    wait_entered(examples.sfn, examples.arns["silent"], "CoolingOff")
    page.wait_for_selector("svg.graph g.node[data-state=CoolingOff][data-status=waiting]")
    assert _statuses(page)["RequestVerification"] == "succeeded"


def test_console_data_pipeline_graph_has_parallel_and_map_clusters(
    page: Any, examples: Examples
) -> None:
    statuses = _execution(page, examples, "pipeline")
    assert set(statuses.values()) == {"succeeded"}, statuses
    clusters = page.eval_on_selector_all(
        "svg.graph g.cluster", "cs => cs.map(c => c.dataset.cluster)"
    )
    assert len(clusters) == 3  # two Parallel branches and the Map's iterations
    enrich = page.locator("svg.graph g.node[data-state=Enrich] text.count")
    assert enrich.text_content() == "\u00d76"  # times 6: entered once per order
    screenshot(page, "execution-data-pipeline")


def test_console_state_machines_list_graph_and_source(page: Any, examples: Examples) -> None:
    _open(page, examples, "/machines")
    names = page.eval_on_selector_all(
        "table.machines tbody tr", "rows => rows.map(r => r.dataset.machine)"
    )
    assert sorted(names) == ["data_pipeline", "flaky", "insurance_claim", "order_saga", "spread"]
    page.click("table.machines a:text('insurance_claim')")
    expect(page).to_have_url(re.compile("#/machine/"))
    _settled(page)
    states = page.eval_on_selector_all(
        "svg.graph g.node", "nodes => nodes.map(n => n.dataset.state)"
    )
    assert "CoolingOff" in states and "Decide" in states
    labels = page.eval_on_selector_all("svg.graph .edge-label", "ls => ls.map(l => l.textContent)")
    assert any("NumericGreaterThanEquals" in text for text in labels)  # a Choice rule
    asl = json.loads(page.text_content("pre.asl"))
    assert asl["StartAt"] == "RegisterClaim"
    screenshot(page, "state-machine")


def test_console_stops_a_running_execution(page: Any, examples: Examples) -> None:
    claim = {"policy": "p-8", "amount": 10, "verdict": "silent"}
    examples.start("to-stop", "insurance_claim", "stop-1", claim)
    wait_entered(examples.sfn, examples.arns["to-stop"], "RequestVerification")
    _execution(page, examples, "to-stop")
    assert page.locator("button[data-action=redrive]").count() == 0
    page.click("button[data-action=stop]")
    page.click("details:has-text('Execution input') summary")  # opened, as a reader would
    page.wait_for_timeout(1500)  # a live refresh (every second) keeps both as they were
    assert page.locator("details:has-text('Execution input')").get_attribute("open") == ""
    page.click("button[data-confirm=stop]")
    expect(page.locator("main .view")).to_have_attribute("data-execution-status", "ABORTED")
    described = examples.sfn.describe_execution(executionArn=examples.arns["to-stop"])
    assert described["status"] == "ABORTED" and described["error"] == "StoppedFromConsole"
    assert _statuses(page)["RequestVerification"] == "failed"
    assert page.locator("button[data-action=stop]").count() == 0


def test_console_redrives_a_failed_execution(page: Any, examples: Examples) -> None:
    SUPPLIER_UP["value"] = False
    arn = examples.start("flaky", "flaky", "load-1", {})
    wait_status(examples.sfn, arn, "FAILED")
    assert _execution(page, examples, "flaky") == {"Load": "failed"}
    assert page.locator("button[data-action=stop]").count() == 0
    page.click("button[data-action=redrive]")
    page.click("text=Cancel")  # asks first; Cancel leaves it as it was
    assert examples.sfn.describe_execution(executionArn=arn)["status"] == "FAILED"
    SUPPLIER_UP["value"] = True
    page.click("button[data-action=redrive]")
    page.click("button[data-confirm=redrive]")
    expect(page.locator("main .view")).to_have_attribute("data-execution-status", "SUCCEEDED")
    assert _statuses(page) == {"Load": "succeeded"}
    bars = page.eval_on_selector_all(
        "svg.timeline g.bar", "bs => bs.map(b => b.getAttribute('class'))"
    )
    # The failed run's visit (tried twice: a row per attempt), then the redrive's.
    assert bars == ["bar bar-failed", *["bar bar-failed attempt"] * 2, "bar bar-done"]
    assert examples.sfn.describe_execution(executionArn=arn)["redriveCount"] == 1


def test_console_answers_a_waiting_callback(page: Any, examples: Examples) -> None:
    claim = {"policy": "p-9", "amount": 10, "verdict": "silent"}
    for key in ("answer-ok", "answer-no"):
        examples.start(key, "insurance_claim", key, claim)
        wait_entered(examples.sfn, examples.arns[key], "RequestVerification")
    assert _execution(page, examples, "answer-ok")["RequestVerification"] == "waiting"
    page.click("svg.graph g.node[data-state=RequestVerification]")
    page.fill(".callback textarea[name=output]", "{not json")
    page.click("button[data-callback=success]")
    assert "not JSON" in page.inner_text(".callback")  # checked before anything is sent
    page.fill(".callback textarea[name=output]", '{"score": 0.97, "verifier": "console"}')
    screenshot(page, "execution-callback")
    page.click("button[data-callback=success]")
    page.wait_for_selector("svg.graph g.node[data-state=CoolingOff][data-status=waiting]")
    history = examples.sfn.get_execution_history(executionArn=examples.arns["answer-ok"])
    exits = [e for e in history["events"] if e["type"] == "TaskStateExited"]
    assert json.loads(exits[-1]["stateExitedEventDetails"]["output"])["verification"] == {
        "score": 0.97,
        "verifier": "console",
    }
    _execution(page, examples, "answer-no")
    page.click("svg.graph g.node[data-state=RequestVerification]")
    page.fill(".callback input[name=error]", "VerificationRejected")
    page.fill(".callback input[name=cause]", "the photos are of another car")
    page.click("button[data-callback=failure]")
    expect(page.locator("main .view")).to_have_attribute("data-execution-status", "FAILED")
    statuses = _statuses(page)
    assert statuses["RequestVerification"] == "caught" and statuses["Rejected"] == "failed"


def test_console_shows_a_distributed_map_run(page: Any, examples: Examples) -> None:
    arn = examples.start("spread", "spread", "spread-1", [1, 2, 3, 4])
    wait_status(examples.sfn, arn, "SUCCEEDED")  # one failure, tolerated
    statuses = _execution(page, examples, "spread")
    assert statuses["Spread"] == "succeeded" and statuses["Fine"] == "succeeded"
    row = page.locator("table.map-runs tbody tr")
    assert row.count() == 1 and row.get_attribute("data-status") == "SUCCEEDED"
    counts = dict(
        page.eval_on_selector_all(
            "table.map-runs td[data-count]", "cs => cs.map(c => [c.dataset.count, c.textContent])"
        )
    )
    assert counts == {"succeeded": "3", "failed": "1", "running": "0", "pending": "0", "total": "4"}


def test_console_filters_executions_by_a_machine_tag(page: Any, examples: Examples) -> None:
    # data_pipeline runs only "nightly" (other tests start none of it).
    examples.sfn.tag_resource(
        resourceArn=examples.machines["data_pipeline"], tags=[{"key": "team", "value": "data"}]
    )
    _open(page, examples, "/executions")
    assert len(_names(page)) > 1
    page.fill("input[name=tag]", "team=data")
    page.click("form.filters button[type=submit]")
    expect(page).to_have_url(re.compile(r"tag=team%3Ddata"))
    _settled(page)
    assert _names(page) == ["nightly"]
    machines = page.eval_on_selector_all(
        "table.executions tbody tr td:nth-child(2)", "cells => cells.map(c => c.textContent)"
    )
    assert machines == ["data_pipeline"]
    assert _counts(page)["ALL"] == "1"
    assert page.input_value("input[name=tag]") == "team=data"
    # A key alone matches any value; a value no machine has, nothing.
    _open(page, examples, "/executions?tag=team")
    assert _names(page) == ["nightly"]
    _open(page, examples, "/executions?tag=team%3Dwarehouse")
    assert page.locator("p.empty").count() == 1
    assert _counts(page)["ALL"] == "0"

"""The console's task inbox in headless Chromium, as three people (conftest.py says how).

A ``stepq dev --dev-identities`` of its own: the "acting as" picker sends
``X-Stepq-Dev-User``. jane asks for an expense to be approved (the walkthrough
machine of docs/PEOPLE.md: A->B needs Approve by the requester and by an
Executive); tom, an Executive, approves in the browser; mallory, nobody in it,
is offered nothing and refused when she forces it; jane's approval completes the task.
"""

from __future__ import annotations

import json
import re
import time
import urllib.request
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import pytest
from api.people_support import call, walkthrough
from api.server_support import client, module_server
from stepq.hosting.dev import DevServer

from browser.conftest import ROLE, screenshot, wait_entered

try:
    from playwright.sync_api import expect
except ImportError:  # the browser fixture skips (or under CI=true fails) with the reason
    expect = None


class Inbox:
    def __init__(self, dev: DevServer, machine: str, arn: str, task_id: str) -> None:
        self.dev, self.url, self.machine = dev, dev.url, machine
        self.arn, self.task_id = arn, task_id


def _first_task(dev: DevServer, arn: str) -> str:
    """The id of the request's first task, once it has opened (the requester reads it)."""
    deadline = time.monotonic() + 20
    while not (tasks := call(dev, "ListRequestTasks", {"executionArn": arn}, "jane")["tasks"]):
        assert time.monotonic() < deadline, f"no task opened for {arn}"
        time.sleep(0.05)
    return str(tasks[0]["taskId"])


def _audited(dev: DevServer, task_id: str, wanted: set[str]) -> None:
    """Wait until the request's audit trail (written through a queue) has these lines."""
    deadline = time.monotonic() + 20
    while True:
        trail = call(dev, "DescribeTask", {"taskId": task_id}, "jane")["audit"]
        if wanted <= {line["what"] for line in trail}:
            return
        assert time.monotonic() < deadline, f"the audit trail lacks {wanted}: {trail}"
        time.sleep(0.05)


@pytest.fixture(scope="module")
def inbox() -> Iterator[Inbox]:
    with module_server(dev_identities=True) as dev:
        call(dev, "CreateGroup", {"name": "Executives", "members": ["tom"]}, None)  # the operator
        sfn = client(dev)
        machine = sfn.create_state_machine(
            name="expense", definition=json.dumps(walkthrough()), roleArn=ROLE
        )["stateMachineArn"]
        expense = {"expense": {"amount": 240, "what": "team lunch"}}
        made = call(
            dev,
            "CreateRequest",
            {"stateMachineArn": machine, "name": "lunch-1", "input": json.dumps(expense)},
            "jane",
        )
        arn = made["executionArn"]
        yield Inbox(dev, machine, arn, _first_task(dev, arn))


@pytest.fixture
def person_page(browser: Any) -> Iterator[Any]:
    """A tab like conftest's ``page``, except that the server's 403 to a refused person is
    expected here (Chromium logs it as "Failed to load resource"): any other error fails."""
    tab = browser.new_page()
    tab.set_default_timeout(10_000)
    errors: list[str] = []
    tab.on("pageerror", lambda exc: errors.append(str(exc)))
    tab.on(
        "console",
        lambda msg: (
            msg.type == "error" and "status of 403" not in msg.text and errors.append(msg.text)
        ),
    )
    yield tab
    tab.close()
    assert not errors, f"the page logged errors: {errors}"


def _settled(page: Any) -> None:
    route = "#" + page.url.split("#", 1)[1]
    page.wait_for_selector(f'main[data-ready=true][data-route="{route}"]')


def _redrawn(page: Any, selector: str) -> None:
    """Click, then wait for the page drawn again (a button's call answers first)."""
    page.eval_on_selector("main .view", "view => { view.dataset.stale = 'yes'; }")
    page.click(selector)
    page.wait_for_selector("main[data-ready=true] .view:not([data-stale])")


def _act_as(page: Any, name: str) -> None:
    page.fill(".identity input[name=user]", name)
    _redrawn(page, "button[data-op=act-as]")
    page.wait_for_selector(f".whoami[data-who={name}]")


def _requirement(page: Any, transition: str, index: int) -> Any:
    return page.locator(f".transition[data-transition={transition}] tr[data-index='{index}']")


def test_console_inbox_works_a_task_as_three_people(person_page: Any, inbox: Inbox) -> None:
    page = person_page
    page.goto(f"{inbox.url}/#/tasks")
    _settled(page)
    assert "anyone can claim any name" in page.inner_text(".dev-warning")
    assert page.locator(".needs-identity").count() == 1  # no name yet: nothing listed
    assert page.locator("table.tasks").count() == 0

    # tom, an Executive: his open task, what he may do, then the task.
    _act_as(page, "tom")
    assert "Executives" in page.inner_text(".whoami")
    row = page.locator(f"table.tasks tr[data-task='{inbox.task_id}']")
    assert row.count() == 1 and row.get_attribute("data-status") == "OPEN"
    assert "Approve the expense" in row.inner_text() and "lunch-1" in row.inner_text()
    assert row.locator("td.my-actions").inner_text() == "Approve, Deny"
    screenshot(page, "inbox")
    row.locator("a", has_text="Approve the expense").click()
    _settled(page)
    assert page.url.endswith(f"#/task/{inbox.task_id}")
    assert json.loads(page.inner_text("pre.task-data")) == {"amount": 240, "what": "team lunch"}
    assert page.get_attribute("dd[data-requester]", "data-requester") == "jane"
    executives = _requirement(page, "toB", 1)
    assert executives.get_attribute("data-counted") == "0"
    assert "0/1" in executives.inner_text() and "group Executives" in executives.inner_text()
    buttons = page.eval_on_selector_all("button[data-act]", "bs => bs.map(b => b.dataset.act)")
    assert buttons == ["Approve", "Deny"]
    assert page.locator("button[data-op=claim]").count() == 1  # a target; nobody has it
    assert page.locator("button[data-op=unclaim]").count() == 0
    assert "token" not in page.inner_text("main").lower()
    page.fill(".task-actions textarea[name=comment]", "fine by me")
    _redrawn(page, "button[data-act=Approve]")
    expect(_requirement(page, "toB", 1)).to_have_attribute("data-counted", "1")
    assert _requirement(page, "toB", 1).get_attribute("data-status") == "DONE"
    assert _requirement(page, "toB", 0).get_attribute("data-status") == "ACTIVE"  # jane's
    taken = page.locator("table.task-actions-taken tr[data-by=tom]")
    assert taken.locator("td.comment").inner_text() == "fine by me"
    screenshot(page, "task")

    # mallory takes no part: no buttons, and a forced ActOnTask is refused.
    _act_as(page, "mallory")
    assert page.locator("button[data-act], button[data-op=claim]").count() == 0
    refusal = page.inner_text("[data-refused=AccessDeniedException]")
    assert "mallory takes no part" in refusal
    forced = page.evaluate(
        """async (taskId) => {
            const api = await import("/console/api.js");
            try {
                await api.call("Stepq.ActOnTask", { taskId, action: "Approve" });
                return "accepted";
            } catch (error) {
                return `${error.type}: ${error.message}`;
            }
        }""",
        inbox.task_id,
    )
    assert forced.startswith("AccessDeniedException") and "mallory" in forced
    task = call(inbox.dev, "DescribeTask", {"taskId": inbox.task_id}, "tom")
    assert [a["by"] for a in task["actions"]] == ["tom"]  # mallory's counted nowhere

    # jane, the requester: her approval completes the task (A -> B).
    _act_as(page, "jane")
    assert _requirement(page, "toB", 0).get_attribute("data-counted") == "0"
    _redrawn(page, "button[data-act=Approve]")
    expect(page.locator("main .view")).to_have_attribute("data-task-status", "COMPLETED")
    assert page.get_attribute(".transition-taken", "data-transition") == "toB"
    assert page.locator("button[data-act]").count() == 0
    wait_entered(client(inbox.dev), inbox.arn, "B")
    page.click("a.exec-link")
    expect(page).to_have_url(re.compile("#/execution/"))
    _settled(page)
    page.wait_for_selector("svg.graph g.node[data-state=B][data-status=waiting]")
    assert page.get_attribute("svg.graph g.node[data-state=A]", "data-status") == "succeeded"
    assert page.url.endswith(f"#/execution/{quote(inbox.arn, safe='')}")


def test_console_inbox_lists_done_tasks_with_the_all_toggle(person_page: Any, inbox: Inbox) -> None:
    page = person_page
    page.goto(f"{inbox.url}/#/tasks")
    _settled(page)
    _act_as(page, "tom")
    page.click(".counts a[data-filter=ALL]")
    expect(page).to_have_url(re.compile(r"#/tasks\?status=ALL$"))
    _settled(page)
    statuses = dict(
        page.eval_on_selector_all(
            "table.tasks tbody tr", "rows => rows.map(r => [r.dataset.task, r.dataset.status])"
        )
    )
    # Whichever test ran first, tom's task is listed; once done only under All.
    assert inbox.task_id in statuses
    if statuses[inbox.task_id] == "COMPLETED":
        page.click(".counts a[data-filter=OPEN]")
        expect(page).to_have_url(re.compile(r"#/tasks$"))
        _settled(page)
        assert page.locator(f"table.tasks tr[data-task='{inbox.task_id}']").count() == 0


@pytest.fixture(scope="module")
def plain() -> Iterator[DevServer]:
    """A ``stepq dev`` without --dev-identities: nobody to act as."""
    with module_server() as dev:
        yield dev


def test_console_inbox_without_dev_identities_says_what_is_needed(
    person_page: Any, plain: DevServer, inbox: Inbox
) -> None:
    assert call(inbox.dev, "Ping", {}, None)["devIdentities"] is True
    assert "devIdentities" not in call(plain, "Ping", {}, None)
    page = person_page
    page.goto(f"{plain.url}/#/tasks")
    _settled(page)
    assert page.locator(".identity input[name=user], .dev-warning").count() == 0
    assert "need an identity" in page.inner_text(".needs-identity")
    assert page.locator("table.tasks").count() == 0


def _attach(dev: DevServer, arn: str, text: str) -> None:
    """A text file on the request, as jane: AttachFile, the PUT, ConfirmAttachment."""
    data = text.encode()
    made = call(
        dev,
        "AttachFile",
        {"executionArn": arn, "name": "receipt.txt", "contentType": "text/plain"},
        "jane",
    )
    put = urllib.request.Request(made["uploadUrl"], data=data, method="PUT")
    for name, value in made.get("headers", {}).items():
        put.add_header(name, value)
    with urllib.request.urlopen(put, timeout=30) as response:
        assert response.status == 200
    ref = {"executionArn": arn, "attachmentId": made["attachmentId"]}
    assert call(dev, "ConfirmAttachment", ref, "jane")["size"] == len(data)


def test_console_inbox_claims_notes_delegates_and_unclaims(person_page: Any, inbox: Inbox) -> None:
    made = call(
        inbox.dev,
        "CreateRequest",
        {
            "stateMachineArn": inbox.machine,
            "name": "lunch-2",
            "input": json.dumps({"expense": {"amount": 12}}),
        },
        "jane",
    )
    task_id = _first_task(inbox.dev, made["executionArn"])
    _attach(inbox.dev, made["executionArn"], "lunch for 4: 12 EUR")
    page = person_page
    page.goto(f"{inbox.url}/#/task/{task_id}")
    _settled(page)
    _act_as(page, "tom")
    _redrawn(page, "button[data-op=claim]")
    expect(page.locator("dd[data-assignee]")).to_have_attribute("data-assignee", "tom")
    assert page.locator("button[data-op=claim]").count() == 0
    page.fill(".task-actions textarea[name=note]", "receipt is in the drawer")
    _redrawn(page, "button[data-op=note]")
    assert "receipt is in the drawer" in page.inner_text("table.notes")
    page.fill(".task-actions input[name=delegate-to]", "ann")
    _redrawn(page, "button[data-op=delegate]")
    assert "ann" in page.inner_text("table.delegations")
    _redrawn(page, "button[data-op=unclaim]")
    expect(page.locator("dd[data-assignee]")).to_have_attribute("data-assignee", "")
    # The attachment: a click asks GetAttachment for a download link (a bearer URL).
    assert page.locator("table.attachments a[data-download]").count() == 0
    page.click("table.attachments button[data-attachment]")
    href = page.get_attribute("table.attachments a[data-download]", "href")
    assert page.request.get(href).text() == "lunch for 4: 12 EUR"
    # The audit trail goes through a queue: the page drawn once it has arrived shows it.
    _audited(inbox.dev, task_id, {"ClaimTask", "AddNote", "DelegateTask", "UnclaimTask"})
    page.reload()
    _settled(page)
    kinds = page.eval_on_selector_all(
        "table.audit tbody tr", "rows => rows.map(r => r.dataset.what)"
    )
    assert {"FileAttached", "ClaimTask", "AddNote", "DelegateTask", "UnclaimTask"} <= set(kinds)


def test_console_attaches_a_file_from_the_task_page(person_page: Any, inbox: Inbox) -> None:
    made = call(
        inbox.dev,
        "CreateRequest",
        {
            "stateMachineArn": inbox.machine,
            "name": "lunch-3",
            "input": json.dumps({"expense": {"amount": 30}}),
        },
        "jane",
    )
    task_id = _first_task(inbox.dev, made["executionArn"])
    page = person_page
    page.goto(f"{inbox.url}/#/task/{task_id}")
    _settled(page)
    _act_as(page, "jane")  # the requester
    assert page.locator("table.attachments button[data-attachment]").count() == 0
    payload = b"taxi: 30 EUR\n"
    page.set_input_files(
        "input[name=attachment]",
        files=[{"name": "taxi.txt", "mimeType": "text/plain", "buffer": payload}],
    )
    _redrawn(page, "button[data-op=attach]")
    listed = page.locator("table.attachments tbody tr")
    expect(listed).to_have_count(1)
    assert "taxi.txt" in listed.inner_text() and "text/plain" in listed.inner_text()
    assert "jane" in listed.inner_text() and str(len(payload)) in listed.inner_text()
    # The server has it attached by jane, and its download link serves the bytes.
    request = call(inbox.dev, "DescribeRequest", {"executionArn": made["executionArn"]}, "jane")
    assert [(f["name"], f["by"], f["size"]) for f in request["attachments"]] == [
        ("taxi.txt", "jane", len(payload))
    ]
    page.click("table.attachments button[data-attachment]")
    href = page.get_attribute("table.attachments a[data-download]", "href")
    with urllib.request.urlopen(href, timeout=10) as response:
        assert response.read() == payload

"""A request's documents expire with its execution (retention on), on the memory
backend and on moto: its request document, human task and process-activity marks
live while the execution runs (however long: the daily renewal re-stamps them),
are kept R days after it finished, and are gone after R + W. On moto, every one
of them carries the table's TTL attribute (DynamoDB deletes it then).
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from stepq.backends.local_outbox import OutboxFolder
from stepq.clock import ManualClock
from stepq.core.people.model import HUMAN_TASK_RESOURCE, PROCESS_ACTIVITIES_RESOURCE
from stepq.runtime.open_tasks import waiting_state
from stepq.runtime.people.activities import MARKS
from stepq.runtime.people.directory import Directory
from stepq.runtime.people.documents import HTASK, REQUEST, task_id_for
from stepq.runtime.people.service import PeopleService
from stepq.runtime.retention import CLOCK_SKEW, SLACK, epoch
from stepq.runtime.signing import keys_of

R = 30  # days
DAY = timedelta(days=1)
NOTE = {"Type": "Note", "Text": "the request arrived"}
DEFINITION = {
    "StartAt": "Log",
    "States": {
        "Log": {
            "Type": "Task",
            "Resource": PROCESS_ACTIVITIES_RESOURCE,
            "Parameters": {"Activities": [NOTE]},
            "ResultPath": None,
            "Next": "Review",
        },
        "Review": {
            "Type": "Task",
            "Resource": HUMAN_TASK_RESOURCE,
            "Parameters": {
                "Title": "Approve the expense",
                "Transitions": [
                    {
                        "Name": "approved",
                        "Requires": [{"Action": "Approve", "By": {"Person": "tom"}}],
                    }
                ],
            },
            "ResultPath": "$.review",
            "End": True,
        },
    },
}
ARN = "arn:aws:states:us-east-1:111111111111:execution:m:r1"


def _docs(rt: Any, task_id: str) -> dict[str, bool]:
    """Which of the request's documents a reader finds."""
    return {
        REQUEST: rt.store.get_doc(REQUEST, ARN) is not None,
        MARKS: rt.store.get_doc(MARKS, ARN) is not None,
        HTASK: rt.store.get_doc(HTASK, task_id) is not None,
    }


@pytest.mark.parametrize("backend", ["memory", "moto"])
def test_a_requests_documents_live_while_it_runs_and_expire_after_it(
    embedded: Any, backend: str, tmp_path: Path
) -> None:
    clock = ManualClock()
    rt = embedded(
        {},
        backend=backend,
        clock=clock,
        retention_days=R,
        mailer=OutboxFolder(tmp_path / "outbox", clock),
    )
    Directory(rt.store).create("Executives", ["tom"])
    rt.deploy("m", DEFINITION)
    service = PeopleService(rt.store, rt.queues, rt.clock)
    service.create_request("jane", ARN, [], lambda: rt.start("m", {}, "r1"))
    rt.run_until_idle(fire_timers=False)
    state = waiting_state(rt.store, keys_of(rt.queues, rt.store), ARN)
    assert state is not None and state.tasks
    task_id = task_id_for(ARN, next(iter(state.tasks)))
    assert _docs(rt, task_id) == {REQUEST: True, MARKS: True, HTASK: True}

    # Waiting on a person far longer than R + W: the daily renewal keeps it all.
    started = clock.now()
    while clock.now() < started + timedelta(days=R) + SLACK + 10 * DAY:
        clock.advance(DAY.total_seconds())
        rt.scheduler.renew_expiries()
        assert all(_docs(rt, task_id).values()), clock.now()
    assert rt.store.get_execution(ARN).status == "RUNNING"
    assert service.describe_task(task_id, "tom")["status"] == "OPEN"

    assert service.act("tom", task_id, "Approve")["status"] == "COMPLETED"
    rt.run_until_idle(fire_timers=False)
    assert rt.store.get_execution(ARN).status == "SUCCEEDED"
    end = clock.now()

    if backend == "moto":  # each item carries the TTL attribute DynamoDB deletes it by
        expiries = _raw_expiries(rt)
        assert set(expiries) == {(REQUEST, ARN), (MARKS, ARN), (HTASK, task_id)}
        assert expiries[(HTASK, task_id)] == epoch(end + CLOCK_SKEW + timedelta(days=R) + SLACK)
        assert all(e > epoch(end + timedelta(days=R)) for e in expiries.values())

    clock.set(end + timedelta(days=R) - DAY)
    assert all(_docs(rt, task_id).values())
    assert service.describe_task(task_id, "jane")["status"] == "COMPLETED"
    clock.set(end + CLOCK_SKEW + timedelta(days=R) + SLACK + timedelta(seconds=1))
    assert _docs(rt, task_id) == {REQUEST: False, MARKS: False, HTASK: False}
    assert service.my_tasks("tom", "ALL") == []


def _raw_expiries(rt: Any) -> dict[tuple[str, str], int]:
    """(kind, key) -> expires_at of every document of an execution's kind in the table."""
    items = rt.store._client.scan(TableName=rt.store._table)["Items"]
    found = {}
    for item in items:
        kind = item["pk"]["S"].removeprefix("DOC#")
        if item["pk"]["S"].startswith("DOC#") and kind in (REQUEST, MARKS, HTASK):
            found[(kind, item["sk"]["S"])] = int(item["expires_at"]["N"])
    return found

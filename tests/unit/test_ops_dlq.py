"""``stepq ops dlq list|redrive`` on a deployment (moto, the settings path).

A malformed message is dead-lettered the way the orchestrator's consumer does
it; the listing shows it with its reason and never its body, and a redrive
puts the very same message (text, MAC, id) back on its queue.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from stepq.runtime.messages import EVENTS_QUEUE
from stepq.runtime.ports import Message
from stepq.runtime.signing import signed
from test_ops_support import (
    Deployment,
    as_json,
    moto_deployment,
    ok,
    one_red_line,
    stepq,
)


@pytest.fixture(scope="module")
def deployment() -> Iterator[Deployment]:
    yield from moto_deployment()


ARN = "arn:aws:states:us-east-1:111111111111:execution:orders:o-1"
TOKEN = "WyJhcm4iLCJ0YXNrIl0" + "x" * 20 + "." + "A" * 32  # shaped like a task token


def _dead_letter_malformed(deployment: Deployment, message_id: str) -> Any:
    """A signed events body without its event, through the orchestrator and dead-lettered
    with the reason the consumer gives (as the pump and the Lambda handler do)."""
    queues = signed(deployment.queues, deployment.store)
    body = {"v": 1, "id": message_id, "execution_id": ARN, "secret": TOKEN}
    queues.send(EVENTS_QUEUE, [Message(message_id, body)])
    received = [r for r in deployment.queues.receive(EVENTS_QUEUE) if r.message_id == message_id]
    result = deployment.orchestrator().handle_batch(received)
    [(dead, reason)] = result.dead
    deployment.queues.dead_letter(EVENTS_QUEUE, dead, f"{reason} (token {TOKEN})")
    return dead


def test_list_shows_each_message_with_its_reason_and_never_a_body_or_a_token(
    deployment: Deployment,
) -> None:
    _dead_letter_malformed(deployment, "bad-list")
    listing = as_json("ops", "dlq", "list", "events")
    [item] = [m for m in listing["messages"] if m["id"] == "bad-list"]
    assert item["queue"] == "events"
    assert item["execution_arn"] == ARN
    assert item["reason"].startswith("field 'event' is missing")
    assert "<redacted token>" in item["reason"] and TOKEN not in item["reason"]
    assert item["receive_count"] >= 1 and item["age_seconds"] >= 0
    lines = ok("ops", "dlq", "list")  # every DLQ: events, inbox, the task queues
    [line] = [line for line in lines if " bad-list " in line]
    assert line.startswith("events bad-list age=") and f"execution={ARN}" in line
    assert "reason=field 'event' is missing" in line
    assert all(TOKEN not in line and "secret" not in line for line in lines)
    assert lines[-1].startswith("listed=") and "queues=" in lines[-1]
    # Listing leaves the messages where they were, visible at once.
    assert deployment.queues.depth("events-dlq") >= 1
    assert any(h.message_id == "bad-list" for h in deployment.queues.hold("events-dlq", 10, 0))


def test_redrive_moves_the_same_message_back_and_a_dry_run_moves_nothing(
    deployment: Deployment,
) -> None:
    dead = _dead_letter_malformed(deployment, "bad-redrive")
    dry = ok("ops", "dlq", "redrive", "events", "--id", "bad-redrive", "--dry-run")
    assert dry == ["would move bad-redrive to events", "would-move=1"]
    assert any(
        m["id"] == "bad-redrive" for m in as_json("ops", "dlq", "list", "events")["messages"]
    )

    assert ok("ops", "dlq", "redrive", "events", "--id", "bad-redrive") == [
        "moved bad-redrive to events",
        "moved=1",
    ]
    assert all(m["id"] != "bad-redrive" for m in as_json("ops", "dlq", "list")["messages"])
    [back] = [r for r in deployment.queues.receive(EVENTS_QUEUE) if r.message_id == "bad-redrive"]
    assert back.raw == dead.raw  # the same text: its MAC still verifies, its id still dedups
    keys = signed(deployment.queues, deployment.store).keys
    assert keys.authentic(EVENTS_QUEUE, back)
    deployment.queues.delete(EVENTS_QUEUE, [back.receipt])


def test_redrive_all_moves_every_message(deployment: Deployment) -> None:
    for name in ("all-1", "all-2"):
        _dead_letter_malformed(deployment, name)
    report = as_json("ops", "dlq", "redrive", "events", "--all")
    assert {"all-1", "all-2"} <= set(report["moved"]) and report["missing"] == []
    assert deployment.queues.depth("events-dlq") == 0
    moved = {r.message_id for r in deployment.queues.receive(EVENTS_QUEUE)}
    assert {"all-1", "all-2"} <= moved


def test_mistakes_are_one_line(deployment: Deployment) -> None:
    result = stepq("ops", "dlq", "redrive", "events")
    assert result.exit_code == 2
    assert one_red_line(result.output) == "give --id ID (one or more) or --all"
    result = stepq("ops", "dlq", "redrive", "events", "--id", "nope")
    assert result.exit_code == 1
    assert one_red_line(result.output) == "not in events's dead-letter queue: nope"
    result = stepq("ops", "dlq", "list", "nosuch")
    assert result.exit_code == 1
    assert one_red_line(result.output).startswith("no dead-letter queue 'nosuch-dlq'")

"""The attacker: forges messages from what anyone who can read the queues sees.

Threat model (issue 9): someone who can send to and read any queue, but not
the table, must not move an execution. The attacker peeks at the queues and
sends, under its own message ids (so the checker can tell a forged message
applied: ``forged-accepted``), task results (TaskSucceeded, TaskFailed,
TaskTimedOut) for real task ids, TimerFired for real timers, stops, task
messages replayed with made-up input, and callback answers with tokens read
from a task message's carried snapshot.
"""

from __future__ import annotations

import contextlib
import json
from datetime import datetime
from typing import TYPE_CHECKING, Any

from stepq.core import events as ev
from stepq.runtime import codec
from stepq.runtime.messages import EVENTS_QUEUE, event_message

if TYPE_CHECKING:
    from stepq.testing.simulation.engine import Simulation


def forge(sim: Simulation) -> None:
    """Forge a message from what can be read on the queues (not the table)."""
    seen = []
    for name in [EVENTS_QUEUE, *sim.task_queues]:
        seen += [(name, raw) for raw, _ in sim.queues_inner.peek(name)]
    if not seen:
        return
    queue, raw = sim.rng.choice(seen)
    with contextlib.suppress(ValueError):
        body = json.loads(raw)
        if not isinstance(body, dict) or not isinstance(body.get("execution_id"), str):
            return
        forged_id = f"forged|{sim.seed}|{len(sim.observed.forged)}"
        arn = body["execution_id"]
        now = sim.clock.now()
        sim.observed.forged.add(forged_id)
        sim.trace.note("attack", forged_id, queue)
        if queue != EVENTS_QUEUE and sim.rng.random() < 0.3:
            # A task message replayed with made-up input under a new id.
            copy = dict(body, id=forged_id)
            copy["command"] = dict(body["command"], input={"forged": True, "tag": forged_id})
            sim.queues_inner.send_raw(queue, json.dumps(copy))
            return
        event: ev.Event | None = _stolen_token_answer(body, now)
        task_id = (body.get("command") or {}).get("task_id")
        fired = (body.get("event") or {}).get("timer_id")
        if event is not None and sim.rng.random() < 0.5:
            pass  # a callback answered with a token lifted from a carried snapshot
        elif isinstance(task_id, str):
            event = sim.rng.choice(
                [
                    ev.TaskSucceeded(task_id, {"forged": True}, now),
                    ev.TaskFailed(task_id, "Forged", "forged", now),
                    ev.TaskTimedOut(task_id, now),
                ]
            )
        elif isinstance(fired, str):
            event = ev.TimerFired(fired, now)
        else:
            event = ev.StopRequested(now, error="Forged", cause="forged stop")
        assert event is not None
        sim.queues_inner.send(EVENTS_QUEUE, [event_message(arn, event, forged_id)])


def _stolen_token_answer(body: dict[str, Any], now: datetime) -> ev.Event | None:
    """A task message that carries its commit's snapshot hands out the execution's
    outstanding callback tokens (and its token secret): answer one of them."""
    after = body.get("after")
    snapshot = after.get("snapshot") if isinstance(after, dict) else None
    if not isinstance(snapshot, dict) or not isinstance(snapshot.get("state"), dict):
        return None
    try:
        state = codec.decode_state(snapshot["state"])
    except Exception:
        return None
    for token in sorted(state.tokens):
        return ev.CallbackReceived(token, now, output={"forged": True})
    return None

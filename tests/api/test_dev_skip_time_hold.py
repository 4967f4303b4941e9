"""``stepq dev --skip-time``: while an API request is handled the clock stands still.

Skipped time jumps to the next timer whenever nothing is queued or running.
An API request is work the pumps cannot see: a start that has written its
first commit is still answering (a CreateRequest still writes its audit line)
when the runtime may look idle, and a jump then would fire timers "during"
the request (seen once in CI as a timeout before the request had finished).
Here a start is made slow on purpose, after its commit and sends, so the
scheduler has many ticks in the gap: with the hold the clock does not move;
without it (the control) it jumps to the Wait's end.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest
from stepq.hosting.dev import DevServer

from api.server_support import client, module_server

DEFINITION = {
    "StartAt": "Later",
    "States": {"Later": {"Type": "Wait", "Seconds": 3600, "End": True}},
}
ROLE = "arn:aws:iam::111111111111:role/stepq"


@pytest.fixture
def dev() -> Iterator[DevServer]:
    with module_server(skip_time=True) as server:
        yield server


def _start_slowly(dev: DevServer) -> tuple[datetime, datetime]:
    """Start an execution whose start lingers 0.5 s after it is written; the
    virtual time before the request, and at the end of the linger."""
    orchestrator = dev.runtime.orchestrator
    start, seen = orchestrator.begin, []

    def slow(*args: Any, **kwargs: Any) -> Any:
        begun = start(*args, **kwargs)
        time.sleep(0.5)  # 25 scheduler ticks at skipped time
        seen.append(dev.runtime.clock.now())
        return begun

    orchestrator.begin = slow  # type: ignore[method-assign]
    sfn = client(dev)
    machine = sfn.create_state_machine(
        name="later", definition=json.dumps(DEFINITION), roleArn=ROLE
    )["stateMachineArn"]
    before = dev.runtime.clock.now()
    sfn.start_execution(stateMachineArn=machine, input="{}")
    return before, seen[0]


def test_the_clock_stands_still_while_a_request_is_handled(dev: DevServer) -> None:
    before, during = _start_slowly(dev)
    assert during == before


def test_without_the_hold_the_clock_jumps_during_the_request(
    dev: DevServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The control: the hold taken away, the Wait's hour passes inside the request."""
    monkeypatch.setattr(dev.runtime, "working", contextlib.nullcontext)
    before, during = _start_slowly(dev)
    assert (during - before).total_seconds() >= 3600

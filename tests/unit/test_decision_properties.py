"""Property tests: the decision function is deterministic and replayable.

Hypothesis builds random state machines (Pass, Wait, Task with Retry/Catch,
Choice, Parallel, Map) and inputs; a task fails or succeeds as a pure
function of its input and attempt, so every run of one case is the same.
"""

from __future__ import annotations

import copy
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from stepq.core.interpreter import decide, replay
from stepq.core.machine import Machine
from stepq.hosting.local_runner import LocalRunner


class Flaky(Exception):
    pass


def flaky(event: Any, context: Any) -> Any:
    if (len(str(event)) + context.attempt) % 3 == 0:
        raise Flaky("unlucky")
    return {"seen": len(str(event))}


FUNCTIONS = {"flaky": flaky}
LAMBDA = "arn:aws:lambda:us-east-1:111111111111:function:flaky"


def _chain(kinds: list[str], depth: int) -> dict[str, Any]:
    """A scope whose states run in order; each kind becomes one (or a few) states."""
    states: dict[str, Any] = {}
    names = [f"S{i}" for i in range(len(kinds))] + ["Done"]
    for i, kind in enumerate(kinds):
        name, nxt = names[i], names[i + 1]
        if kind == "pass":
            states[name] = {
                "Type": "Pass",
                "Result": {"i": i},
                "ResultPath": f"$.r{i}",
                "Next": nxt,
            }
        elif kind == "wait":
            states[name] = {"Type": "Wait", "Seconds": 30 * (i + 1), "Next": nxt}
        elif kind == "task":
            states[name] = {
                "Type": "Task",
                "Resource": LAMBDA,
                "ResultPath": f"$.t{i}",
                "Retry": [
                    {
                        "ErrorEquals": ["Flaky"],
                        "MaxAttempts": 1,
                        "IntervalSeconds": 2,
                        "JitterStrategy": "FULL",
                    }
                ],
                "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": f"$.e{i}", "Next": nxt}],
                "Next": nxt,
            }
        elif kind == "choice":
            states[name] = {
                "Type": "Choice",
                "Choices": [{"Variable": "$.n", "NumericGreaterThan": i, "Next": nxt}],
                "Default": "Done",
            }
        elif kind == "parallel" and depth < 2:
            states[name] = {
                "Type": "Parallel",
                "Branches": [_chain(["pass", "task"], depth + 1), _chain(["wait"], depth + 1)],
                "ResultPath": f"$.p{i}",
                "Next": nxt,
            }
        elif kind == "map" and depth < 2:
            states[name] = {
                "Type": "Map",
                "ItemsPath": "$.items",
                "MaxConcurrency": i % 3,
                "ItemProcessor": _chain(["task", "pass"], depth + 1),
                "ResultPath": f"$.m{i}",
                "Next": nxt,
            }
        else:
            states[name] = {"Type": "Pass", "Next": nxt}
    states["Done"] = {"Type": "Succeed"}
    return {"StartAt": names[0], "States": states}


KINDS = st.sampled_from(["pass", "wait", "task", "choice", "parallel", "map"])
CASES = st.tuples(
    st.lists(KINDS, min_size=1, max_size=6),
    st.fixed_dictionaries(
        {"n": st.integers(-2, 8), "items": st.lists(st.integers(0, 99), max_size=4)}
    ),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(CASES)
def test_same_events_give_same_decisions(case: tuple[list[str], dict[str, Any]]) -> None:
    kinds, data = case
    machine = Machine(_chain(kinds, 0), name="prop")
    first = LocalRunner(FUNCTIONS).run(machine, data)
    second = LocalRunner(FUNCTIONS).run(machine, data)
    assert first.status == second.status
    assert first.history == second.history
    assert first.commands == second.commands


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(CASES)
def test_replaying_recorded_inbound_events_reproduces_history(
    case: tuple[list[str], dict[str, Any]],
) -> None:
    kinds, data = case
    machine = Machine(_chain(kinds, 0), name="prop")
    recorded = LocalRunner(FUNCTIONS).run(machine, data)
    state, history, commands = replay(machine, LocalRunner.initial_state(machine), recorded.inbound)
    assert history == recorded.history
    assert commands == recorded.commands
    assert (state.status, state.output) == (recorded.status, recorded.output)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(CASES)
def test_decide_never_modifies_the_state_it_is_given(
    case: tuple[list[str], dict[str, Any]],
) -> None:
    kinds, data = case
    machine = Machine(_chain(kinds, 0), name="prop")
    recorded = LocalRunner(FUNCTIONS).run(machine, data)
    state = LocalRunner.initial_state(machine)
    for event in recorded.inbound:
        before = copy.deepcopy(state)
        new_state, _ = decide(machine, state, event)
        assert state == before
        state = new_state
    assert state.status == recorded.status

"""What a state machine's ``type`` allows: EXPRESS machines run no jobs or callbacks.

Step Functions refuses, in an EXPRESS machine, Task resources that wait:
the ``.sync`` (run a job) and ``.waitForTaskToken`` (callback) patterns, and
activities. ``type_problems(definition, type)`` names each, with its path.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from stepq.errors import Problem

from .field_checks import Parts, pointer

STATE_MACHINE_TYPES = ("STANDARD", "EXPRESS")
_ACTIVITY = re.compile(r"^arn:[^:]+:states:[^:]*:[^:]*:activity:")


def type_problems(definition: Any, machine_type: str) -> list[Problem]:
    """Every Task an EXPRESS machine may not have (none for STANDARD)."""
    if machine_type != "EXPRESS":
        return []
    problems = []
    for parts, resource in _resources(definition, ()):
        if ".waitForTaskToken" in resource or re.search(r"\.sync(:\d+)?$", resource):
            pattern = ".waitForTaskToken" if ".waitForTaskToken" in resource else ".sync"
            problems.append(
                Problem(
                    pointer(parts),
                    f"Express state machines do not support the '{pattern}' "
                    "service integration pattern",
                )
            )
        elif _ACTIVITY.match(resource):
            problems.append(
                Problem(pointer(parts), "Express state machines do not support activities")
            )
    return problems


def _resources(block: Any, parts: Parts) -> Iterator[tuple[Parts, str]]:
    states = block.get("States") if isinstance(block, dict) else None
    if not isinstance(states, dict):
        return
    for name, state in states.items():
        if not isinstance(state, dict):
            continue
        sparts = (*parts, "States", name)
        if state.get("Type") == "Task" and isinstance(state.get("Resource"), str):
            yield (*sparts, "Resource"), state["Resource"]
        for field in ("ItemProcessor", "Iterator"):
            yield from _resources(state.get(field), (*sparts, field))
        branches = state.get("Branches")
        if isinstance(branches, list):
            for i, branch in enumerate(branches):
                yield from _resources(branch, (*sparts, "Branches", i))

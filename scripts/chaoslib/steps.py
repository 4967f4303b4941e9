"""The step functions of every example in one module, for one ``stepq worker``.

``stepq worker --functions`` takes one module, and ``load_functions`` keeps
only functions defined in it; each example's functions are re-exposed here
under their own names by thin wrappers (the same module serves the chaos
run's worker and its fault-free reference run, so error causes match).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from stepq.runtime.steps import StepFunction, load_functions

EXAMPLES = Path(__file__).resolve().parents[2] / "state_machine"
MACHINES = ("order_saga", "data_pipeline", "insurance_claim")


def _wrap(name: str, fn: StepFunction) -> StepFunction:
    def step(event: Any, context: Any) -> Any:
        return fn(event, context)

    step.__name__ = step.__qualname__ = name
    step.__module__ = __name__  # load_functions keeps only this module's functions
    return step


for _machine in MACHINES:
    for _name, _fn in load_functions(str(EXAMPLES / f"{_machine}.py")).items():
        globals()[_name] = _wrap(_name, _fn)

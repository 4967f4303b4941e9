"""What the state machine API tests share: definitions, a role, creating a machine."""

from __future__ import annotations

import json
from typing import Any

ROLE = "arn:aws:iam::111111111111:role/stepq-test"


def pass_machine(result: Any = "v1", wait: int = 0) -> str:
    """A machine whose output is ``result`` (after a Wait of ``wait`` seconds, if any)."""
    states: dict[str, Any] = {"Out": {"Type": "Pass", "Result": result, "End": True}}
    if wait:
        states["Hold"] = {"Type": "Wait", "Seconds": wait, "Next": "Out"}
    return json.dumps({"StartAt": "Hold" if wait else "Out", "States": states}, indent=2)


def create(sfn: Any, name: str = "orders", definition: str | None = None, **extra: Any) -> Any:
    return sfn.create_state_machine(
        name=name, definition=definition or pass_machine(), roleArn=ROLE, **extra
    )

"""Example step functions for the deployed worker (``STEPQ_FUNCTIONS=steps``).

Every public top-level function ``name(event, context)`` is the step function
``name``. Replace this module with your own, or point FunctionsModule at one.
"""

from __future__ import annotations

from typing import Any


def hello(event: Any, context: Any) -> dict[str, Any]:
    name = event.get("name", "world") if isinstance(event, dict) else "world"
    return {"greeting": f"Hello, {name}!"}

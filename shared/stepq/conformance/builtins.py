"""The seven built-in function behaviours conformance cases refer to.

Their errors carry the stack trace AWS recorded for the original handler
file, because some cases compare the full Cause text of a caught error.
"""

from __future__ import annotations

from typing import Any

from stepq.runtime.steps import SimulatedDelay, StepContext, StepFunction


class CustomException(Exception):
    pass


def _raising(exc: Exception, line: str, number: int = 2) -> Exception:
    exc.lambda_stack = [f'  File "/var/task/handler.py", line {number}, in handler\n    {line}\n']  # type: ignore[attr-defined]
    return exc


def identity(event: Any, context: StepContext) -> Any:
    return event


def echo(event: Any, context: StepContext) -> Any:
    return {"Return": "HelloWorld"}


def raise_exception(event: Any, context: StepContext) -> Any:
    raise _raising(
        Exception("Some exception was raised."), 'raise Exception("Some exception was raised.")'
    )


def raise_custom_exception(event: Any, context: StepContext) -> Any:
    raise _raising(CustomException(), "raise CustomException()", 9)


def sleep_60(event: Any, context: StepContext) -> Any:
    raise SimulatedDelay(60, event)


def return_bytes(event: Any, context: StepContext) -> Any:
    return b'"HelloWorld!"'


def large_output(event: Any, context: StepContext) -> Any:
    return ("a" * (257 * 1024)).encode("utf-8")


BEHAVIOURS: dict[str, StepFunction] = {
    "identity": identity,
    "echo": echo,
    "raise_exception": raise_exception,
    "raise_custom_exception": raise_custom_exception,
    "sleep_60": sleep_60,
    "return_bytes": return_bytes,
    "large_output": large_output,
}


def registry_for(functions: dict[str, str]) -> dict[str, StepFunction]:
    """Function name -> callable, for one case's ``functions`` map."""
    return {name: BEHAVIOURS[kind] for name, kind in functions.items()}

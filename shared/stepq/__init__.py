"""stepq: durable Amazon States Language workflows on SQS + DynamoDB.

The public API. Everything a user imports comes from here::

    from stepq import EmbeddedRuntime, StepContext, idempotent_step, StepqError

Names load on first use (PEP 562), so ``import stepq`` imports neither
boto3 nor moto, and the Lambda layer, which ships without the embedded
runtime, imports it as well. Modules below ``stepq`` are internal: their
names may move between releases; these stay.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from stepq.errors import (
    AlreadyExistsError,
    BlobError,
    BlobNotFoundError,
    ClaimCheckError,
    ConflictError,
    ConformanceCaseError,
    DefinitionError,
    ExecutionTimeoutError,
    FunctionsLoadError,
    IdempotencyConfigError,
    MalformedMessageError,
    MessageTooLargeError,
    MissingIdempotencyKeyError,
    MissingTableNameError,
    NotFoundError,
    Problem,
    QueueError,
    QueueNotFoundError,
    StepqError,
    StoreError,
)

if TYPE_CHECKING:  # what the lazy names below resolve to, for type checkers and IDEs
    from stepq.core.definition import StateMachine, find_problems, load_definition
    from stepq.core.machine import Machine
    from stepq.hosting.embedded import EmbeddedRuntime
    from stepq.hosting.local_runner import ExecutionResult, LocalRunner
    from stepq.idempotency import dynamodb_persistence, idempotent_step, stepq_table_persistence
    from stepq.runtime.client import Client
    from stepq.runtime.ports import ExecutionHeader
    from stepq.runtime.steps import StepContext, StepFunction, load_functions

__version__ = "0.1.0"

# name -> module that defines it; imported on first access.
_LAZY: dict[str, str] = {
    # running executions
    "EmbeddedRuntime": "stepq.hosting.embedded",
    "LocalRunner": "stepq.hosting.local_runner",
    "ExecutionResult": "stepq.hosting.local_runner",
    "Client": "stepq.runtime.client",
    "ExecutionHeader": "stepq.runtime.ports",
    # definitions
    "load_definition": "stepq.core.definition",
    "find_problems": "stepq.core.definition",
    "StateMachine": "stepq.core.definition",
    "Machine": "stepq.core.machine",
    # writing steps
    "StepContext": "stepq.runtime.steps",
    "StepFunction": "stepq.runtime.steps",
    "load_functions": "stepq.runtime.steps",
    "idempotent_step": "stepq.idempotency",
    "stepq_table_persistence": "stepq.idempotency",
    "dynamodb_persistence": "stepq.idempotency",
}

__all__ = [
    "AlreadyExistsError",
    "BlobError",
    "BlobNotFoundError",
    "ClaimCheckError",
    "Client",
    "ConflictError",
    "ConformanceCaseError",
    "DefinitionError",
    "EmbeddedRuntime",
    "ExecutionHeader",
    "ExecutionResult",
    "ExecutionTimeoutError",
    "FunctionsLoadError",
    "IdempotencyConfigError",
    "LocalRunner",
    "Machine",
    "MalformedMessageError",
    "MessageTooLargeError",
    "MissingIdempotencyKeyError",
    "MissingTableNameError",
    "NotFoundError",
    "Problem",
    "QueueError",
    "QueueNotFoundError",
    "StateMachine",
    "StepContext",
    "StepFunction",
    "StepqError",
    "StoreError",
    "dynamodb_persistence",
    "find_problems",
    "idempotent_step",
    "load_definition",
    "load_functions",
    "stepq_table_persistence",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'stepq' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))

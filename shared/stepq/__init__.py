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
    AlreadyExistsError as AlreadyExistsError,
)
from stepq.errors import (
    BlobError as BlobError,
)
from stepq.errors import (
    BlobNotFoundError as BlobNotFoundError,
)
from stepq.errors import (
    ClaimCheckError as ClaimCheckError,
)
from stepq.errors import (
    ConflictError as ConflictError,
)
from stepq.errors import (
    ConformanceCaseError as ConformanceCaseError,
)
from stepq.errors import (
    DefinitionError as DefinitionError,
)
from stepq.errors import (
    ExecutionAlreadyExistsError as ExecutionAlreadyExistsError,
)
from stepq.errors import (
    ExecutionTimeoutError as ExecutionTimeoutError,
)
from stepq.errors import (
    FunctionsLoadError as FunctionsLoadError,
)
from stepq.errors import (
    IdempotencyConfigError as IdempotencyConfigError,
)
from stepq.errors import (
    MalformedMessageError as MalformedMessageError,
)
from stepq.errors import (
    MessageTooLargeError as MessageTooLargeError,
)
from stepq.errors import (
    MissingIdempotencyKeyError as MissingIdempotencyKeyError,
)
from stepq.errors import (
    MissingTableNameError as MissingTableNameError,
)
from stepq.errors import (
    NotFoundError as NotFoundError,
)
from stepq.errors import (
    NotRedrivableError as NotRedrivableError,
)
from stepq.errors import (
    Problem as Problem,
)
from stepq.errors import (
    QueueError as QueueError,
)
from stepq.errors import (
    QueueNotFoundError as QueueNotFoundError,
)
from stepq.errors import (
    StepqError as StepqError,
)
from stepq.errors import (
    StoreError as StoreError,
)
from stepq.errors import __all__ as _ERRORS

if TYPE_CHECKING:  # what the lazy names below resolve to, for type checkers and IDEs
    from stepq.backends.aws.connect import client as client
    from stepq.backends.aws.connect import sign_for_execute_api as sign_for_execute_api
    from stepq.core.definition import (
        StateMachine as StateMachine,
    )
    from stepq.core.definition import (
        find_problems as find_problems,
    )
    from stepq.core.definition import (
        load_definition as load_definition,
    )
    from stepq.core.machine import Machine as Machine
    from stepq.hosting.embedded import EmbeddedRuntime as EmbeddedRuntime
    from stepq.hosting.local_runner import (
        ExecutionResult as ExecutionResult,
    )
    from stepq.hosting.local_runner import (
        LocalRunner as LocalRunner,
    )
    from stepq.idempotency import (
        dynamodb_persistence as dynamodb_persistence,
    )
    from stepq.idempotency import (
        idempotent_step as idempotent_step,
    )
    from stepq.idempotency import (
        stepq_table_persistence as stepq_table_persistence,
    )
    from stepq.runtime.client import Client as Client
    from stepq.runtime.ports import ExecutionHeader as ExecutionHeader
    from stepq.runtime.steps import (
        StepContext as StepContext,
    )
    from stepq.runtime.steps import (
        StepFunction as StepFunction,
    )
    from stepq.runtime.steps import (
        load_functions as load_functions,
    )

__version__ = "0.1.0"

# name -> module that defines it; imported on first access.
_LAZY: dict[str, str] = {
    # running executions
    "EmbeddedRuntime": "stepq.hosting.embedded",
    "LocalRunner": "stepq.hosting.local_runner",
    "ExecutionResult": "stepq.hosting.local_runner",
    "Client": "stepq.runtime.client",
    "ExecutionHeader": "stepq.runtime.ports",
    # a deployed API (API Gateway, IAM auth): boto3's client signed for execute-api
    "client": "stepq.backends.aws.connect",
    "sign_for_execute_api": "stepq.backends.aws.connect",
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

# The errors (stepq.errors.__all__) and the lazy names: one list each, so they cannot drift.
__all__ = sorted([*_ERRORS, *_LAZY])


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'stepq' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))

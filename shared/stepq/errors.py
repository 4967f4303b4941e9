"""Every error stepq raises on purpose: one base class, a branch per concern.

::

    StepqError
    ├── DefinitionError            an ASL definition was refused (``problems``: every reason)
    │   └── ProcessDefinitionError a process definition (docs/PEOPLE.md) was refused
    ├── ConformanceCaseError       a conformance case file could not be read
    ├── FunctionsLoadError         a ``--functions`` module could not be imported
    ├── MalformedMessageError      a message that can never be processed (-> dead-letter queue)
    ├── ExecutionTimeoutError      an execution did not finish within a caller's wait
    ├── NotRedrivableError         RedriveExecution refused (the reason, in Step Functions' words)
    ├── TaskNotOpenError           a task token names no waiting task (``code``: Step Functions')
    ├── PeopleError                a people operation (docs/PEOPLE.md) cannot be done
    │   ├── HumanTaskNotFoundError no human task of that id
    │   └── ActionRefusedError     the rules refused it (``reason``; the API's 403)
    ├── IdempotencyConfigError     ``idempotent_step`` set up wrongly (also ``ValueError``)
    │   ├── MissingIdempotencyKeyError
    │   └── MissingTableNameError
    ├── StoreError                 the table failed
    │   ├── ConflictError          a conditional write lost (reload and decide again)
    │   ├── AlreadyExistsError     a unique item exists already
    │   └── NotFoundError          no such execution, machine or commit
    ├── QueueError                 a queue call failed (``code``: the backend's code)
    │   ├── QueueNotFoundError
    │   ├── MessageTooLargeError   over SQS's limit and no blob store (also ``ValueError``)
    │   └── ClaimCheckError        a claim-checked body could not be stored or read just now
    ├── BlobError                  the blob store failed (``code``: the backend's code)
    │   └── BlobNotFoundError      no blob or bucket behind a ref
    ├── MailError                  an e-mail was not sent (``code``: the backend's code)
    └── SigningError               no AWS credentials to sign a request to a deployed API

Adapters turn library exceptions (botocore's ``ClientError`` and friends)
into these, so callers never depend on a backend's own error types.

Not here, on purpose: ``stepq.core.failures.StatesFailure`` (an ASL error such
as ``States.Runtime`` that a state machine can catch: data, not a fault of
stepq), ``stepq.backends.aws.lambda_invoke.InvokeFailed`` (a step function's
own failure, named after its Step Functions error) and
``stepq.core.execution.ResultsNeeded`` (the core asking the applier for a wide
Map's outputs before it decides again: a request, not a failure).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "AlreadyExistsError",
    "BlobError",
    "BlobNotFoundError",
    "ClaimCheckError",
    "ConflictError",
    "ConformanceCaseError",
    "DefinitionError",
    "ExecutionAlreadyExistsError",
    "ExecutionTimeoutError",
    "FunctionsLoadError",
    "IdempotencyConfigError",
    "MalformedMessageError",
    "MessageTooLargeError",
    "MissingIdempotencyKeyError",
    "MissingTableNameError",
    "NotFoundError",
    "NotRedrivableError",
    "Problem",
    "QueueError",
    "QueueNotFoundError",
    "StepqError",
    "StoreError",
]


class StepqError(Exception):
    """Base class of every error stepq raises on purpose."""


# --- definitions -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with a definition, located by a JSON Pointer-like path."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


class DefinitionError(StepqError):
    """An ASL definition was refused; ``problems`` lists every reason."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = list(problems)
        lines = "\n".join(f"  {p}" for p in self.problems)
        super().__init__(
            f"invalid state machine definition ({len(self.problems)} problems):\n{lines}"
        )


class ProcessDefinitionError(DefinitionError):
    """A process definition (states and transitions, compiled to ASL) was refused;
    ``problems`` lists every reason, each at a dotted path such as
    ``states.Review.transitions.0.to``. Not in ``__all__`` (``stepq.__all__`` is
    pinned, and the compiler is not public yet): catch ``DefinitionError``."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__(problems)
        lines = "\n".join(f"  {p}" for p in self.problems)
        self.args = (f"invalid process definition ({len(self.problems)} problems):\n{lines}",)


class ConformanceCaseError(StepqError):
    """A conformance case file could not be read or understood."""


# --- steps and executions ----------------------------------------------------------


class FunctionsLoadError(StepqError):
    """The ``--functions`` module (or ``STEPQ_FUNCTIONS``) could not be imported."""


class MalformedMessageError(StepqError):
    """A message that can never be processed; it goes to the dead-letter queue with this reason."""


class ExecutionTimeoutError(StepqError):
    """An execution did not finish within the wall-clock budget the caller gave."""


class NotRedrivableError(StepqError):
    """A redrive was refused: the execution is running, succeeded, or cannot be redriven."""


class TaskNotOpenError(StepqError):
    """A callback's token names no task that waits for it.

    ``code`` is Step Functions' error: InvalidToken, TaskDoesNotExist or TaskTimedOut.
    """

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


class PeopleError(StepqError):
    """A people operation (docs/PEOPLE.md) that cannot be done as asked."""


class HumanTaskNotFoundError(PeopleError):
    """No human task has that id."""


class ActionRefusedError(PeopleError):
    """The rules refused what a person asked (not a target, the task completed...):
    the API's AccessDeniedException (403). ``reason`` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class IdempotencyConfigError(StepqError, ValueError):
    """``idempotent_step`` cannot record results as configured."""


class MissingIdempotencyKeyError(IdempotencyConfigError):
    """The step was called without a ``context.idempotency_key`` to record its result under."""


class MissingTableNameError(IdempotencyConfigError):
    """``stepq_table_persistence`` got no table name and ``STEPQ_TABLE`` is not set."""


# --- the store ---------------------------------------------------------------------


class StoreError(StepqError):
    """The store failed in a way the caller cannot fix by retrying the same call."""


class ConflictError(StoreError):
    """A conditional write lost: someone else committed first (reload and re-decide)."""


class AlreadyExistsError(StoreError):
    """An item that must be unique exists already (execution name, timer, idempotency key)."""


class ExecutionAlreadyExistsError(AlreadyExistsError):
    """StartExecution named an execution that exists with another input or has
    finished (Step Functions' ExecutionAlreadyExists). The same name and input
    while it runs is not an error: the start is answered with its ARN."""


class NotFoundError(StoreError):
    """The named execution, machine or commit does not exist."""


# --- queues ------------------------------------------------------------------------


class QueueError(StepqError):
    """A queue call failed (after the retries botocore and the adapter make).

    ``code`` is the backend's error code when there is one
    (e.g. ``AWS.SimpleQueueService.NonExistentQueue``), else ``""``.
    """

    def __init__(self, message: str, code: str = "") -> None:
        super().__init__(message)
        self.code = code


class QueueNotFoundError(QueueError):
    """The named queue does not exist (call ``ensure`` first)."""


class MessageTooLargeError(QueueError, ValueError):
    """A message over SQS's size limit, and no blob store to claim-check it in.

    Also a ``ValueError``: like every other refused message, it is raised
    before anything is sent.
    """


class ClaimCheckError(QueueError):
    """A claim-checked body could not be stored or read just now (S3 throttling,
    network, ...): the send failed, or the message is left for redelivery."""


# --- blobs -------------------------------------------------------------------------


class BlobError(StepqError):
    """A blob could not be stored or read. ``code`` is the backend's code, or ``""``."""

    def __init__(self, message: str, code: str = "") -> None:
        super().__init__(message)
        self.code = code


class BlobNotFoundError(BlobError):
    """No blob (or no bucket) behind the ref.

    Not a ``NotFoundError``: that means "no such execution". A store that
    cannot find a blob it wrote reports a ``StoreError`` (the item is damaged).
    """


# --- mail --------------------------------------------------------------------------


class MailError(StepqError):
    """An e-mail was not sent (SES refused it, the outbox folder is not writable).
    ``code`` is the backend's code, or ``""``."""

    def __init__(self, message: str, code: str = "") -> None:
        super().__init__(message)
        self.code = code


# --- signing -----------------------------------------------------------------------


class SigningError(StepqError):
    """A request to a deployed API could not be signed: no AWS credentials were found,
    or they could not be read (an expired SSO session). The message never holds them."""

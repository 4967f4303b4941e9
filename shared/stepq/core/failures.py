"""Errors that happen *inside* an execution, as Step Functions names them.

A ``StatesFailure`` is raised by any part of the core (paths, intrinsics,
JSONata, state handlers) and is turned by the interpreter into the state's
error outcome, where Retry and Catch may handle it.
"""

from __future__ import annotations

ALL = "States.ALL"
TASK_FAILED = "States.TaskFailed"
RUNTIME = "States.Runtime"
TIMEOUT = "States.Timeout"
HEARTBEAT_TIMEOUT = "States.HeartbeatTimeout"
DATA_LIMIT_EXCEEDED = "States.DataLimitExceeded"
RESULT_PATH_MATCH_FAILURE = "States.ResultPathMatchFailure"
PARAMETER_PATH_FAILURE = "States.ParameterPathFailure"
INTRINSIC_FAILURE = "States.IntrinsicFailure"
QUERY_EVALUATION_ERROR = "States.QueryEvaluationError"
BRANCH_FAILED = "States.BranchFailed"
NO_CHOICE_MATCHED = "States.NoChoiceMatched"
EXCEEDED_TOLERATED_FAILURE = "States.ExceedToleratedFailureThreshold"
ITEM_READER_FAILED = "States.ItemReaderFailed"
PERMISSIONS = "States.Permissions"


class StatesFailure(Exception):
    """An ASL-level error with Step Functions' error name and cause text.

    ``state_scoped`` failures get the prefix AWS adds for errors raised while
    evaluating a state ("An error occurred while executing the state 'X'
    (entered at the event id #N). "); the raiser supplies only the rest.
    """

    def __init__(self, error: str, cause: str | None = None, *, state_scoped: bool = False) -> None:
        super().__init__(f"{error}: {cause}")
        self.error = error
        self.cause = cause
        self.state_scoped = state_scoped


def runtime_error(cause: str) -> StatesFailure:
    """A ``States.Runtime`` failure scoped to the current state."""
    return StatesFailure(RUNTIME, cause, state_scoped=True)

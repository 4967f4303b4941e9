"""What goes in and out of the decision function.

Inbound events are facts from the outside world (start, a task's result, a
timer firing, a callback, a stop request); each carries the instant it is
decided at, so the core never reads a clock. Commands are what the host must
do after committing the history events a decision appended.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

# --- inbound events -------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StartExecution:
    input: Any
    at: datetime


@dataclass(frozen=True, slots=True)
class TaskSucceeded:
    task_id: str
    output: Any
    at: datetime


@dataclass(frozen=True, slots=True)
class TaskFailed:
    task_id: str
    error: str | None
    cause: str | None
    at: datetime


@dataclass(frozen=True, slots=True)
class TaskTimedOut:
    """The host saw no result (``heartbeat=False``) or no heartbeat in time."""

    task_id: str
    at: datetime
    heartbeat: bool = False


@dataclass(frozen=True, slots=True)
class TaskHeartbeat:
    """SendTaskHeartbeat: the task is alive; its heartbeat deadline moves on.

    From outside (a ``.waitForTaskToken`` callback) it carries the ``token``,
    which must verify, and ``task_id`` is what ``parse_token`` read from it. A
    host-internal heartbeat (a worker running the step) may name ``task_id``
    alone.
    """

    task_id: str
    at: datetime
    token: str | None = None


@dataclass(frozen=True, slots=True)
class ActivityTaken:
    """GetActivityTask handed an activity's task to a worker (``ActivityStarted``).

    ``token`` must verify and name ``task_id``, as a heartbeat's does.
    """

    task_id: str
    at: datetime
    token: str
    worker: str | None = None


@dataclass(frozen=True, slots=True)
class TimerFired:
    timer_id: str
    at: datetime


@dataclass(frozen=True, slots=True)
class CallbackReceived:
    """SendTaskSuccess / SendTaskFailure for a ``.waitForTaskToken`` task.

    ``via_inbox``: sent by the people inbox (``runtime/people``) after it checked
    who acted; a human task takes no other callback (docs/PEOPLE.md). Its
    ``audit`` lines (``[{who, what, taskId?, detail?}]``: the completing action
    and ``TaskCompleted``) are recorded in the commit that resumes the task, so
    none is lost to a finished execution; other callbacks' are ignored.
    """

    token: str
    at: datetime
    output: Any = None
    error: str | None = None
    cause: str | None = None
    failed: bool = False
    via_inbox: bool = False
    audit: Any = None


@dataclass(frozen=True, slots=True)
class StopRequested:
    """StopExecution (ABORTED); with ``fail`` the host ends it FAILED instead
    (a message of the execution could not be processed: a poison message)."""

    at: datetime
    error: str | None = None
    cause: str | None = None
    fail: bool = False


@dataclass(frozen=True, slots=True)
class RedriveRequested:
    """RedriveExecution: run again what a FAILED, ABORTED or TIMED_OUT execution left
    unfinished. ``count`` is the redrive this one makes (1 for the first): a request
    decided already, or overtaken by another, decides nothing."""

    at: datetime
    count: int


@dataclass(frozen=True, slots=True)
class MapRunUpdated:
    """UpdateMapRun: new limits for a running Distributed Map's run (None: as they were)."""

    map_run_arn: str
    at: datetime
    max_concurrency: int | None = None
    tolerated_failure_count: int | None = None
    tolerated_failure_percentage: float | None = None


@dataclass(frozen=True, slots=True)
class AuditRecorded:
    """A line of a request's audit trail (docs/PEOPLE.md): who did what, on which
    human task. A running execution appends it to its history (a
    ``RequestAuditRecorded`` event) and changes nothing else; a finished one
    decides nothing."""

    at: datetime
    who: str
    what: str
    task_id: str | None = None
    detail: Any = None


@dataclass(frozen=True, slots=True)
class ReminderDue:
    """A human task's reminder ``index`` fell due (a durable timer the people runner
    put when the task opened; docs/PEOPLE.md, "Reminders"). ``task_id`` is the
    RunTask's. While the execution still waits on that task, the core issues a
    ``RunTask`` for ``REMINDER_RESOURCE`` owned by no frame, and records nothing
    else; otherwise it decides nothing."""

    at: datetime
    task_id: str
    index: int


@dataclass(frozen=True, slots=True)
class AssignmentNoticeDue:
    """A human task was (or was about to be) assigned or delegated to ``to``: a
    durable timer due at once, put before the task document's write (docs/PEOPLE.md,
    "Assignment notifications"). ``task_id`` is the RunTask's; ``kind`` (``assign``
    or ``delegate``) and ``index`` name the entry of the task's assignment or
    delegation log, ``rev`` the document revision that write makes. While the
    execution still waits on the task, the core issues a ``RunTask`` for
    ``NOTICE_RESOURCE`` owned by no frame, and records nothing else."""

    at: datetime
    task_id: str
    kind: str
    index: int
    to: str
    rev: int


Event = (
    StartExecution
    | TaskSucceeded
    | TaskFailed
    | TaskTimedOut
    | TaskHeartbeat
    | ActivityTaken
    | TimerFired
    | CallbackReceived
    | StopRequested
    | RedriveRequested
    | MapRunUpdated
    | AuditRecorded
    | ReminderDue
    | AssignmentNoticeDue
)

# --- commands -------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RunTask:
    """Invoke a step. ``idempotency_key`` is the same on every redelivery.

    ``function_name`` is the bare name the step is registered under;
    ``qualifier`` the version or alias the Task names (``function:NAME:prod``),
    for a directly invoked Lambda function (None: unqualified, ``$LATEST``).
    """

    task_id: str
    resource: str
    function_name: str | None
    input: Any
    attempt: int
    idempotency_key: str
    timeout_seconds: int | None = None
    heartbeat_seconds: int | None = None
    token: str | None = None
    qualifier: str | None = None


@dataclass(frozen=True, slots=True)
class StartTimer:
    timer_id: str
    fire_at: datetime


@dataclass(frozen=True, slots=True)
class ScheduleHeartbeatCheck:
    """Deliver ``TaskTimedOut(task_id, fire_at, heartbeat=True)`` at ``fire_at``.

    Sent for each heartbeat that moved a task's deadline on. ``beat`` counts
    the task's heartbeats (1, 2, ...), so each check can have its own
    deterministic message id; a check the next heartbeat overtook is ignored.
    """

    task_id: str
    fire_at: datetime
    beat: int


@dataclass(frozen=True, slots=True)
class CancelTask:
    """A task whose result is no longer wanted (its branch was aborted)."""

    task_id: str


@dataclass(frozen=True, slots=True)
class FinishExecution:
    status: str
    output: Any = None
    error: str | None = None
    cause: str | None = None


Command = RunTask | StartTimer | ScheduleHeartbeatCheck | CancelTask | FinishExecution

# --- history --------------------------------------------------------------


@dataclass(slots=True)
class HistoryEvent:
    """One entry of the audit trail, named as Step Functions names it."""

    id: int
    type: str
    timestamp: datetime
    previous_id: int
    details: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "type": self.type,
            "timestamp": self.timestamp.isoformat(),
            "previousEventId": self.previous_id,
            "details": self.details,
        }


@dataclass(slots=True)
class Decision:
    """What one call of the decision function produced."""

    events: list[HistoryEvent]
    commands: list[Command]

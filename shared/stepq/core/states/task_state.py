"""Task: run a step somewhere else and wait for its result.

Resource forms: a Lambda function ARN (the effective input is the event),
``arn:aws:states:::lambda:invoke`` (Parameters hold FunctionName and Payload;
the result is Lambda's invoke envelope), any other ARN (handed to the host
as is), each optionally ``.waitForTaskToken`` (the host's own result is only
an acknowledgement; a callback carrying the token finishes the task), and an
activity ARN (``arn:aws:states:REGION:ACCOUNT:activity:NAME``): a callback task
whose token and input a worker takes with GetActivityTask; its history events
are ``Activity*``, as Step Functions records them: ``ActivityStarted`` (with
the worker's name) when a worker takes the task (``ActivityTaken``), or just
before its outcome if the callback overtook that news.
"""

from __future__ import annotations

import contextlib
import json
import re
import uuid
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from stepq.core import dataflow
from stepq.core.events import RunTask, ScheduleHeartbeatCheck
from stepq.core.failures import HEARTBEAT_TIMEOUT, TIMEOUT, runtime_error
from stepq.core.people.model import HUMAN_TASK_RESOURCE
from stepq.core.states.common import Launching, effective_input, finish_with_result
from stepq.core.tokens import make_token

if TYPE_CHECKING:
    from stepq.core.execution import Frame
    from stepq.core.states.context import RunContext

_LAMBDA_ARN = re.compile(r"^arn:aws[\w-]*:lambda:[^:]*:[^:]*:function:([^:]+)(?::([^:]+))?$")
# Lambda's other FunctionName forms (Invoke's NamespacedFunctionName): NAME and
# the partial ARN ACCOUNT:function:NAME, each optionally with :VERSION or :ALIAS.
_LAMBDA_NAME = re.compile(
    r"^(?:arn:(?:aws[a-zA-Z-]*)?:lambda:)?(?:(?:eusc-)?[a-z]{2}(?:-gov|-iso[a-z]?)?-[a-z]+-\d:)?"
    r"(?:\d{12}:)?(?:function:)?([a-zA-Z0-9_.-]+)(?::(\$LATEST(?:\.PUBLISHED)?|[a-zA-Z0-9_-]+))?$"
)
_ACTIVITY_ARN = re.compile(r"^arn:aws[\w-]*:states:[a-z0-9-]+:\d{12}:activity:([^:]+)$")
_LAMBDA_INVOKE = re.compile(r"^arn:aws[\w-]*:states:::lambda:invoke(\.waitForTaskToken)?$")
WAIT_FOR_TOKEN = ".waitForTaskToken"
# Frame scratch kept for a task with HeartbeatSeconds: the seconds, the heartbeats
# seen and the current deadline (ISO text).
_HEARTBEAT_KEYS = ("heartbeat", "beat", "heartbeat_deadline")


def split_function_name(name_or_arn: Any) -> tuple[str | None, str | None]:
    """A Lambda function's ARN, partial ARN or name -> (bare name, version or alias).

    ``arn:aws:lambda:REGION:ACCOUNT:function:charge:prod``, ``charge:prod`` and
    ``ACCOUNT:function:charge:prod`` -> ``("charge", "prod")``; unqualified ->
    ``("charge", None)``. Steps are registered (and routed) by the bare name;
    the qualifier is what a direct Lambda invoke runs. Anything else is not a
    Lambda function name: ``(name_or_arn, None)``, so it stays not found.
    """
    if not isinstance(name_or_arn, str):
        return None, None
    match = _LAMBDA_ARN.match(name_or_arn) or _LAMBDA_NAME.match(name_or_arn)
    return (match.group(1), match.group(2)) if match else (name_or_arn, None)


def activity_name(resource: Any) -> str | None:
    """The activity a Task's Resource names (an activity ARN), else None."""
    match = _ACTIVITY_ARN.match(resource) if isinstance(resource, str) else None
    return match.group(1) if match else None


def function_name(name_or_arn: Any) -> str | None:
    return split_function_name(name_or_arn)[0]


def lambda_envelope(payload: Any, request_id: str, date: str) -> dict[str, Any]:
    """What ``lambda:invoke`` returns: Lambda's Invoke response, as Step Functions shapes it."""
    length = str(len(json.dumps(payload).encode()))
    return {
        "ExecutedVersion": "$LATEST",
        "Payload": payload,
        "SdkHttpMetadata": {
            "AllHttpHeaders": {
                "X-Amz-Executed-Version": ["$LATEST"],
                "x-amzn-Remapped-Content-Length": ["0"],
                "Connection": ["keep-alive"],
                "x-amzn-RequestId": [request_id],
                "Content-Length": [length],
                "Date": [date],
                "X-Amzn-Trace-Id": [f"Root={request_id}"],
                "Content-Type": ["application/json"],
            },
            "HttpHeaders": {
                "Connection": "keep-alive",
                "Content-Length": length,
                "Content-Type": "application/json",
                "Date": date,
                "X-Amz-Executed-Version": "$LATEST",
                "x-amzn-Remapped-Content-Length": "0",
                "x-amzn-RequestId": request_id,
                "X-Amzn-Trace-Id": f"Root={request_id}",
            },
            "HttpStatusCode": 200,
        },
        "SdkResponseMetadata": {"RequestId": request_id},
        "StatusCode": 200,
    }


class TaskState(Launching):
    def launch(self, run: RunContext, frame: Frame, state: dict[str, Any]) -> None:
        """Schedule the task: a RunTask command for the host."""
        resource: str = state["Resource"]
        activity = activity_name(resource)
        # An activity waits for its worker's callback just as .waitForTaskToken does.
        waits_for_token = resource.endswith(WAIT_FOR_TOKEN) or activity is not None
        # The token must be known before Parameters are rendered ($$.Task.Token).
        task_key = f"{frame.id}:{run.s.last_event_id + 1}"
        token = make_token(run.s.meta, task_key) if waits_for_token else None
        ctx = run.context(frame, token=token)
        args = effective_input(run, frame, state, ctx, "Parameters")
        timeout = self._seconds(run, frame, state, ctx, "TimeoutSeconds")
        heartbeat = self._seconds(run, frame, state, ctx, "HeartbeatSeconds")

        invoke = _LAMBDA_INVOKE.match(resource)
        lambda_arn = _LAMBDA_ARN.match(resource)
        qualifier: str | None = None
        if invoke:
            kind = "lambda:invoke"
            fields = args if isinstance(args, dict) else {}
            name, qualifier = split_function_name(fields.get("FunctionName"))
            if qualifier is None and isinstance(fields.get("Qualifier"), str):
                qualifier = fields["Qualifier"] or None  # Invoke's own Qualifier parameter
            payload = args.get("Payload") if isinstance(args, dict) else None
            payload = {} if payload is None else payload
            if isinstance(payload, str):
                # A string Payload is sent as the request body itself: JSON text.
                with contextlib.suppress(ValueError):
                    payload = json.loads(payload)
        elif lambda_arn:
            kind, name, payload = "lambda", lambda_arn.group(1), args
            qualifier = lambda_arn.group(2)
        elif activity is not None:
            kind, name, payload = "activity", None, args
        else:
            kind, name, payload = "service", None, args
        family = {"lambda": "LambdaFunction", "activity": "Activity"}.get(kind, "Task")
        shown: dict[str, Any] = {}
        if kind == "lambda:invoke" and isinstance(args, dict):
            # The history shows the resolved Parameters; the Payload is ``input``
            # already, so only the rest (FunctionName, ...) is added, not a copy.
            shown["parameters"] = {k: v for k, v in args.items() if k != "Payload"}
        scheduled = run.emit(
            f"{family}Scheduled",
            resource=resource,
            input=payload,
            timeoutInSeconds=timeout,
            heartbeatInSeconds=heartbeat,
            **shown,
        )
        if activity is None:  # an activity's starts when a worker takes it (task_taken)
            run.emit(f"{family}Started", resource=resource)
        task_id = f"{frame.id}:{scheduled}"
        frame.scratch.update(task=task_id, kind=kind, family=family, token=token)
        # A human task takes its callback only from the inbox (interpreter.callback,
        # runtime/open_tasks.py): marked here so neither needs the definition.
        frame.scratch.pop("human", None)
        if resource == HUMAN_TASK_RESOURCE:
            frame.scratch["human"] = True
        # Heartbeat bookkeeping is per task: a retry starts afresh.
        for key in (*_HEARTBEAT_KEYS, "taken"):
            frame.scratch.pop(key, None)
        if heartbeat:
            frame.scratch["heartbeat"] = heartbeat
        run.s.tasks[task_id] = frame.id
        if token is not None:
            run.s.tokens[token] = task_id
        run.commands.append(
            RunTask(
                task_id=task_id,
                resource=resource,
                function_name=name,
                input=payload,
                attempt=frame.retry_count,
                idempotency_key=idempotency_key(run.s.meta.execution_arn, frame),
                timeout_seconds=timeout,
                heartbeat_seconds=heartbeat,
                token=token,
                qualifier=qualifier,
            )
        )

    def _seconds(
        self, run: RunContext, frame: Frame, state: dict[str, Any], ctx: dict[str, Any], name: str
    ) -> int | None:
        value = state.get(name)
        if run.is_jsonata(state) and isinstance(value, str):
            env = run.jsonata_env(frame, ctx, frame.input)
            value = dataflow.evaluate(value, env, name)
        elif f"{name}Path" in state:
            path = state[f"{name}Path"]
            value = run.read(frame, run.input_path(frame, state), path)
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                raise runtime_error(
                    f"The {name}Path parameter does not reference a positive integer: {path} == {value}"
                )
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise runtime_error(
                f"The {name} field must be a positive integer, but was: {dataflow.to_json(value)}"
            )
        return int(value)

    # --- outcomes -------------------------------------------------------

    def _owns(self, run: RunContext, frame: Frame, task_id: str) -> bool:
        return frame.scratch.get("task") == task_id

    def task_taken(
        self, run: RunContext, frame: Frame, state: dict[str, Any], task_id: str, worker: Any
    ) -> None:
        """A worker took the activity's task (GetActivityTask): ActivityStarted, once."""
        if not self._owns(run, frame, task_id) or frame.scratch.get("kind") != "activity":
            return
        self._started(run, frame, worker)

    def _started(self, run: RunContext, frame: Frame, worker: Any = None) -> None:
        if frame.scratch.get("taken"):
            return
        frame.scratch["taken"] = True
        if isinstance(worker, str) and worker:
            run.emit("ActivityStarted", workerName=worker)
        else:
            run.emit("ActivityStarted")

    def _close(self, run: RunContext, frame: Frame, task_id: str) -> None:
        run.s.tasks.pop(task_id, None)
        token = frame.scratch.get("token")
        if token:
            run.s.tokens.pop(token, None)

    def task_succeeded(
        self, run: RunContext, frame: Frame, state: dict[str, Any], task_id: str, output: Any
    ) -> None:
        if not self._owns(run, frame, task_id):
            return
        if frame.scratch.get("token"):
            # The step only handed the token on; the callback brings the result.
            if not frame.scratch.get("submitted"):
                frame.scratch["submitted"] = True
                run.emit("TaskSubmitted", resource=state["Resource"], output=output)
            return
        self.callback_succeeded(run, frame, state, task_id, output)

    def callback_succeeded(
        self, run: RunContext, frame: Frame, state: dict[str, Any], task_id: str, output: Any
    ) -> None:
        if not self._owns(run, frame, task_id):
            return
        if frame.scratch["kind"] == "activity":
            self._started(run, frame)  # answered before the news it was taken arrived
        self._close(run, frame, task_id)
        family = frame.scratch["family"]
        run.emit(f"{family}Succeeded", output=output, **_named(family, state))
        result = output
        if frame.scratch["kind"] == "lambda:invoke" and not frame.scratch.get("token"):
            request_id = str(uuid.UUID(int=hash_int(run.seed(frame) + task_id)))
            result = lambda_envelope(
                output, request_id, run.now.strftime("%a, %d %b %Y %H:%M:%S GMT")
            )
        dataflow.check_size(result, size_label(state["Resource"]))
        finish_with_result(run, frame, state, result)

    def task_failed(
        self,
        run: RunContext,
        frame: Frame,
        state: dict[str, Any],
        task_id: str,
        error: str | None,
        cause: str | None,
    ) -> None:
        if not self._owns(run, frame, task_id):
            return
        if frame.scratch["kind"] == "activity":
            self._started(run, frame)  # answered before the news it was taken arrived
        self._close(run, frame, task_id)
        if frame.scratch["kind"] == "lambda:invoke":
            cause = _reserialise(cause)
        family = frame.scratch["family"]
        run.emit(f"{family}Failed", error=error, cause=cause, **_named(family, state))
        run.state_failed(frame, state, error, cause)

    callback_failed = task_failed

    def task_heartbeat(
        self, run: RunContext, frame: Frame, state: dict[str, Any], task_id: str
    ) -> None:
        """The task is alive: its heartbeat deadline is now + HeartbeatSeconds."""
        if not self._owns(run, frame, task_id):
            return
        seconds = frame.scratch.get("heartbeat")
        if not seconds:
            return  # no HeartbeatSeconds: nothing to extend
        deadline = run.now + timedelta(seconds=seconds)
        current = frame.scratch.get("heartbeat_deadline")
        if current is not None and deadline <= datetime.fromisoformat(current):
            return  # an earlier heartbeat delivered late: the deadline stands
        beat = frame.scratch.get("beat", 0) + 1
        # Scratch is snapshot as plain JSON: the instant is kept as ISO text.
        frame.scratch.update(beat=beat, heartbeat_deadline=deadline.isoformat())
        run.commands.append(ScheduleHeartbeatCheck(task_id, deadline, beat))

    def task_timed_out(
        self, run: RunContext, frame: Frame, state: dict[str, Any], task_id: str, heartbeat: bool
    ) -> None:
        if not self._owns(run, frame, task_id):
            return
        if heartbeat:
            deadline = frame.scratch.get("heartbeat_deadline")
            if deadline is not None and run.now < datetime.fromisoformat(deadline):
                return  # a heartbeat came since: a later check is scheduled
        self._close(run, frame, task_id)
        error = HEARTBEAT_TIMEOUT if heartbeat else TIMEOUT
        family = frame.scratch["family"]
        run.emit(f"{family}TimedOut", error=error, **_named(family, state))
        run.state_failed(frame, state, error, None)


def _named(family: str, state: dict[str, Any]) -> dict[str, Any]:
    """A service integration's outcome events name their resource (Step Functions'
    TaskSucceeded/TaskFailed/TaskTimedOut do; a Lambda function's do not)."""
    return {"resource": state["Resource"]} if family == "Task" else {}


def size_label(resource: str) -> str:
    """What Step Functions names in a Task's DataLimitExceeded cause."""
    if _LAMBDA_ARN.match(resource):
        return resource
    service = re.match(r"^arn:aws[\w-]*:states:::([^:]+)", resource)
    return service.group(1) if service else resource


def _reserialise(cause: str | None) -> str | None:
    """The lambda:invoke integration passes Lambda's error JSON on re-encoded compactly."""
    if not cause:
        return cause
    try:
        parsed = json.loads(cause)
    except ValueError:
        return cause
    return dataflow.to_json(parsed) if isinstance(parsed, dict) else cause


def hash_int(text: str) -> int:
    import hashlib

    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:16], "big")


def idempotency_key(execution_arn: str, frame: Frame) -> str:
    """The key every run of this attempt of this step carries (``RunTask``): where
    the frame sits, which of its states it is in and which attempt, none of which
    depends on the order events were decided in (history ids do)."""
    return f"{execution_arn}:{frame.origin or '/'}:{frame.visits}:{frame.retry_count}"

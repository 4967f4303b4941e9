"""Step functions: plain Python callables ``fn(event, context)`` registered by name.

``load_functions("pkg.mod" | "file.py")`` finds them, as a Python user
expects: a file's folder is put on ``sys.path`` (so its sibling imports work;
for a dotted name, the current folder is, as with ``python -m``). The
module's ``__all__`` names its steps when it has one; otherwise they are its
own public functions ``name(event, context)`` plus the public functions it
imports from modules in its own folder (``from helpers import charge``). A
step ``name`` is reachable as ``arn:aws:lambda:<region>:<account>:function:name``
and as the ``FunctionName`` of ``arn:aws:states:::lambda:invoke``.

``invoke`` calls one the way Lambda would and reports the outcome the way
Step Functions sees it: a JSON result, or an error named after the exception
class with Lambda's JSON cause (errorMessage, errorType, requestId,
stackTrace). The registry is passed explicitly; there is no global one.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import json
import sys
import traceback
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from stepq.core.events import RunTask
from stepq.errors import (
    AlreadyExistsError,
    BlobError,
    BlobNotFoundError,
    FunctionsLoadError,
    MessageTooLargeError,
    NotFoundError,
    QueueError,
    StoreError,
)

StepFunction = Callable[[Any, Any], Any]
# A host's service integrations (sqs:sendMessage, sns:publish, aws-sdk:*):
# ``integrations(resource, parameters, context) -> Outcome``; see backends/aws/integrations.
ServiceIntegrations = Callable[[str, Any, "StepContext"], "Outcome"]
# A host's people runner (runtime/people/runner.py): runs the human-task and
# process-activities Tasks, ``people(execution_id, command, context) -> Outcome``.
PeopleTasks = Callable[[str, RunTask, "StepContext"], "Outcome"]

REGION = "us-east-1"
ACCOUNT = "111111111111"


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one invocation produced. ``delay_seconds`` is simulated run time."""

    output: Any = None
    error: str | None = None
    cause: str | None = None
    delay_seconds: float = 0.0

    @property
    def failed(self) -> bool:
        return self.error is not None


@dataclass(slots=True)
class StepContext:
    """The ``context`` argument a step receives (a subset of Lambda's)."""

    function_name: str
    aws_request_id: str
    idempotency_key: str = ""
    attempt: int = 0
    task_token: str | None = None
    # stepq's callback client (send_task_success/failure), where the host provides one.
    client: Any = None
    extra: dict[str, Any] = field(default_factory=dict)
    # Where the host offers it: call during a long step to say it is alive
    # (SendTaskHeartbeat for this task; it moves the HeartbeatSeconds deadline).
    heartbeat: Callable[[], None] | None = None

    @classmethod
    def for_task(
        cls,
        command: RunTask,
        *,
        client: Any = None,
        heartbeat: Callable[[], None] | None = None,
    ) -> StepContext:
        """The context of one run of a task; every run of it reports the same request id."""
        return cls(
            function_name=command.function_name or "",
            # Derived from the idempotency key so that a re-run reports the same ids.
            aws_request_id=str(uuid.uuid5(uuid.NAMESPACE_URL, command.idempotency_key)),
            idempotency_key=command.idempotency_key,
            attempt=command.attempt,
            task_token=command.token,
            client=client,
            heartbeat=heartbeat,
            extra={"task_id": command.task_id},  # which scheduling of the step (diagnostics)
        )


class SimulatedDelay(Exception):
    """Raised by a simulated step to say 'I ran for N seconds, then returned value'."""

    def __init__(self, seconds: float, value: Any) -> None:
        super().__init__(seconds)
        self.seconds = seconds
        self.value = value


def lambda_error_cause(error_type: str, message: str, request_id: str, stack: list[str]) -> str:
    # Python's Lambda runtime serialises with json.dumps defaults (", " and ": ").
    return json.dumps(
        {
            "errorMessage": message,
            "errorType": error_type,
            "requestId": request_id,
            "stackTrace": stack,
        }
    )


def not_found(name: str, request_id: str) -> Outcome:
    arn = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}:$LATEST"
    return Outcome(
        error="Lambda.ResourceNotFoundException",
        cause=(
            f"Function not found: {arn} (Service: AWSLambda; Status Code: 404; Error Code: "
            f"ResourceNotFoundException; Request ID: {request_id}; Proxy: null)"
        ),
    )


def decode_payload(raw: Any) -> Any:
    """Lambda returns bytes; Step Functions parses them as JSON when it can."""
    if isinstance(raw, bytes | bytearray):
        text = bytes(raw).decode("utf-8", errors="replace")
        try:
            return json.loads(text)
        except ValueError:
            return text
    return raw


def invoke(
    functions: Mapping[str, StepFunction],
    name: str | None,
    event: Any,
    *,
    request_id: str | None = None,
    context: StepContext | None = None,
) -> Outcome:
    request_id = request_id or str(uuid.uuid4())
    fn = functions.get(name or "")
    if fn is None:
        return not_found(name or "", request_id)
    ctx = context or StepContext(function_name=name or "", aws_request_id=request_id)
    delay = 0.0
    try:
        try:
            raw = fn(event, ctx)
        except SimulatedDelay as signal:
            delay, raw = signal.seconds, signal.value
        output = decode_payload(raw)
        json.dumps(output)  # a result must be JSON-serialisable, as Lambda's are
    except Exception as exc:  # a step's own failure is data, not a crash
        if is_outage(exc):  # ... but stepq's own services being down is neither
            raise
        # A directly invoked Lambda function reports its own error name and cause.
        error_type = getattr(exc, "lambda_error", None) or type(exc).__name__
        stack = getattr(exc, "lambda_stack", None) or traceback.format_list(
            traceback.extract_tb(exc.__traceback__)[1:]
        )
        cause = getattr(exc, "lambda_cause", None) or lambda_error_cause(
            error_type, str(exc), request_id, stack
        )
        return Outcome(error=error_type, cause=cause, delay_seconds=delay)
    return Outcome(output=output, delay_seconds=delay)


def is_outage(exc: BaseException) -> bool:
    """Whether a step failed because a service of the runtime's own did (the step's
    ``context.client`` could not send, ``idempotent_step`` could not reach its
    table): the step is run again later, after the outage, instead of failing.
    Refusals that retrying cannot change (no such execution, a name in use, a
    message too large) stay the step's own failure."""
    if isinstance(exc, NotFoundError | AlreadyExistsError | MessageTooLargeError):
        return False
    if isinstance(exc, BlobNotFoundError):
        return False
    return isinstance(exc, QueueError | StoreError | BlobError)


# --- loading a module of step functions ---------------------------------------------


def _on_path(folder: Path) -> None:
    """``folder`` first on ``sys.path`` (once): the module's siblings import as it expects."""
    entry = str(folder)
    if entry not in sys.path:
        sys.path.insert(0, entry)


def _import(spec: str) -> ModuleType:
    if spec.endswith(".py") or "/" in spec or "\\" in spec:
        path = Path(spec).resolve()
        if not path.is_file():
            raise FunctionsLoadError(f"no such file: {spec}")
        _on_path(path.parent)
        name = f"stepq_user_{path.stem}"
        module_spec = importlib.util.spec_from_file_location(name, path)
        if module_spec is None or module_spec.loader is None:
            raise FunctionsLoadError(f"cannot import {spec}")
        module = importlib.util.module_from_spec(module_spec)
        sys.modules[name] = module
        try:
            module_spec.loader.exec_module(module)
        except Exception as exc:  # the user's module failed at import time
            sys.modules.pop(name, None)
            raise FunctionsLoadError(
                f"importing {spec} failed: {type(exc).__name__}: {exc}"
            ) from exc
        return module
    # A console script does not put the current folder on the path; python -m does.
    if "" not in sys.path and str(Path.cwd()) not in sys.path:
        sys.path.append(str(Path.cwd()))
    try:
        return importlib.import_module(spec)
    except ImportError as exc:
        raise FunctionsLoadError(f"cannot import module {spec!r}: {exc}") from exc
    except Exception as exc:  # the user's module failed at import time
        raise FunctionsLoadError(f"importing {spec} failed: {type(exc).__name__}: {exc}") from exc


def _folder(obj: Any) -> Path | None:
    """The folder of the file that defines ``obj`` (None when it has none)."""
    module = sys.modules.get(getattr(obj, "__module__", None) or "")
    file = getattr(module, "__file__", None)
    return Path(file).resolve().parent if file else None


def load_functions(spec: str) -> dict[str, StepFunction]:
    """The step functions ``spec`` (a dotted module or a ``.py`` file) offers, by name."""
    module = _import(spec)
    names = getattr(module, "__all__", None)
    if names is not None:
        found: dict[str, StepFunction] = {}
        for name in names:
            obj = getattr(module, str(name), None)
            if obj is None or not callable(obj):
                raise FunctionsLoadError(
                    f"{spec}: __all__ names {name!r}, which is not a function of the module"
                )
            found[str(name)] = obj
        return found
    file = getattr(module, "__file__", None)
    home = Path(file).resolve().parent if file else None
    found = {}
    for name, obj in vars(module).items():
        if name.startswith("_") or not inspect.isfunction(obj):
            continue
        if obj.__module__ == module.__name__ or (home is not None and _folder(obj) == home):
            found[name] = obj  # its own, or imported from a sibling module
    return found

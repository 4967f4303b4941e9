"""One state run on one input, with its data flow laid open: Step Functions' TestState.

``run_state`` decides the state with the interpreter's own handlers (so the
output, errors and causes are those an execution would produce) through a
``Run`` that stops where the state ends instead of moving on: leaving the
state, going to a Next, failing, or asking to retry. A Wait does not wait.
A Task's step is run by the caller's ``invoke`` (the core stays pure: it
never does I/O itself); a ``mock`` stands in for it, and for a Map's or
Parallel's children, which TestState does not run.

The outcome's ``status``: SUCCEEDED (``next_state`` is the Next, None at an
end), FAILED, RETRIABLE (a Retry matches the error and has attempts left;
``retrier_retry_count`` says how many it has used), CAUGHT_ERROR (a Catch
matches: the output is the catcher's, ``next_state`` its Next).

The inspection (TestState's DEBUG level) is worked out beside the run with
the same data-flow functions: ``afterInputPath``, ``afterParameters``,
``result``, ``afterResultSelector``, ``afterResultPath`` (JSONPath) or
``afterArguments`` (JSONata), and the variables after the state's Assign.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from stepq.core import dataflow, retry
from stepq.core.definition import find_problems
from stepq.core.events import RunTask
from stepq.core.execution import Frame, new_execution
from stepq.core.failures import StatesFailure, runtime_error
from stepq.core.interpreter import Run
from stepq.core.machine import JSONATA, JSONPATH, Machine
from stepq.core.states import HANDLERS
from stepq.core.states.common import effective_input, finish_with_result
from stepq.core.states.task_state import hash_int, lambda_envelope
from stepq.errors import DefinitionError, Problem

SUCCEEDED = "SUCCEEDED"
FAILED = "FAILED"
RETRIABLE = "RETRIABLE"
CAUGHT_ERROR = "CAUGHT_ERROR"

LONE_STATE_NAME = "TestState"  # the name a lone state's definition runs under
_RETRYABLE = frozenset({"Task", "Parallel", "Map"})
_LAMBDA_INVOKE = re.compile(r"^arn:aws[\w-]*:states:::lambda:invoke$")
_ACTIVITY = re.compile(r"^arn:aws[\w-]*:states:[^:]*:[^:]*:activity:")


class Unsupported(ValueError):
    """What TestState cannot run as asked (a Map without a mock, ...): the caller's mistake."""


@dataclass(frozen=True, slots=True)
class StepResult:
    """What the Task's step (or the mock) gave: an output, or an error and cause."""

    output: Any = None
    error: str | None = None
    cause: str | None = None


@dataclass(slots=True)
class Outcome:
    status: str
    output: Any = None
    has_output: bool = False
    error: str | None = None
    cause: str | None = None
    next_state: str | None = None
    error_details: dict[str, int] = field(default_factory=dict)
    inspection: dict[str, Any] = field(default_factory=dict)  # values, not yet JSON text


def pick_state(definition: Any, state_name: str | None) -> tuple[str, dict[str, Any], str]:
    """(name, state, query language) of the state to test; ``DefinitionError`` if invalid.

    ``definition`` is one state, or (it has ``States``) a whole state machine
    in which ``state_name`` (default: its StartAt) is tested. Either is
    validated as a state machine would be; a lone state's Next targets stand in
    as states of their own so that they exist.
    """
    if not isinstance(definition, dict):
        raise DefinitionError([Problem("", "a definition must be a JSON object")])
    if "States" in definition:
        machine = definition
        problems = find_problems(machine)
        if problems:
            raise DefinitionError(problems)
        name = state_name or machine["StartAt"]
        if name not in machine["States"]:
            raise Unsupported(f"stateName '{name}' is not a top-level state of the definition")
        return name, machine["States"][name], machine.get("QueryLanguage", JSONPATH)
    name = state_name or LONE_STATE_NAME
    wrapped: dict[str, Any] = {"StartAt": name, "States": {name: definition}}
    for target in _targets(definition):
        if target != name:
            wrapped["States"][target] = {"Type": "Succeed"}
    problems = find_problems(wrapped)
    if problems:
        prefix = f"/States/{name}"
        raise DefinitionError(
            [Problem(p.path.removeprefix(prefix) or "/", p.message) for p in problems]
        )
    return name, definition, JSONPATH


def _targets(state: dict[str, Any]) -> list[str]:
    """The states a lone state may go to (Next, Choices, Default, Catch): stand-ins needed."""
    found = [state.get("Next"), state.get("Default")]
    for key in ("Choices", "Catch"):
        rules = state.get(key)
        if isinstance(rules, list):
            found.extend(rule.get("Next") for rule in rules if isinstance(rule, dict))
    return [t for t in found if isinstance(t, str) and t]


def needs_mock(state: dict[str, Any]) -> str | None:
    """Why this state cannot be tested without a mock (None: it can)."""
    kind = state.get("Type")
    if kind in ("Map", "Parallel"):
        return f"TestState runs a {kind} state only with a mock of its result"
    if kind == "Task":
        resource = state.get("Resource")
        if not isinstance(resource, str):
            return None  # a JSONata resource is refused by validation already
        if resource.endswith(".waitForTaskToken"):
            return "TestState runs a .waitForTaskToken task only with a mock of its result"
        if ".sync" in resource:
            return "TestState runs a .sync task only with a mock of its result"
        if _ACTIVITY.match(resource):
            return "TestState runs an activity task only with a mock of its result"
    return None


def run_state(
    name: str,
    state: dict[str, Any],
    state_input: Any,
    *,
    now: datetime,
    query_language: str = JSONPATH,
    variables: dict[str, Any] | None = None,
    context: dict[str, Any] | None = None,
    invoke: Callable[[RunTask], StepResult] | None = None,
    mock: StepResult | None = None,
    retrier_retry_count: int = 0,
    execution_name: str = "test-state",
    region: str = "us-east-1",
    account: str = "111111111111",
) -> Outcome:
    """Decide ``state`` once on ``state_input``; see the module's docstring."""
    reason = needs_mock(state) if mock is None else None
    if reason:
        raise Unsupported(reason)
    definition = {"QueryLanguage": query_language, "StartAt": name, "States": {name: state}}
    execution = new_execution(
        name=execution_name,
        state_machine_name=f"{execution_name}-machine",
        start_time=now,
        region=region,
        account=account,
    )
    execution.meta.input = state_input
    execution.last_event_id = 1  # as if ExecutionStarted came first: causes say "event id #2"
    probe = _Probe(Machine(definition), execution, now, context, retrier_retry_count)
    frame = probe.new_frame("", state_input, None)
    before = copy.deepcopy(variables or {})
    frame.variables = copy.deepcopy(before)
    handler = HANDLERS[state["Type"]]
    if state["Type"] in ("Map", "Parallel"):
        assert mock is not None
        probe.guard(frame, state, _mocked_parent(mock))
        result: Any = mock.output
    else:
        probe.guard(frame, state, handler.enter)
        result = _run_task(probe, frame, state, handler, invoke, mock)
    outcome = probe.outcome or Outcome(
        FAILED, error="States.Runtime", cause="the state did not end"
    )
    outcome.inspection = _inspect(probe, frame, state, state_input, before, result)
    outcome.inspection["variables"] = frame.variables
    return outcome


def _mocked_parent(mock: StepResult) -> Callable[..., None]:
    """A Map's or Parallel's step with the mock in place of its children."""

    def step(run: Run, frame: Frame, state: dict[str, Any]) -> None:
        run.entered(frame, state)
        if state["Type"] == "Map" and not run.is_jsonata(state):
            # The items are still chosen and shaped: a bad ItemsPath or ItemSelector fails.
            _map_items(run, frame, state, run.input_path(frame, state))
        if mock.error is not None:
            run.state_failed(frame, state, mock.error, mock.cause)
        else:
            finish_with_result(run, frame, state, mock.output)

    return step


def _run_task(
    probe: _Probe,
    frame: Frame,
    state: dict[str, Any],
    handler: Any,
    invoke: Callable[[RunTask], StepResult] | None,
    mock: StepResult | None,
) -> Any:
    """Run the Task's step (or take the mock) and decide its outcome; returns the result."""
    command = next((c for c in probe.commands if isinstance(c, RunTask)), None)
    if command is None or probe.outcome is not None:
        return None  # not a Task, or it failed before its step (Parameters, TimeoutSecondsPath)
    probe.command = command
    if mock is not None:
        got = mock
    elif invoke is not None:
        got = invoke(command)
    else:
        raise Unsupported("no step function to run the Task with, and no mock")
    if got.error is not None:
        step = handler.callback_failed if command.token else handler.task_failed
        probe.guard(frame, state, step, command.task_id, got.error, got.cause)
        return None
    step = handler.callback_succeeded if command.token else handler.task_succeeded
    probe.guard(frame, state, step, command.task_id, got.output)
    if _LAMBDA_INVOKE.match(command.resource):
        # What the handler made of the payload: Lambda's Invoke response around it.
        request_id = _request_id(probe, frame, command.task_id)
        return lambda_envelope(got.output, request_id, now_http(probe.now))
    return got.output


def _request_id(probe: _Probe, frame: Frame, task_id: str) -> str:
    import uuid

    return str(uuid.UUID(int=hash_int(probe.seed(frame) + task_id)))


def now_http(now: datetime) -> str:
    return now.strftime("%a, %d %b %Y %H:%M:%S GMT")


def _inspect(
    probe: _Probe,
    frame: Frame,
    state: dict[str, Any],
    state_input: Any,
    variables: dict[str, Any],
    result: Any,
) -> dict[str, Any]:
    """The data flow step by step, as far as it goes without failing."""
    kind = state["Type"]
    found: dict[str, Any] = {"input": state_input}
    frame.variables, after = copy.deepcopy(variables), frame.variables  # Assign sees the before
    token = probe.command.token if probe.command is not None else None
    try:
        ctx = probe.context(frame, token=token)
        if probe.is_jsonata(state):
            if kind in ("Task", "Pass", "Map", "Parallel") and "Arguments" in state:
                found["afterArguments"] = effective_input(probe, frame, state, ctx, "Arguments")
            if kind in ("Task", "Map", "Parallel") and _succeeded(probe):
                found["result"] = result
            return found
        if kind == "Fail":
            return found
        data = dataflow.input_path(state, state_input, ctx, probe.variables(frame))
        found["afterInputPath"] = data
        if kind not in ("Task", "Pass", "Map", "Parallel"):
            return found
        if kind == "Map":
            _inspect_map(probe, frame, state, data, found)
        if kind == "Pass":
            result = state.get("Result")
        if kind in ("Task", "Parallel") or (kind == "Pass" and "Result" not in state):
            found["afterParameters"] = effective_input(probe, frame, state, ctx, "Parameters")
        if kind == "Pass" and "Result" not in state:
            result = found["afterParameters"]
        elif kind != "Pass" and not _succeeded(probe):
            return found  # the step failed: there is no result to follow further
        found["result"] = result
        if kind != "Pass" and "ResultSelector" in state:
            result = dataflow.render(state["ResultSelector"], result, ctx, probe.variables(frame))
        if kind != "Pass":
            found["afterResultSelector"] = result
        found["afterResultPath"] = dataflow.result_path(state, state_input, result)
    except StatesFailure:
        pass  # the run itself reports the failure; the inspection stops where it did
    finally:
        frame.variables = after
    return found


def _succeeded(probe: _Probe) -> bool:
    return probe.outcome is not None and probe.outcome.status == SUCCEEDED


def _items_path(run: Run, frame: Frame, state: dict[str, Any], data: Any) -> list[Any]:
    items = run.read(frame, data, state["ItemsPath"]) if "ItemsPath" in state else data
    if not isinstance(items, list):
        raise runtime_error(f"Map state input must be an array but was: {dataflow.to_json(items)}")
    return items


def _map_items(run: Run, frame: Frame, state: dict[str, Any], data: Any) -> list[Any]:
    """Each item as its iteration would get it (ItemsPath, then ItemSelector)."""
    items = _items_path(run, frame, state, data)
    selector = state.get("ItemSelector", state.get("Parameters"))
    if selector is None:
        return items
    return [
        dataflow.render(
            selector, data, run.context(frame, item={"Index": i, "Value": v}), run.variables(frame)
        )
        for i, v in enumerate(items)
    ]


def _inspect_map(
    probe: _Probe, frame: Frame, state: dict[str, Any], data: Any, found: dict[str, Any]
) -> None:
    """A Map's items after ItemsPath and ItemSelector, and its literal limits."""
    found["afterItemsPath"] = _items_path(probe, frame, state, data)
    if "ItemSelector" in state or "Parameters" in state:
        found["afterItemSelector"] = _map_items(probe, frame, state, data)
    for name in ("MaxConcurrency", "ToleratedFailureCount", "ToleratedFailurePercentage"):
        if isinstance(state.get(name), int | float):
            found[name[0].lower() + name[1:]] = state[name]


class _Probe(Run):
    """A ``Run`` that stops at the end of the one state instead of going on."""

    def __init__(
        self,
        machine: Machine,
        state: Any,
        now: datetime,
        context: dict[str, Any] | None,
        retrier_retry_count: int,
    ) -> None:
        super().__init__(machine, state, now)
        self.outcome: Outcome | None = None
        self.command: RunTask | None = None
        self._context = context or {}
        self._retry_count = retrier_retry_count
        self._catching = False

    def _end(self, outcome: Outcome) -> None:
        if self.outcome is None:  # the first end stands
            self.outcome = outcome

    def context(
        self, frame: Frame, *, item: dict[str, Any] | None = None, token: str | None = None
    ) -> dict[str, Any]:
        ctx = super().context(frame, item=item, token=token)
        for key, value in self._context.items():
            # The caller's context object wins, section by section.
            if isinstance(value, dict) and isinstance(ctx.get(key), dict):
                ctx[key] = {**ctx[key], **value}
            else:
                ctx[key] = value
        return ctx

    def entered(self, frame: Frame, state: dict[str, Any]) -> None:
        super().entered(frame, state)
        if state["Type"] in _RETRYABLE:
            frame.retry_count = self._retry_count  # $$.State.RetryCount of the attempt tested

    def exit_state(self, frame: Frame, state: dict[str, Any], output: Any) -> None:
        if output is not frame.input:
            dataflow.check_size(output, frame.state)
        end = state.get("End") or state["Type"] == "Succeed"
        self._end(Outcome(SUCCEEDED, output, True, next_state=None if end else state["Next"]))

    def goto(self, frame: Frame, next_state: str, output: Any) -> None:
        if self._catching:
            assert self.outcome is None
            self._end(Outcome(CAUGHT_ERROR, output, True, next_state=next_state))
        else:
            self._end(Outcome(SUCCEEDED, output, True, next_state=next_state))

    def fail_frame(self, frame: Frame, error: str | None, cause: str | None) -> None:
        self._end(Outcome(FAILED, error=error, cause=cause))

    def start_timer(self, frame: Frame, purpose: str, seconds: float) -> str:
        # Only a Wait gets here (retries are not run): it ends at once, without waiting.
        self.exit_state(
            frame, self.machine.state(frame.scope, frame.state), frame.scratch["output"]
        )
        return "no-wait"

    def state_failed(
        self, frame: Frame, state: dict[str, Any], error: str | None, cause: str | None
    ) -> None:
        if self.outcome is not None:
            return
        name = error or ""
        if state["Type"] in _RETRYABLE:
            retriers = state.get("Retry", [])
            used = dict.fromkeys(range(len(retriers)), self._retry_count)
            decision = retry.decide_retry(retriers, name, used, self.seed(frame))
            if decision is not None:
                details = {
                    "retryIndex": decision.retrier,
                    "retryBackoffIntervalSeconds": int(decision.delay_seconds),
                }
                self._end(Outcome(RETRIABLE, error=error, cause=cause, next_state=frame.state))
                assert self.outcome is not None
                self.outcome.error_details = details
                return
            for index, catcher in enumerate(state.get("Catch", [])):
                if retry.error_matches(catcher.get("ErrorEquals", []), name):
                    self._catching = True
                    self.caught(frame, state, catcher, error, cause)
                    if self.outcome is not None and self.outcome.status == CAUGHT_ERROR:
                        self.outcome.error, self.outcome.cause = error, cause
                        self.outcome.error_details = {"catchIndex": index}
                    return
        self._end(Outcome(FAILED, error=error, cause=cause))


__all__ = [
    "CAUGHT_ERROR",
    "FAILED",
    "JSONATA",
    "RETRIABLE",
    "SUCCEEDED",
    "Outcome",
    "StepResult",
    "Unsupported",
    "needs_mock",
    "pick_state",
    "run_state",
]

"""TestState: run one state on an input and show its data flow (``core.test_state``).

``definition`` is one state, or a whole state machine with ``stateName``
(default: its StartAt). Pass, Choice, Wait (without waiting), Succeed and
Fail are decided by the pure core. A Task runs its step when this process
hosts it (``stepq dev --functions``): a Lambda function ARN or
``lambda:invoke``'s FunctionName naming a registered step; an unknown one
fails as Lambda reports it (``Lambda.ResourceNotFoundException``). As in Step
Functions, ``mock`` (a result or an error) stands in for the step, and Map,
Parallel, activity, ``.sync`` and ``.waitForTaskToken`` states are tested
only with one. Other service integrations need a mock here (stepq hosts no
AWS services in TestState). ``stateConfiguration.retrierRetryCount`` says how
many retries the attempt tested has used; ``mock.fieldValidationMode``,
``revealSecrets`` and TRACE's HTTP request/response have nothing to act on
(no HTTP tasks) and are accepted as such.

Levels: INFO gives status, output, error, cause and nextState; DEBUG and
TRACE add ``inspectionData`` (values as JSON text, as Step Functions sends
them).
"""

from __future__ import annotations

import json
import re
import uuid
from typing import Any

from stepq.api.context import ApiContext
from stepq.api.protocol import ApiError
from stepq.api.registry import operation
from stepq.core import test_state as core
from stepq.core.dataflow import to_json
from stepq.core.events import RunTask
from stepq.errors import DefinitionError
from stepq.runtime import steps

_ROLE_ARN = re.compile(r"^arn:aws[a-zA-Z-]*:iam::\d{12}:role/[\w+=,.@/-]+$")
_INSPECTED = (
    "input",
    "afterArguments",
    "afterInputPath",
    "afterParameters",
    "result",
    "afterResultSelector",
    "afterResultPath",
    "variables",
    "afterItemsPath",
    "afterItemSelector",
)
_LIMITS = ("maxConcurrency", "toleratedFailureCount", "toleratedFailurePercentage")


def _json(text: Any, what: str, code: str, default: Any, *, obj: bool = False) -> Any:
    if text is None:
        return default
    try:
        value = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise ApiError(code, f"Invalid {what}: not JSON ({exc})") from None
    if obj and not isinstance(value, dict):
        raise ApiError(code, f"Invalid {what}: must be a JSON object")
    return value


def _mock(params: dict[str, Any]) -> core.StepResult | None:
    mock = params.get("mock")
    if not mock:
        return None
    has_result, error = "result" in mock, mock.get("errorOutput")
    if has_result == bool(error):
        raise ApiError("ValidationException", "A mock has either a result or an errorOutput")
    if error:
        return core.StepResult(error=error.get("error"), cause=error.get("cause"))
    return core.StepResult(_json(mock["result"], "mock result", "ValidationException", None))


def _invoker(ctx: ApiContext) -> Any:
    def invoke(command: RunTask) -> core.StepResult:
        if command.function_name is None:
            raise core.Unsupported(
                f"TestState runs Lambda steps this process hosts, or a mock; "
                f"'{command.resource}' is neither (give a mock to test it)"
            )
        got = steps.invoke(
            ctx.functions,
            command.function_name,
            command.input,
            context=steps.StepContext.for_task(command),
        )
        return core.StepResult(got.output, got.error, got.cause)

    return invoke


@operation("TestState")
def test_state(ctx: ApiContext, params: dict[str, Any]) -> dict[str, Any]:
    role = params.get("roleArn")
    if role is not None and not _ROLE_ARN.match(role):
        raise ApiError("InvalidArn", f"Invalid Arn: '{role}' (an IAM role ARN)")
    definition = _json(params["definition"], "definition", "InvalidDefinition", None)
    state_input = _json(params.get("input"), "input", "InvalidExecutionInput", {})
    variables = _json(params.get("variables"), "variables", "ValidationException", {}, obj=True)
    context = _json(params.get("context"), "context", "ValidationException", {}, obj=True)
    mock = _mock(params)
    config = params.get("stateConfiguration") or {}
    level = params.get("inspectionLevel") or "INFO"
    try:
        name, state, language = core.pick_state(definition, params.get("stateName"))
        outcome = core.run_state(
            name,
            state,
            state_input,
            now=ctx.clock.now(),
            query_language=language,
            variables=variables,
            context=context,
            invoke=_invoker(ctx),
            mock=mock,
            retrier_retry_count=int(config.get("retrierRetryCount") or 0),
            # A name of its own per test: a step's idempotency key (idempotent_step)
            # is made from it, and two tests are two runs, not one redelivered.
            execution_name=f"test-state-{uuid.uuid4()}",
            region=ctx.arns.region,
            account=ctx.arns.account,
        )
    except DefinitionError as exc:
        text = "; ".join(f"{p.path or '/'}: {p.message}" for p in exc.problems)
        raise ApiError("InvalidDefinition", f"Invalid State Machine Definition: '{text}'") from None
    except core.Unsupported as exc:
        raise ApiError("ValidationException", str(exc)) from None
    return _response(outcome, level)


def _response(outcome: core.Outcome, level: str) -> dict[str, Any]:
    reply: dict[str, Any] = {"status": outcome.status}
    if outcome.has_output:
        reply["output"] = to_json(outcome.output)
    if outcome.error is not None:
        reply["error"] = outcome.error
    if outcome.cause is not None:
        reply["cause"] = outcome.cause
    if outcome.next_state is not None:
        reply["nextState"] = outcome.next_state
    if level in ("DEBUG", "TRACE"):
        data = {k: to_json(outcome.inspection[k]) for k in _INSPECTED if k in outcome.inspection}
        data.update({k: outcome.inspection[k] for k in _LIMITS if k in outcome.inspection})
        if outcome.error_details:
            data["errorDetails"] = dict(outcome.error_details)
        reply["inspectionData"] = data
    return reply

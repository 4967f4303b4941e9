"""Direct Lambda invocation: a real boto3 client under botocore's Stubber (no network).

Each failure is checked through ``stepq.runtime.steps.invoke``, i.e. as the worker
sees it (``Outcome.error`` / ``Outcome.cause``).
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from typing import Any

import pytest

boto3 = pytest.importorskip("boto3")

from botocore.exceptions import EndpointConnectionError, ReadTimeoutError  # noqa: E402
from botocore.response import StreamingBody  # noqa: E402
from botocore.stub import ANY, Stubber  # noqa: E402
from stepq.backends.aws import lambda_invoke  # noqa: E402
from stepq.backends.aws.lambda_invoke import (  # noqa: E402
    READ_TIMEOUT_SECONDS,
    DirectLambdaFunctions,
    direct_lambda_enabled,
    make_lambda_client,
)
from stepq.runtime.steps import Outcome, StepContext, invoke  # noqa: E402

REQUEST_ID = "0f6e1c8e-0000-4000-8000-000000000001"
ARN = "arn:aws:lambda:us-east-1:123456789012:function:billing"


@pytest.fixture(autouse=True)
def _dummy_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)
    for name in ("AWS_PROFILE", "AWS_REGION", "STEPQ_ENDPOINT_URL", "STEPQ_LAMBDA_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def client() -> Any:
    return make_lambda_client(region="us-east-1", environ={})


@pytest.fixture
def stub(client: Any) -> Iterator[Stubber]:
    with Stubber(client) as stubber:
        yield stubber
        stubber.assert_no_pending_responses()


def _body(payload: bytes) -> StreamingBody:
    return StreamingBody(io.BytesIO(payload), len(payload))


def _expect(
    stub: Stubber,
    payload: bytes,
    *,
    function_error: str | None = None,
    function_name: str = "billing",
    event: Any = ANY,
    qualifier: str | None = None,
) -> None:
    response: dict[str, Any] = {
        "StatusCode": 200,
        "Payload": _body(payload),
        "ExecutedVersion": "$LATEST",
    }
    if function_error:
        response["FunctionError"] = function_error
    # Stubber compares the whole request: no "Qualifier" key means none was sent.
    expected: dict[str, Any] = {
        "FunctionName": function_name,
        "InvocationType": "RequestResponse",
        "Payload": event,
    }
    if qualifier is not None:
        expected["Qualifier"] = qualifier
    stub.add_response("invoke", response, expected)


def _run(
    functions: DirectLambdaFunctions, name: str, event: Any, *, qualifier: str | None = None
) -> Outcome:
    """As the worker runs a step: its context carries the Task's version or alias, if any."""
    context = StepContext(function_name=name, aws_request_id=REQUEST_ID)
    if qualifier is not None:
        context.extra[lambda_invoke.QUALIFIER] = qualifier
    return invoke(functions, name, event, request_id=REQUEST_ID, context=context)


# --- success ------------------------------------------------------------------------


def test_success_returns_the_parsed_payload(client: Any, stub: Stubber) -> None:
    _expect(stub, b'{"total": 42, "items": [1, 2]}', event=b'{"order":7}')
    outcome = _run(DirectLambdaFunctions({}, client), "billing", {"order": 7})
    assert outcome == Outcome(output={"total": 42, "items": [1, 2]})


def test_qualified_arn_is_passed_through_as_function_name(client: Any, stub: Stubber) -> None:
    qualified = ARN + ":prod"
    _expect(stub, b'"ok"', function_name=qualified)
    _expect(stub, b"null", function_name="billing:7")
    functions = DirectLambdaFunctions({}, client)
    assert _run(functions, qualified, {}).output == "ok"
    assert _run(functions, "billing:7", {}) == Outcome(output=None)


@pytest.mark.parametrize("qualifier", ["prod", "7", "$LATEST", "$LATEST.PUBLISHED"])
def test_a_version_or_alias_is_passed_as_the_qualifier(
    client: Any, stub: Stubber, qualifier: str
) -> None:
    _expect(stub, b'{"ok": true}', function_name="billing", qualifier=qualifier)
    functions = DirectLambdaFunctions({}, client)
    outcome = _run(functions, "billing", {"order": 1}, qualifier=qualifier)
    assert outcome == Outcome(output={"ok": True})


def test_the_qualifier_is_per_invocation_not_per_function(client: Any, stub: Stubber) -> None:
    _expect(stub, b'"alias"', qualifier="prod")
    _expect(stub, b'"latest"')
    _expect(stub, b'"version"', qualifier="3")
    functions = DirectLambdaFunctions({}, client)
    assert _run(functions, "billing", {}, qualifier="prod").output == "alias"
    assert _run(functions, "billing", {}).output == "latest"
    assert _run(functions, "billing", {}, qualifier="3").output == "version"
    # The invoke API itself, as the remote step calls it.
    _expect(stub, b"1", function_name=ARN, qualifier="prod")
    assert functions.invoke(ARN, {}, qualifier="prod") == 1


def test_an_unqualified_step_sends_no_qualifier(client: Any, stub: Stubber) -> None:
    # No qualifier, an empty one, or a context without ``extra``: no "Qualifier" at all.
    for _ in range(3):
        _expect(stub, b'"ok"')
    functions = DirectLambdaFunctions({}, client)
    assert _run(functions, "billing", {}).output == "ok"
    assert _run(functions, "billing", {}, qualifier="").output == "ok"
    assert functions["billing"]({}, None) == "ok"


def test_failures_of_a_qualified_invoke_are_reported_as_before(client: Any, stub: Stubber) -> None:
    stub.add_client_error(
        "invoke",
        service_error_code="ResourceNotFoundException",
        service_message="Function not found: " + ARN + ":prod",
        http_status_code=404,
        expected_params={
            "FunctionName": "billing",
            "InvocationType": "RequestResponse",
            "Payload": ANY,
            "Qualifier": "prod",
        },
    )
    outcome = _run(DirectLambdaFunctions({}, client), "billing", {}, qualifier="prod")
    assert outcome.error == "Lambda.ResourceNotFoundException"
    assert outcome.cause is not None
    assert outcome.cause.startswith("Function not found: " + ARN + ":prod (Service: AWSLambda;")


# --- function errors ----------------------------------------------------------------


FUNCTION_ERROR = {
    "errorMessage": "card declined",
    "errorType": "PaymentDeclined",
    "requestId": "c0ffee00-1111-4222-8333-444444444444",
    "stackTrace": [
        '  File "/var/task/app.py", line 3, in handler\n    raise PaymentDeclined(...)\n'
    ],
}


def test_function_error_maps_to_its_error_type(client: Any, stub: Stubber) -> None:
    text = json.dumps(FUNCTION_ERROR)
    _expect(stub, text.encode(), function_error="Unhandled")
    outcome = _run(DirectLambdaFunctions({}, client), "billing", {"order": 7})
    assert outcome.error == "PaymentDeclined"
    assert outcome.output is None
    assert "card declined" in (outcome.cause or "")


def test_function_error_carries_the_payload_text_as_its_cause(client: Any, stub: Stubber) -> None:
    text = json.dumps(FUNCTION_ERROR)
    _expect(stub, text.encode(), function_error="Handled")
    step = DirectLambdaFunctions({}, client)["billing"]
    with pytest.raises(lambda_invoke.InvokeFailed) as raised:
        step({}, None)
    assert type(raised.value).__name__ == "PaymentDeclined"
    assert raised.value.lambda_error == "PaymentDeclined"
    assert raised.value.lambda_cause == text
    assert str(raised.value) == "card declined"
    assert raised.value.lambda_stack == FUNCTION_ERROR["stackTrace"]


def test_outcome_cause_is_exactly_the_step_functions_cause(client: Any) -> None:
    stub = Stubber(client)
    stub.activate()
    text = json.dumps(FUNCTION_ERROR)
    _expect(stub, text.encode(), function_error="Unhandled")
    stub.add_client_error(
        "invoke",
        service_error_code="TooManyRequestsException",
        service_message="Rate Exceeded.",
        http_status_code=429,
        response_meta={"RequestId": "r-1"},
    )
    functions = DirectLambdaFunctions({}, client)
    assert _run(functions, "billing", {}).cause == text
    assert _run(functions, "billing", {}).cause == (
        "Rate Exceeded. (Service: AWSLambda; Status Code: 429; Error Code: "
        "TooManyRequestsException; Request ID: r-1; Proxy: null)"
    )


@pytest.mark.parametrize(
    "payload",
    [
        b'{"errorMessage": "2024-01-01T00:00:00Z abc Task timed out after 3.00 seconds"}',
        b'{"errorMessage": "boom", "errorType": ""}',
        b"Runtime exited without providing a reason",
    ],
)
def test_function_error_without_error_type_is_lambda_unknown(
    client: Any, stub: Stubber, payload: bytes
) -> None:
    _expect(stub, payload, function_error="Unhandled")
    outcome = _run(DirectLambdaFunctions({}, client), "billing", {})
    assert outcome.error == "Lambda.Unknown"
    assert outcome.output is None
    message = json.loads(payload)["errorMessage"] if payload.startswith(b"{") else payload.decode()
    assert message in (outcome.cause or "")
    _expect(stub, payload, function_error="Unhandled")
    with pytest.raises(lambda_invoke.InvokeFailed) as raised:
        DirectLambdaFunctions({}, client)["billing"]({}, None)
    assert raised.value.lambda_cause == payload.decode()


# --- service and client errors ------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "status", "error"),
    [
        ("TooManyRequestsException", 429, "Lambda.TooManyRequestsException"),
        ("ServiceException", 500, "Lambda.ServiceException"),
        ("ResourceNotFoundException", 404, "Lambda.ResourceNotFoundException"),
        ("RequestTooLargeException", 413, "Lambda.RequestTooLargeException"),
        # Not one of Invoke's declared errors: the Java SDK's catch-all.
        ("AccessDeniedException", 403, "Lambda.AWSLambdaException"),
    ],
)
def test_service_errors_are_named_as_step_functions_names_them(
    client: Any, stub: Stubber, code: str, status: int, error: str
) -> None:
    stub.add_client_error(
        "invoke",
        service_error_code=code,
        service_message="Rate Exceeded.",
        http_status_code=status,
        response_meta={"RequestId": "r-1"},
    )
    functions = DirectLambdaFunctions({}, client)
    outcome = _run(functions, "billing", {})
    assert outcome.error == error
    assert "Rate Exceeded." in (outcome.cause or "")
    stub.add_client_error(
        "invoke", service_error_code=code, service_message="Rate Exceeded.", http_status_code=status
    )
    with pytest.raises(lambda_invoke.InvokeFailed) as raised:
        functions["billing"]({}, None)
    assert raised.value.lambda_error == error
    assert raised.value.lambda_cause.startswith(
        f"Rate Exceeded. (Service: AWSLambda; Status Code: {status}; Error Code: {code}; "
    )


@pytest.mark.parametrize(
    ("exc", "error"),
    [
        (ReadTimeoutError(endpoint_url="https://lambda"), "Lambda.ClientExecutionTimeoutException"),
        (EndpointConnectionError(endpoint_url="https://lambda"), "Lambda.SdkClientException"),
    ],
)
def test_no_response_is_a_client_side_error(exc: Exception, error: str) -> None:
    class Unreachable:
        def invoke(self, **kwargs: Any) -> Any:
            raise exc

    outcome = _run(DirectLambdaFunctions({}, Unreachable()), "billing", {})
    assert outcome.error == error


# --- the registry -------------------------------------------------------------------


def test_local_functions_win_and_never_call_lambda(client: Any, stub: Stubber) -> None:
    def billing(event: Any, context: Any) -> Any:
        return {"local": event["order"]}

    functions = DirectLambdaFunctions({"billing": billing}, client)
    assert functions["billing"] is billing
    assert _run(functions, "billing", {"order": 3}) == Outcome(output={"local": 3})
    assert list(functions) == ["billing"] and len(functions) == 1
    # "in" is what the worker asks before chaining a step inline: local only.
    assert "billing" in functions
    assert "shipping" not in functions and functions.reachable("shipping")
    # A version or alias of a local step: still the local step.
    assert _run(functions, "billing", {"order": 4}, qualifier="prod") == Outcome(
        output={"local": 4}
    )
    # No response is queued: a call to Lambda would fail with Stubber's
    # UnStubbedResponseError and the outcome above would be an error.


def test_refused_or_malformed_names_are_not_found_without_calling_lambda(
    client: Any, stub: Stubber
) -> None:
    functions = DirectLambdaFunctions({}, client, allow=lambda name: name != "secret")
    for name in ("secret", "", "not a function name", "arn:aws:s3:::bucket", "billing:bad alias"):
        outcome = _run(functions, name, {})
        assert outcome.error == "Lambda.ResourceNotFoundException", name
        assert not functions.reachable(name)
        assert functions.get(name) is None
        # With a version or alias: the same error, and still no call to Lambda.
        assert _run(functions, name, {}, qualifier="prod") == outcome
    assert functions.reachable("billing")


@pytest.mark.parametrize(
    "name",
    [
        "billing",
        "billing:prod",
        "billing:7",
        "billing:$LATEST",
        "billing:$LATEST.PUBLISHED",
        "123456789012:function:billing:prod",
        "function:billing",
        ARN,
        ARN + ":prod",
        "arn:aws-us-gov:lambda:us-gov-west-1:123456789012:function:billing:2",
        "arn:aws:lambda:eusc-de-east-1:123456789012:function:billing",
    ],
)
def test_base_name_drops_arn_and_qualifier(name: str) -> None:
    assert lambda_invoke.base_name(name) == "billing"


@pytest.mark.parametrize("name", ["", "billing:bad alias", "arn:aws:s3:::bucket", "a:b:c"])
def test_base_name_leaves_a_malformed_name_alone(name: str) -> None:
    assert lambda_invoke.base_name(name) == name


def test_from_env_never_invokes_the_running_function(monkeypatch: pytest.MonkeyPatch) -> None:
    env = {"AWS_LAMBDA_FUNCTION_NAME": "stack-WorkerFunction-ABC", "AWS_REGION": "eu-west-1"}
    functions = DirectLambdaFunctions.from_env({}, environ=env)
    assert functions.client.meta.region_name == "eu-west-1"
    assert not functions.reachable("stack-WorkerFunction-ABC")
    assert not functions.reachable(
        "arn:aws:lambda:eu-west-1:123456789012:function:stack-WorkerFunction-ABC:1"
    )
    assert functions.reachable("billing")


def test_client_retries_adaptively_and_outwaits_a_15_minute_function(client: Any) -> None:
    config = client.meta.config
    assert config.retries["mode"] == "adaptive"
    assert config.retries["total_max_attempts"] == lambda_invoke.MAX_ATTEMPTS + 1 >= 4
    assert config.read_timeout == READ_TIMEOUT_SECONDS > 15 * 60


def test_endpoint_comes_from_the_environment() -> None:
    client = make_lambda_client(environ={"STEPQ_ENDPOINT_URL": "http://127.0.0.1:5000"})
    assert client.meta.endpoint_url == "http://127.0.0.1:5000"
    client = make_lambda_client(
        environ={
            "STEPQ_ENDPOINT_URL": "http://127.0.0.1:5000",
            "STEPQ_LAMBDA_ENDPOINT_URL": "http://127.0.0.1:3001",
        }
    )
    assert client.meta.endpoint_url == "http://127.0.0.1:3001"


@pytest.mark.parametrize(
    ("value", "enabled"),
    [("1", True), ("true", True), ("TRUE", True), ("false", False), ("0", False), ("", False)],
)
def test_enabled_by_env_var(value: str, enabled: bool) -> None:
    assert direct_lambda_enabled({"STEPQ_DIRECT_LAMBDA": value}) is enabled
    assert direct_lambda_enabled({}) is False


# --- the worker Lambda's wiring -------------------------------------------------------


def _worker_app() -> Any:
    """A fresh import of functions/worker/app.py (its cached runtime starts empty)."""
    pytest.importorskip("aws_lambda_powertools")
    import importlib.util
    import uuid
    from pathlib import Path

    path = Path(__file__).resolve().parents[2] / "functions" / "worker" / "app.py"
    spec = importlib.util.spec_from_file_location(f"worker_app_{uuid.uuid4().hex}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_worker_app_wraps_its_functions_when_enabled(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    steps = tmp_path / "steps.py"
    steps.write_text("def hello(event, context):\n    return 'hi'\n")
    monkeypatch.setenv("STEPQ_FUNCTIONS", str(steps))
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "stack-WorkerFunction-ABC")
    monkeypatch.setenv("STEPQ_DIRECT_LAMBDA", "true")
    _, worker = _worker_app()._get()  # builds clients only: no network
    assert isinstance(worker.functions, DirectLambdaFunctions)
    assert worker.functions["hello"]({}, None) == "hi"
    assert worker.functions.reachable("billing")
    assert not worker.functions.reachable("stack-WorkerFunction-ABC")

    monkeypatch.setenv("STEPQ_DIRECT_LAMBDA", "false")
    _, worker = _worker_app()._get()
    assert not isinstance(worker.functions, DirectLambdaFunctions)
    assert worker.functions.get("billing") is None


def test_worker_app_needs_no_functions_module_when_enabled(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("STEPQ_FUNCTIONS", raising=False)
    monkeypatch.setenv("STEPQ_DIRECT_LAMBDA", "1")
    _, worker = _worker_app()._get()
    assert isinstance(worker.functions, DirectLambdaFunctions)
    assert list(worker.functions) == []
    monkeypatch.setenv("STEPQ_DIRECT_LAMBDA", "0")
    with pytest.raises(RuntimeError, match="STEPQ_FUNCTIONS"):
        _worker_app()._get()

"""Step functions that are deployed Lambda functions, invoked directly.

In AWS a Task's Lambda ARN (or ``lambda:invoke``'s ``FunctionName``) names a
deployed function. ``DirectLambdaFunctions`` wraps the worker's registry of
Python step functions: a name the registry has runs locally, as before; any
other (allowed) name becomes a step that calls ``lambda.invoke``
(``RequestResponse``) and answers the way Step Functions' Lambda integration
does:

* success: the response payload, parsed as JSON;
* ``FunctionError`` in the response: error = the payload's ``errorType``
  (``Lambda.Unknown`` when it has none: timeouts, out of memory, a crashed
  runtime), cause = the payload text;
* a Lambda service error: ``Lambda.<Error Code>`` for the errors Lambda's
  Invoke API declares (``Lambda.TooManyRequestsException``,
  ``Lambda.ServiceException``, ``Lambda.ResourceNotFoundException``, ...),
  ``Lambda.AWSLambdaException`` for any other (e.g. ``AccessDeniedException``);
  the cause reads like the Java SDK's ("... (Service: AWSLambda; Status Code:
  429; Error Code: TooManyRequestsException; Request ID: ...; Proxy: null)");
* no response at all: ``Lambda.ClientExecutionTimeoutException`` (read
  timeout) or ``Lambda.SdkClientException`` (connection and other client
  errors).

A Task's version or alias (``function:NAME:prod``, ``FunctionName``
``NAME:3``) reaches the step as ``context.extra["qualifier"]`` (the registry
key is the bare name, so a local step of that name still runs): the invoke
then carries it as Lambda's ``Qualifier`` parameter ("a version or alias to
invoke a published version of the function"); without one there is no
``Qualifier`` and Lambda runs ``$LATEST``.

``stepq.runtime.steps.invoke`` names a failure after the exception's class, so each
failure is raised as an ``InvokeFailed`` subclass whose ``__name__`` is the
Step Functions error name. The exception also carries ``lambda_error``,
``lambda_cause`` (the exact cause text) and ``lambda_stack``.

boto3/botocore are imported lazily: they are the ``aws`` extra, not core
dependencies. Enable in the worker Lambda with ``STEPQ_DIRECT_LAMBDA=1``.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from stepq.runtime.steps import StepFunction, decode_payload

__all__ = [
    "ENV_VAR",
    "QUALIFIER",
    "READ_TIMEOUT_SECONDS",
    "DirectLambdaFunctions",
    "InvokeFailed",
    "direct_lambda_enabled",
    "failure",
    "lambda_client_config",
    "make_lambda_client",
]

ENV_VAR = "STEPQ_DIRECT_LAMBDA"
ENDPOINT_ENV_VARS = ("STEPQ_LAMBDA_ENDPOINT_URL", "STEPQ_ENDPOINT_URL")
# Lambda runs a function for at most 15 minutes; a synchronous invoke's
# response may arrive only then. Wait a little longer than that.
READ_TIMEOUT_SECONDS = 15 * 60 + 60
MAX_ATTEMPTS = 5

UNKNOWN = "Lambda.Unknown"
AWS_LAMBDA_EXCEPTION = "Lambda.AWSLambdaException"
SDK_CLIENT_EXCEPTION = "Lambda.SdkClientException"
CLIENT_TIMEOUT = "Lambda.ClientExecutionTimeoutException"

# Where the host puts a Task's version or alias for a step (``StepContext.extra``).
QUALIFIER = "qualifier"

# Lambda's FunctionName (Invoke's NamespacedFunctionName): a name, a partial or
# full ARN, each optionally qualified with a version or alias.
_FUNCTION_NAME = re.compile(
    r"^(?:arn:(?:aws[a-zA-Z-]*)?:lambda:)?(?:(?:eusc-)?[a-z]{2}(?:-gov|-iso[a-z]?)?-[a-z]+-\d:)?"
    r"(?:\d{12}:)?(?:function:)?(?P<name>[a-zA-Z0-9_.-]+)"
    r"(?::(?P<qualifier>\$LATEST(?:\.PUBLISHED)?|[a-zA-Z0-9_-]+))?$"
)


def direct_lambda_enabled(environ: Mapping[str, str] | None = None) -> bool:
    """``STEPQ_DIRECT_LAMBDA`` is ``1`` or ``true`` (any case)."""
    value = (os.environ if environ is None else environ).get(ENV_VAR, "")
    return value.strip().lower() in {"1", "true"}


def base_name(function_name: str) -> str:
    """``arn:...:function:NAME:alias`` / ``NAME:alias`` / ``NAME`` -> ``NAME``."""
    match = _FUNCTION_NAME.match(function_name)
    return match.group("name") if match else function_name


def context_qualifier(context: Any) -> str | None:
    """The version or alias the host gave a step (``context.extra["qualifier"]``), if any."""
    extra = getattr(context, "extra", None)
    qualifier = extra.get(QUALIFIER) if isinstance(extra, Mapping) else None
    return qualifier if isinstance(qualifier, str) and qualifier else None


# --- failures ----------------------------------------------------------------------


class InvokeFailed(Exception):
    """A direct invocation failed; subclasses are named after the Step Functions error."""

    lambda_error: str = UNKNOWN

    def __init__(self, message: str, cause: str, stack: list[str] | None = None) -> None:
        super().__init__(message)
        self.lambda_cause = cause
        self.lambda_stack = stack or None


_failure_types: dict[str, type[InvokeFailed]] = {}


def failure(error: str) -> type[InvokeFailed]:
    """The ``InvokeFailed`` subclass named ``error`` (e.g. ``Lambda.Unknown``), one per name."""
    kind = _failure_types.get(error)
    if kind is None:
        kind = type(error, (InvokeFailed,), {"lambda_error": error, "__module__": __name__})
        _failure_types[error] = kind
    return kind


def _function_error(payload: bytes) -> InvokeFailed:
    """A response with ``FunctionError``: the payload is Lambda's error document."""
    text = payload.decode("utf-8", errors="replace")
    try:
        document = json.loads(text)
    except ValueError:
        document = None
    error_type = document.get("errorType") if isinstance(document, dict) else None
    message = document.get("errorMessage") if isinstance(document, dict) else None
    stack = document.get("stackTrace") if isinstance(document, dict) else None
    error = error_type if isinstance(error_type, str) and error_type else UNKNOWN
    return failure(error)(
        message if isinstance(message, str) else text,
        text,
        [str(line) for line in stack] if isinstance(stack, list) else None,
    )


def _service_error(exc: Any, declared: frozenset[str] | None) -> InvokeFailed:
    """A botocore ``ClientError`` as Step Functions reports it (the Java SDK's wording)."""
    response = getattr(exc, "response", None) or {}
    error = response.get("Error") or {}
    meta = response.get("ResponseMetadata") or {}
    code = str(error.get("Code") or "Unknown")
    message = str(error.get("Message") or response.get("message") or code)
    status = meta.get("HTTPStatusCode", "null")
    request_id = meta.get("RequestId") or "null"
    cause = (
        f"{message} (Service: AWSLambda; Status Code: {status}; Error Code: {code}; "
        f"Request ID: {request_id}; Proxy: null)"
    )
    known = declared is None or code in declared
    return failure(f"Lambda.{code}" if known else AWS_LAMBDA_EXCEPTION)(message, cause)


def _client_error(exc: Exception) -> InvokeFailed:
    """No response (botocore ``BotoCoreError``): timeouts and connection failures."""
    from botocore.exceptions import ReadTimeoutError

    name = CLIENT_TIMEOUT if isinstance(exc, ReadTimeoutError) else SDK_CLIENT_EXCEPTION
    message = f"Unable to execute HTTP request: {exc}"
    return failure(name)(message, message)


def _declared_errors(client: Any) -> frozenset[str] | None:
    """The error codes Lambda's Invoke API declares (None: unknown, accept every code)."""
    try:
        operation = client.meta.service_model.operation_model("Invoke")
        return frozenset(shape.name for shape in operation.error_shapes)
    except Exception:  # a client without botocore's service model
        return None


# --- the client ---------------------------------------------------------------------


def lambda_client_config() -> Any:
    """Adaptive retries; a read timeout above Lambda's 15-minute maximum run time."""
    from botocore.config import Config

    return Config(
        retries={"mode": "adaptive", "max_attempts": MAX_ATTEMPTS},
        connect_timeout=10,
        read_timeout=READ_TIMEOUT_SECONDS,
        # A long synchronous invoke is one idle connection: keep NATs from dropping it.
        tcp_keepalive=True,
    )


def make_lambda_client(
    *,
    region: str | None = None,
    endpoint_url: str | None = None,
    session: Any = None,
    environ: Mapping[str, str] | None = None,
) -> Any:
    """A boto3 Lambda client; region and endpoint default from the environment
    (``AWS_REGION``/``AWS_DEFAULT_REGION``; ``STEPQ_LAMBDA_ENDPOINT_URL`` or
    ``STEPQ_ENDPOINT_URL``)."""
    env = os.environ if environ is None else environ
    if session is None:
        import boto3

        session = boto3.session.Session()  # not the default one: not thread-safe
    kwargs: dict[str, Any] = {
        "region_name": region
        or env.get("AWS_REGION")
        or env.get("AWS_DEFAULT_REGION")
        or "us-east-1",
        "config": lambda_client_config(),
    }
    endpoint = endpoint_url or next(
        (env[v].strip() for v in ENDPOINT_ENV_VARS if env.get(v, "").strip()), None
    )
    if endpoint:
        kwargs["endpoint_url"] = endpoint
    return session.client("lambda", **kwargs)


# --- the registry ---------------------------------------------------------------------


class DirectLambdaFunctions(Mapping[str, StepFunction]):
    """The local step functions, else the deployed Lambda function of that name.

    ``allow(name)`` (default: every name) decides which names may be invoked
    remotely; a refused or malformed name is missing (``get`` gives None), so
    ``invoke`` reports ``Lambda.ResourceNotFoundException`` without calling
    Lambda. The name (or ARN, with a version or alias qualifier) is passed to
    Lambda as ``FunctionName`` unchanged; a qualifier in the step's
    ``context.extra["qualifier"]`` is passed as ``Qualifier``.

    ``in``, iteration and ``len`` cover the local functions only: the worker
    asks ``name in functions`` to decide whether it hosts a step and may run
    it inline after another, and a remote step should not be chained into the
    same worker invocation (each direct invoke may take up to 15 minutes).
    ``reachable(name)`` says whether ``self[name]`` would succeed.
    """

    def __init__(
        self,
        local: Mapping[str, StepFunction],
        lambda_client: Any,
        *,
        allow: Callable[[str], bool] | None = None,
    ) -> None:
        self.local = local
        self.client = lambda_client
        self.allow = allow
        self._remote: dict[str, StepFunction] = {}
        self._declared: frozenset[str] | None = None
        self._declared_known = False

    @classmethod
    def from_env(
        cls,
        local: Mapping[str, StepFunction],
        *,
        region: str | None = None,
        session: Any = None,
        environ: Mapping[str, str] | None = None,
    ) -> DirectLambdaFunctions:
        """With a client from the environment; never invokes the running function itself."""
        env = os.environ if environ is None else environ
        client = make_lambda_client(region=region, session=session, environ=env)
        own = env.get("AWS_LAMBDA_FUNCTION_NAME") or ""

        def allow(name: str) -> bool:
            return not own or base_name(name) != own

        return cls(local, client, allow=allow)

    def __getitem__(self, name: str) -> StepFunction:
        if name in self.local:
            return self.local[name]
        if not isinstance(name, str) or not _FUNCTION_NAME.match(name):
            raise KeyError(name)
        if self.allow is not None and not self.allow(name):
            raise KeyError(name)
        step = self._remote.get(name)
        if step is None:
            step = self._remote[name] = self._step(name)
        return step

    def __contains__(self, name: object) -> bool:
        return name in self.local

    def reachable(self, name: str) -> bool:
        """A local function, or a name that may be invoked remotely."""
        try:
            self[name]
        except KeyError:
            return False
        return True

    def __iter__(self) -> Iterator[str]:
        return iter(self.local)

    def __len__(self) -> int:
        return len(self.local)

    def _step(self, function_name: str) -> StepFunction:
        def remote(event: Any, context: Any) -> Any:
            return self.invoke(function_name, event, qualifier=context_qualifier(context))

        remote.__name__ = remote.__qualname__ = base_name(function_name)
        return remote

    def invoke(self, function_name: str, event: Any, *, qualifier: str | None = None) -> Any:
        """One synchronous invocation (of ``qualifier``, a version or alias, when given);
        the parsed payload, or ``InvokeFailed``."""
        from botocore.exceptions import BotoCoreError, ClientError

        body = json.dumps(event, separators=(",", ":")).encode()
        request: dict[str, Any] = {
            "FunctionName": function_name,
            "InvocationType": "RequestResponse",
            "Payload": body,
        }
        if qualifier:
            request["Qualifier"] = qualifier
        try:
            response = self.client.invoke(**request)
            payload = _read(response.get("Payload"))
        except ClientError as exc:
            raise _service_error(exc, self._declared_errors()) from None
        except BotoCoreError as exc:
            raise _client_error(exc) from None
        if response.get("FunctionError"):
            raise _function_error(payload)
        return decode_payload(payload)

    def _declared_errors(self) -> frozenset[str] | None:
        if not self._declared_known:
            self._declared, self._declared_known = _declared_errors(self.client), True
        return self._declared


def _read(payload: Any) -> bytes:
    if payload is None:
        return b""
    if isinstance(payload, bytes | bytearray):
        return bytes(payload)
    if isinstance(payload, str):
        return payload.encode()
    return payload.read()  # botocore's StreamingBody

"""The optimised ``sqs:sendMessage`` and ``sns:publish`` integrations, shaped as
Step Functions shapes them.

Requests: a ``MessageBody`` (SQS) or ``Message`` (SNS) that is not a string
is sent as compact JSON text, as Step Functions does. Results: the service's
answer plus the Java SDK v1's ``SdkHttpMetadata`` and ``SdkResponseMetadata``
(these integrations run on it in AWS). Errors: ``SQS.AmazonSQSException`` for
any SQS service error, ``SNS.<Code>Exception`` for SNS, ``<SQS|SNS>.SdkClientException``
when no answer came; the cause reads like the Java SDK v1's ("... (Service:
AmazonSQS; Status Code: 400; Error Code: ...; Request ID: ...; Proxy: null)").
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from stepq.core.dataflow import to_json
from stepq.runtime.steps import Outcome

# integration -> (boto3 service, method, the field sent as JSON text when not a string)
CALLS: dict[str, tuple[str, str, str]] = {
    "sqs:sendMessage": ("sqs", "send_message", "MessageBody"),
    "sns:publish": ("sns", "publish", "Message"),
}
_SDK_NAMES = {"sqs": ("SQS", "AmazonSQS"), "sns": ("SNS", "AmazonSNS")}
# What botocore adds to every answer: not part of the service's result.
_RESPONSE_METADATA = "ResponseMetadata"


def request(integration: str, parameters: dict[str, Any]) -> dict[str, Any]:
    """The boto3 keyword arguments for ``parameters`` (validated at create time)."""
    _, _, text_field = CALLS[integration]
    kwargs = dict(parameters)
    value = kwargs.get(text_field)
    if text_field in kwargs and not isinstance(value, str):
        kwargs[text_field] = to_json(value)
    return kwargs


def sdk_metadata(metadata: dict[str, Any]) -> dict[str, Any]:
    """``SdkHttpMetadata`` and ``SdkResponseMetadata`` from botocore's ``ResponseMetadata``."""
    headers = {str(k): str(v) for k, v in (metadata.get("HTTPHeaders") or {}).items()}
    request_id = str(metadata.get("RequestId") or headers.get("x-amzn-requestid", ""))
    return {
        "SdkHttpMetadata": {
            "AllHttpHeaders": {name: [value] for name, value in headers.items()},
            "HttpHeaders": headers,
            "HttpStatusCode": int(metadata.get("HTTPStatusCode") or 200),
        },
        "SdkResponseMetadata": {"RequestId": request_id},
    }


def result(response: dict[str, Any]) -> dict[str, Any]:
    """The task's result: the answer's fields, then the SDK's metadata."""
    shaped = {k: v for k, v in response.items() if k != _RESPONSE_METADATA}
    shaped.update(sdk_metadata(response.get(_RESPONSE_METADATA) or {}))
    return shaped


def service_failure(integration: str, exc: Any) -> Outcome:
    """A botocore ``ClientError`` as Step Functions names it."""
    service = CALLS[integration][0]
    prefix, sdk_service = _SDK_NAMES[service]
    response = getattr(exc, "response", None) or {}
    error = response.get("Error") or {}
    meta = response.get("ResponseMetadata") or {}
    code = str(error.get("Code") or "Unknown")
    message = str(error.get("Message") or code)
    if service == "sqs":
        name = f"{prefix}.AmazonSQSException"
    else:
        name = f"{prefix}.{code if code.endswith('Exception') else code + 'Exception'}"
    cause = (
        f"{message} (Service: {sdk_service}; Status Code: {meta.get('HTTPStatusCode', 'null')}; "
        f"Error Code: {code}; Request ID: {meta.get('RequestId') or 'null'}; Proxy: null)"
    )
    return Outcome(error=name, cause=cause)


def client_failure(prefix: str, exc: Exception) -> Outcome:
    """No answer at all (connection refused, timed out): the SDK's client exception."""
    return Outcome(
        error=f"{prefix}.SdkClientException", cause=f"Unable to execute HTTP request: {exc}"
    )


def call(
    integration: str, parameters: Any, client_for: Callable[[str], Any], resource: str
) -> Outcome:
    """Run one optimised integration; its Outcome (never raises for the service's errors)."""
    from botocore.exceptions import BotoCoreError, ClientError, ParamValidationError

    service, method, _ = CALLS[integration]
    if not isinstance(parameters, dict):
        return bad_parameters(resource, f"expected an object, got {to_json(parameters)}")
    try:
        response = getattr(client_for(service), method)(**request(integration, parameters))
    except ClientError as exc:
        return service_failure(integration, exc)
    except ParamValidationError as exc:
        return bad_parameters(resource, str(exc))
    except BotoCoreError as exc:
        return client_failure(_SDK_NAMES[service][0], exc)
    return Outcome(output=result(response))


def bad_parameters(resource: str, detail: str) -> Outcome:
    """Parameters the SDK refuses before sending: the task fails with States.Runtime."""
    return Outcome(
        error="States.Runtime",
        cause=f"The parameters of {resource} are not valid: {detail}",
    )

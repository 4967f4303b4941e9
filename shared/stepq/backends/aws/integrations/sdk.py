"""``arn:aws:states:::aws-sdk:<service>:<action>``: any AWS API through boto3.

Resolution: ``<service>`` is the lower-cased SDK service name Step Functions
uses (``sqs``, ``dynamodb``, ``sfn``, ``eventbridge``, ``cloudwatchlogs``,
``acmpca``); it is matched to the few names that differ (``sfn`` is
``stepfunctions``, ``eventbridge`` is ``events``), then to boto3's service
names with their hyphens dropped (``acmpca`` is ``acm-pca``). ``<action>`` is the API's operation in
camelCase (``getQueueUrl`` is ``GetQueueUrl``).

Shaping, through botocore's model of the operation: parameter names are
matched to the API's members ignoring case (Step Functions writes them in
PascalCase even where the API uses camelCase); a string member given a JSON
value gets its JSON text, a blob member its UTF-8 bytes. The result keeps the
API's member names with their first letter upper-cased, timestamps as ISO
8601 text, blobs and streams as text; botocore's ``ResponseMetadata`` is
dropped.

Errors, as Step Functions names them: ``<ServiceName>.<ErrorName>``, both in
PascalCase, the error name always ending in ``Exception`` (SQS's
``QueueDoesNotExist`` is ``Sqs.QueueDoesNotExistException``); the service
name is the Java SDK v2's (``serviceId`` in PascalCase words: ``DynamoDB`` ->
``DynamoDb``, ``ACM PCA`` -> ``AcmPca``, ``CloudWatch Logs`` ->
``CloudWatchLogs``). The cause reads like the Java SDK v2's ("... (Service:
Sqs, Status Code: 400, Request ID: ...)"). No answer at all is
``<ServiceName>.SdkClientException``.
"""

from __future__ import annotations

import base64
import functools
import re
from collections.abc import Callable
from datetime import datetime
from typing import Any

from stepq.core.dataflow import to_json
from stepq.runtime.steps import Outcome

from .optimised import bad_parameters, client_failure

# Step Functions' aws-sdk names whose boto3 name is not the same without hyphens.
ALIASES = {
    "sfn": "stepfunctions",
    "cloudwatchlogs": "logs",
    "eventbridge": "events",
    "cloudwatchevents": "events",
    "elasticloadbalancingv2": "elbv2",
    "elasticloadbalancing": "elb",
    "cognitoidentityprovider": "cognito-idp",
    "databasemigration": "dms",
    "configservice": "config",
    "elasticsearch": "es",
    "costexplorer": "ce",
    "iotdataplane": "iot-data",
    "lexmodelbuilding": "lex-models",
    "lexruntime": "lex-runtime",
    "lexmodelsv2": "lexv2-models",
    "lexruntimev2": "lexv2-runtime",
    "marketplacemetering": "meteringmarketplace",
    "migrationhub": "mgh",
    "pinpointemail": "pinpoint-email",
}
# Java SDK v2 client names that the word rule below does not give.
_JAVA_NAMES = {"IoT": "Iot"}
_WORD = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|\d+")
_RESPONSE_METADATA = "ResponseMetadata"


class UnknownIntegration(Exception):
    """The resource names a service or action botocore does not know."""


def java_service_name(service_id: str) -> str:
    """``DynamoDB`` -> ``DynamoDb``, ``ACM PCA`` -> ``AcmPca``, ``SQS`` -> ``Sqs``."""
    if service_id in _JAVA_NAMES:
        return _JAVA_NAMES[service_id]
    return "".join(word.capitalize() for word in _WORD.findall(service_id))


def _squash(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


class ServiceCatalog:
    """Step Functions' aws-sdk service names -> boto3's, from botocore's data (cached)."""

    def __init__(self, session: Any) -> None:
        self._session = session

    @functools.cached_property
    def _available(self) -> dict[str, str]:
        return {_squash(name): name for name in self._session.get_available_services()}

    def boto_name(self, sdk_name: str) -> str:
        key = _squash(sdk_name)
        if key in ALIASES:
            return ALIASES[key]
        if key in self._available:
            return self._available[key]
        raise UnknownIntegration(f"the AWS SDK has no service {sdk_name!r}")


def operation_name(client: Any, action: str) -> str:
    """``getQueueUrl`` -> ``GetQueueUrl`` (the model's spelling, matched ignoring case)."""
    names = client.meta.service_model.operation_names
    wanted = action[:1].upper() + action[1:]
    if wanted in names:
        return wanted
    for name in names:
        if name.lower() == action.lower():
            return name
    raise UnknownIntegration(f"{client.meta.service_model.service_name} has no action {action!r}")


# --- shaping -----------------------------------------------------------------------------


def to_request(value: Any, shape: Any) -> Any:
    """Step Functions' parameters -> what botocore expects for ``shape``."""
    if shape is None:
        return value
    kind = shape.type_name
    if kind == "structure" and isinstance(value, dict):
        members = shape.members
        lowered = {name.lower(): name for name in members}
        out: dict[str, Any] = {}
        for key, item in value.items():
            name = key if key in members else lowered.get(str(key).lower(), key)
            out[name] = to_request(item, members.get(name))
        return out
    if kind == "list" and isinstance(value, list):
        return [to_request(item, shape.member) for item in value]
    if kind == "map" and isinstance(value, dict):
        return {key: to_request(item, shape.value) for key, item in value.items()}
    if kind == "string" and value is not None and not isinstance(value, str):
        return to_json(value)
    if kind == "blob" and value is not None and not isinstance(value, bytes | bytearray):
        return (value if isinstance(value, str) else to_json(value)).encode()
    return value


def from_response(value: Any, shape: Any = None) -> Any:
    """botocore's answer -> JSON in the API's casing (first letter upper-cased)."""
    if isinstance(value, dict):
        members = shape.members if shape is not None and shape.type_name == "structure" else None
        if members is not None:
            return {
                _pascal(key): from_response(item, members.get(key))
                for key, item in value.items()
                if key != _RESPONSE_METADATA
            }
        inner = shape.value if shape is not None and shape.type_name == "map" else None
        return {key: from_response(item, inner) for key, item in value.items()}
    if isinstance(value, list):
        inner = shape.member if shape is not None and shape.type_name == "list" else None
        return [from_response(item, inner) for item in value]
    if isinstance(value, datetime):
        return value.isoformat()
    if hasattr(value, "read"):  # a StreamingBody
        value = value.read()
    if isinstance(value, bytes | bytearray):
        try:
            return bytes(value).decode("utf-8")
        except UnicodeDecodeError:
            return base64.b64encode(bytes(value)).decode("ascii")
    return value


def _pascal(key: str) -> str:
    return key[:1].upper() + key[1:]


# --- errors ------------------------------------------------------------------------------


def error_name(client: Any, code: str) -> str:
    """``QueueDoesNotExist`` (or its query code) -> ``Sqs.QueueDoesNotExistException``."""
    model = client.meta.service_model
    prefix = java_service_name(model.service_id)
    if not code:
        return f"{prefix}.{prefix}Exception"
    name = _modelled(model).get(code, code)
    name = name.rsplit(".", 1)[-1]  # AWS.SimpleQueueService.X: a code, not a name
    return f"{prefix}.{name if name.endswith('Exception') else name + 'Exception'}"


def _modelled(model: Any) -> dict[str, str]:
    """An error's code (or query code) -> its shape's name."""
    names: dict[str, str] = {}
    for shape in getattr(model, "error_shapes", []):
        names[shape.name] = shape.name
        code = getattr(shape, "error_code", None)
        if code:
            names.setdefault(code, shape.name)
    return names


def service_failure(client: Any, exc: Any) -> Outcome:
    response = getattr(exc, "response", None) or {}
    error = response.get("Error") or {}
    meta = response.get("ResponseMetadata") or {}
    code = str(error.get("QueryErrorCode") or error.get("Code") or "")
    message = str(error.get("Message") or code or "An error occurred")
    prefix = java_service_name(client.meta.service_model.service_id)
    details = [f"Service: {prefix}", f"Status Code: {meta.get('HTTPStatusCode', 'null')}"]
    details.append(f"Request ID: {meta.get('RequestId') or 'null'}")
    return Outcome(error=error_name(client, code), cause=f"{message} ({', '.join(details)})")


def call(
    service: str,
    action: str,
    parameters: Any,
    client_for: Callable[[str], Any],
    catalog: ServiceCatalog,
    resource: str,
) -> Outcome:
    """Run ``<service>:<action>`` with ``parameters``; its Outcome."""
    from botocore import xform_name
    from botocore.exceptions import BotoCoreError, ClientError, ParamValidationError

    if parameters is None:
        parameters = {}
    if not isinstance(parameters, dict):
        return bad_parameters(resource, f"expected an object, got {to_json(parameters)}")
    try:
        client = client_for(catalog.boto_name(service))
        operation = client.meta.service_model.operation_model(operation_name(client, action))
    except UnknownIntegration as exc:
        return bad_parameters(resource, str(exc))
    try:
        method = getattr(client, xform_name(operation.name))
        response = method(**to_request(parameters, operation.input_shape))
    except ClientError as exc:
        return service_failure(client, exc)
    except ParamValidationError as exc:
        return bad_parameters(resource, str(exc))
    except BotoCoreError as exc:
        return client_failure(java_service_name(client.meta.service_model.service_id), exc)
    return Outcome(output=from_response(response, operation.output_shape))

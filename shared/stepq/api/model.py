"""botocore's service model for ``stepfunctions``: what each operation accepts.

Requests are checked against the same shapes the botocore client uses (types,
required members, lengths, enums), so a request this server accepts is one
AWS would, and a wrong one gets ``ValidationException`` naming the member.
Only botocore's data files are read; nothing here talks to AWS.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from botocore.exceptions import ParamValidationError
from botocore.model import OperationModel, ServiceModel
from botocore.session import get_session
from botocore.validate import ParamValidator

from stepq.api.protocol import ApiError


@cache
def service_model() -> ServiceModel:
    return get_session().get_service_model("stepfunctions")


def operation_model(name: str) -> OperationModel | None:
    model = service_model()
    return model.operation_model(name) if name in model.operation_names else None


def check_input(name: str, params: dict[str, Any]) -> None:
    """``ValidationException`` for a request botocore's model would refuse."""
    model = operation_model(name)
    if model is None or model.input_shape is None:
        return
    try:
        report = ParamValidator().validate(params, model.input_shape)
    except ParamValidationError as exc:  # pragma: no cover - validate() returns a report
        raise ApiError("ValidationException", str(exc)) from None
    if report.has_errors():
        text = report.generate_report().replace("\n", "; ")
        raise ApiError("ValidationException", f"Invalid request: {text}")

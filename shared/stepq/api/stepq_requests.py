"""The request models of stepq's own operations (``Stepq.*``) and their parsing.

Strict and closed: a field of the wrong type or one the operation does not
know is refused, as Step Functions refuses them, with one
``ValidationException`` that names every problem at its path.
"""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

from stepq.api.protocol import ApiError


class StepqRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


R = TypeVar("R", bound=BaseModel)


def parse_request(model: type[R], params: dict[str, Any]) -> R:
    """``params`` as ``model``, or ValidationException listing each problem."""
    try:
        return model.model_validate(params)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'request'}: {e['msg']}" for e in exc.errors()
        )
        raise ApiError("ValidationException", f"Invalid request: {problems}") from None

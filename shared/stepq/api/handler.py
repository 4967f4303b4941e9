"""One request in, one response out: the handler the server and the Lambda share.

Every failure becomes Step Functions' error shape: an ``ApiError`` as the
operation raised it, a store error translated (not found, conflict), and
anything unexpected a logged ``InternalFailure`` (500) without a traceback in
the reply. Nothing a caller sends produces a 500 on purpose; the fuzz test
checks that. A caller who is not a target of callback tasks (a person) gets
every task token in the reply redacted (``api/redaction.py``).
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

from stepq.api import model
from stepq.api.context import ApiContext
from stepq.api.identity import PERSON, identity_of
from stepq.api.protocol import (
    CONTENT_TYPE,
    STEPQ_PREFIX,
    TARGET_PREFIX,
    ApiError,
    ApiRequest,
    ApiResponse,
    error_response,
    ok_response,
    parse_body,
)
from stepq.api.redaction import may_hold_tokens, redact_tokens, sees_tokens
from stepq.api.registry import OPERATIONS, STEPQ_OPERATIONS, WITH_IDENTITY
from stepq.errors import ConflictError, StepqError, StoreError

log = logging.getLogger(__name__)

# The API's paths: "/" (IAM in AWS) and "/people" (the Cognito-authorized path
# template.yaml adds); both speak the same protocol to the same operations.
API_PATHS = ("/", "", "/people", "/people/")


def load_operations() -> None:
    """Import every module that registers operations (once; the registry is global)."""
    from stepq.api import operations  # noqa: F401  (registers on import)


class ApiHandler:
    def __init__(self, ctx: ApiContext) -> None:
        load_operations()
        self.ctx = ctx

    def handle(self, request: ApiRequest) -> ApiResponse:
        response = self._handle(request)
        if may_hold_tokens(response.body) and not self._sees_tokens(request):
            response.body = redact_tokens(response.body)
        return response

    def _sees_tokens(self, request: ApiRequest) -> bool:
        """Whether the caller is a target of callback tasks (api/redaction.py)."""
        try:
            caller = identity_of(request, dev_identities=self.ctx.dev_identities)
        except ApiError:  # a malformed dev header: nobody we know
            return False
        return sees_tokens(self.ctx, caller)

    def _handle(self, request: ApiRequest) -> ApiResponse:
        request_id = str(uuid.uuid4())
        try:
            name, params, fn = self._route(request)
            _people_only(request, name)
            if not name.startswith(STEPQ_PREFIX):
                model.check_input(name, params)
            if name.startswith(STEPQ_PREFIX) and name[len(STEPQ_PREFIX) :] in WITH_IDENTITY:
                caller = identity_of(request, dev_identities=self.ctx.dev_identities)
                result = fn(self.ctx, params, caller)
            else:
                result = fn(self.ctx, params)
        except ApiError as exc:
            return error_response(exc, request_id)
        except ConflictError as exc:
            return error_response(ApiError("ConflictException", str(exc)), request_id)
        except StoreError as exc:
            # The table is unreachable or refused the write: the caller may retry.
            log.warning("API request failed on the store: %s", exc)
            return error_response(ApiError("ServiceUnavailable", str(exc), 503), request_id)
        except StepqError as exc:
            return error_response(ApiError("ValidationException", str(exc)), request_id)
        except Exception:
            log.exception("API request failed")
            failure = ApiError("InternalFailure", f"internal error (request {request_id})", 500)
            return error_response(failure, request_id)
        return ok_response(result, request_id)

    def _route(self, request: ApiRequest) -> tuple[str, dict[str, Any], Any]:
        if request.method != "POST" or request.path not in API_PATHS:
            raise ApiError("UnknownOperationException", "use POST / with an X-Amz-Target", 404)
        content_type = request.header("content-type").split(";")[0].strip().lower()
        if content_type not in (CONTENT_TYPE, "application/json"):
            raise ApiError("UnsupportedMediaType", f"Content-Type must be {CONTENT_TYPE}", 415)
        target = request.header("x-amz-target")
        if target.startswith(TARGET_PREFIX):
            name = target[len(TARGET_PREFIX) :]
            fn = OPERATIONS.get(name)
        elif target.startswith(STEPQ_PREFIX):
            name = target
            fn = STEPQ_OPERATIONS.get(target[len(STEPQ_PREFIX) :])
        else:
            fn, name = None, target
        if fn is None:
            raise ApiError("UnknownOperationException", f"unknown operation {target!r}")
        return name, parse_body(request.body), fn


def _people_only(request: ApiRequest, name: str) -> None:
    """A person (the authorizer named a Cognito user) reaches only the people operations.

    Everything else (the Step Functions API, ops) is for machines: a signed-in
    user must not delete state machines or redrive dead letters.
    """
    if not request.caller:
        return
    identity = identity_of(request, dev_identities=False)
    if identity is None or identity.kind != PERSON:
        return
    if name.startswith(STEPQ_PREFIX) and name[len(STEPQ_PREFIX) :] in WITH_IDENTITY:
        return
    raise ApiError(
        "AccessDeniedException",
        f"{identity.id} is a person: {name} is for IAM callers (people use Stepq.* operations)",
        403,
    )

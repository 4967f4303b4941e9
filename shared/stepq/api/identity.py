"""Who is calling: the identity people operations act as.

In AWS the API's authorizer says: a Cognito user pool for people (the
``cognito:username`` claim), IAM for machines (the caller's ARN); the Lambda
handler puts it on ``ApiRequest.caller``. Locally ``stepq dev
--dev-identities`` takes the user from the ``X-Stepq-Dev-User`` header: anyone
who can reach the port can claim any name, so it is off by default and only
for development. Without either, people operations are refused.
"""

from __future__ import annotations

from dataclasses import dataclass

from stepq.api.protocol import ApiError, ApiRequest
from stepq.core.people.model import check_person

DEV_USER_HEADER = "X-Stepq-Dev-User"
PERSON, MACHINE = "person", "machine"


@dataclass(frozen=True, slots=True)
class Identity:
    id: str
    kind: str  # PERSON or MACHINE


def identity_of(request: ApiRequest, *, dev_identities: bool) -> Identity | None:
    """The caller's identity, or None when the request carries none."""
    if request.caller:
        kind = MACHINE if request.caller.startswith("arn:") else PERSON
        return Identity(request.caller, kind)
    if dev_identities:
        named = request.header(DEV_USER_HEADER).strip()
        if named:
            try:
                return Identity(check_person(named), PERSON)
            except ValueError as exc:
                raise ApiError("ValidationException", f"{DEV_USER_HEADER}: {exc}") from None
    return None


def required(identity: Identity | None) -> Identity:
    """The identity a people operation acts as; AccessDeniedException without one."""
    if identity is None:
        raise ApiError(
            "AccessDeniedException",
            "this operation needs an identity: a signed-in user (Cognito) or IAM caller, "
            f"or `stepq dev --dev-identities` and the {DEV_USER_HEADER} header "
            "(the CLI's --as USER)",
            403,
        )
    return identity

"""People on the offline stack: a user of the stack's Cognito pool signs in, and the ID
token reaches the API function through ``POST /people`` as API Gateway's Cognito
authorizer would pass it.

API Gateway is not emulated, so its authorizer is played here: the token moto's
Cognito issued is verified (signature with the pool's published keys, issuer,
audience = the stack's app client, ``token_use`` id, not expired) and its claims
go into ``requestContext.authorizer.claims``. What is checked is stepq's side:
the handler takes the person from ``cognito:username``, serves them the people
operations, and refuses them the machines' ones.
"""

from __future__ import annotations

import gzip
import json
import time
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

from deploy.lambda_emulator import rest_api_event

PERSON, PASSWORD = "vera", "Verify-1234-please"
GROUP = "Verification"


@dataclass
class PeopleRun:
    signed_in: str = ""  # the cognito:username the authorizer passed on
    answers: dict[str, tuple[int, Any]] = field(default_factory=dict)  # call -> (status, body)


def _pool_keys() -> Any:
    from joserfc.jwk import KeySet

    path = resources.files("moto.cognitoidp").joinpath("resources/jwks-public.json.gz")
    return KeySet.import_key_set(json.loads(gzip.decompress(path.read_bytes())))


def authorize(token: str, pool_id: str, client_id: str, region: str) -> dict[str, str]:
    """What API Gateway's Cognito user pool authorizer does with an ID token."""
    from joserfc import jwt

    claims = jwt.decode(token, _pool_keys()).claims  # the signature, or BadSignatureError
    issuer = f"https://cognito-idp.{region}.amazonaws.com/{pool_id}"
    assert claims["iss"] == issuer, claims["iss"]
    assert claims["aud"] == client_id and claims["token_use"] == "id", claims
    # moto issues tokens on the real clock, which TimeTravel leaves alone.
    assert claims["exp"] > time.time()  # noqa: TID251
    return {k: str(v) for k, v in claims.items()}  # REST API authorizers pass strings


def run_people(stack: Any) -> PeopleRun:
    run = PeopleRun()
    pool_id = stack.resources["UserPool"].ref
    client_id = stack.resources["UserPoolClient"].ref
    cognito = stack.deployer_client("cognito-idp")
    cognito.admin_create_user(UserPoolId=pool_id, Username=PERSON, MessageAction="SUPPRESS")
    cognito.admin_set_user_password(
        UserPoolId=pool_id, Username=PERSON, Password=PASSWORD, Permanent=True
    )
    tokens = cognito.initiate_auth(
        ClientId=client_id,
        AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": PERSON, "PASSWORD": PASSWORD},
    )["AuthenticationResult"]
    claims = authorize(tokens["IdToken"], pool_id, client_id, "us-east-1")
    run.signed_in = claims["cognito:username"]
    # An operator (IAM, POST /) puts the person in a group ...
    run.answers["CreateGroup"] = stack.call_api(
        "CreateGroup", {"name": GROUP, "members": [PERSON]}, target="Stepq."
    )
    # ... and the person asks through POST /people with their token's claims.
    for name, target in (
        ("WhoAmI", "Stepq.WhoAmI"),
        ("ListMyTasks", "Stepq.ListMyTasks"),
        ("ListStateMachines", "AWSStepFunctions.ListStateMachines"),
        ("CreateGroup as a person", "Stepq.CreateGroup"),
    ):
        body = {"name": "Mine", "members": [PERSON]} if "CreateGroup" in name else {}
        run.answers[name] = _as_person(stack, target, body, claims)
    return run


def _as_person(stack: Any, target: str, body: dict[str, Any], claims: dict[str, str]) -> Any:
    function, version, api_id = stack.api
    assert version != "2.0", "template.yaml's API is a REST API (its /people authorizer)"
    headers = {"Content-Type": "application/x-amz-json-1.0", "X-Amz-Target": target}
    event = rest_api_event(
        json.dumps(body), headers, api_id=api_id, stage="Prod", account=stack.account_id, caller=""
    )
    event["resource"] = event["path"] = "/people"
    event["requestContext"]["resourcePath"] = "/people"
    event["requestContext"]["identity"] = {"sourceIp": "127.0.0.1"}  # no IAM caller
    event["requestContext"]["authorizer"] = {"claims": claims}
    response = function.invoke(event)
    return int(response["statusCode"]), json.loads(response.get("body") or "null")

"""``stepq.client``: boto3's stepfunctions client signed for API Gateway's IAM auth.

No I/O: a ``before-send`` handler (botocore's own seam) keeps each request
and answers it, so nothing leaves the process.
"""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
import stepq
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest, AWSResponse
from botocore.credentials import Credentials
from stepq.backends.aws.connect import region_of

API = "https://abc123defg.execute-api.eu-west-1.amazonaws.com/Prod/"
KEY, SECRET, TOKEN = "AKIAUNITTEST00000001", "unit-secret", "unit-session-token"


class _Raw:
    def __init__(self, body: bytes) -> None:
        self.body = body

    def stream(self, **_: Any) -> Any:
        yield self.body


def _capture(sfn: Any, reply: dict[str, Any]) -> list[AWSRequest]:
    sent: list[AWSRequest] = []

    def answer(request: AWSRequest, **_: Any) -> AWSResponse:
        sent.append(request)
        body = json.dumps(reply).encode()
        return AWSResponse(
            request.url, 200, {"Content-Type": "application/x-amz-json-1.0"}, _Raw(body)
        )

    sfn.meta.events.register("before-send.sfn", answer)
    return sent


def _session() -> Any:
    return boto3.session.Session(
        aws_access_key_id=KEY, aws_secret_access_key=SECRET, aws_session_token=TOKEN
    )


def _header(request: AWSRequest, name: str) -> str:
    value = request.headers[name]
    return value.decode() if isinstance(value, bytes) else str(value)


def _scope(request: AWSRequest) -> list[str]:
    credential = _header(request, "Authorization").split("Credential=")[1].split(",")[0]
    return credential.split("/")  # key, date, region, service, aws4_request


def _resigned(request: AWSRequest, service: str, region: str) -> str:
    """The signature botocore's own signer gives the same request, for ``service``."""
    signed = _header(request, "Authorization").split("SignedHeaders=")[1].split(",")[0]
    again = AWSRequest(
        method=request.method,
        url=request.url,
        data=request.body,
        headers={k: _header(request, k) for k in request.headers if k.lower() in signed.split(";")},
    )
    again.context["timestamp"] = _header(request, "X-Amz-Date")
    signer = SigV4Auth(Credentials(KEY, SECRET, TOKEN), service, region)
    return signer.signature(signer.string_to_sign(again, signer.canonical_request(again)), again)


def test_requests_are_signed_for_execute_api_in_the_url_s_region() -> None:
    sfn = stepq.client(API, session=_session())
    sent = _capture(sfn, {"executionArn": "arn:x", "startDate": 0})
    sfn.start_execution(stateMachineArn="arn:aws:states:eu-west-1:123456789012:stateMachine:m")
    (request,) = sent
    assert request.url == API  # the stage path kept, no sync- or states host
    key, _, region, service, _ = _scope(request)
    assert (key, region, service) == (KEY, "eu-west-1", "execute-api")
    assert _header(request, "X-Amz-Security-Token") == TOKEN
    signature = _header(request, "Authorization").rsplit("Signature=", 1)[1]
    assert signature == _resigned(request, "execute-api", "eu-west-1")
    assert signature != _resigned(request, "states", "eu-west-1")


def test_start_sync_execution_gets_no_host_prefix() -> None:
    sfn = stepq.client(API, session=_session())
    sent = _capture(
        sfn, {"executionArn": "arn:x", "startDate": 0, "stopDate": 0, "status": "SUCCEEDED"}
    )
    sfn.start_sync_execution(stateMachineArn="arn:aws:states:eu-west-1:123456789012:stateMachine:m")
    assert sent[0].url == API


def test_the_hook_signs_a_client_built_without_stepq() -> None:
    plain = _session().client("stepfunctions", endpoint_url=API, region_name="eu-west-1")
    sent = _capture(plain, {"stateMachines": []})
    plain.list_state_machines()
    assert _scope(sent[0])[3] == "states"  # unchanged boto3: refused by API Gateway

    plain.meta.events.register("before-sign.sfn", stepq.sign_for_execute_api)
    plain.list_state_machines()
    assert _scope(sent[1])[3] == "execute-api"


def test_region_comes_from_the_argument_then_the_url_then_the_session() -> None:
    custom = "https://workflows.example.com/"
    assert _region(stepq.client(API, session=_session(), region="us-west-2")) == "us-west-2"
    assert _region(stepq.client(API, session=_session())) == "eu-west-1"
    session = boto3.session.Session(
        aws_access_key_id=KEY, aws_secret_access_key=SECRET, region_name="ap-south-1"
    )
    assert _region(stepq.client(custom, session=session)) == "ap-south-1"


def _region(sfn: Any) -> str:
    sent = _capture(sfn, {"stateMachines": []})
    sfn.list_state_machines()
    return _scope(sent[0])[2]


@pytest.mark.parametrize(
    ("url", "region"),
    [
        ("https://abc123.execute-api.us-east-2.amazonaws.com/Prod", "us-east-2"),
        ("https://abc123.execute-api.cn-north-1.amazonaws.com.cn/v1/", "cn-north-1"),
        ("https://api.example.com/", None),
        ("http://127.0.0.1:8083", None),
    ],
)
def test_region_of_reads_execute_api_hosts_only(url: str, region: str | None) -> None:
    assert region_of(url) == region


def test_a_url_that_is_not_http_is_refused() -> None:
    with pytest.raises(ValueError, match="http"):
        stepq.client("abc123.execute-api.us-east-1.amazonaws.com", session=_session())

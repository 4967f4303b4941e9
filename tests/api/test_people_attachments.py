"""Attachments over HTTP (``stepq dev --dev-identities``): AttachFile answers a
signed upload URL on the dev server, the client PUTs the bytes there,
ConfirmAttachment lists the file in DescribeRequest, GetAttachment answers a
download URL. Only participants attach or download; a tampered, expired or
oversized upload is refused."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
from stepq.clock import SystemClock
from stepq.hosting.attachment_links import MAX_BYTES
from stepq.hosting.dev import DevServer

from api.people_support import ROLE, Refused, call, human
from api.server_support import client, module_server, unique

WAIT = {
    "StartAt": "Review",
    "States": {
        "Review": human(
            "Review the claim",
            [{"Name": "ok", "Requires": [{"Action": "Approve", "By": {"Requester": True}}]}],
            End=True,
        )
    },
}


@pytest.fixture(scope="module")
def dev() -> Iterator[DevServer]:
    with module_server(dev_identities=True) as server:
        yield server


@pytest.fixture
def request_arn(dev: DevServer) -> str:
    sfn = client(dev)
    arn = sfn.create_state_machine(
        name=unique("attach"), definition=json.dumps(WAIT), roleArn=ROLE
    )["stateMachineArn"]
    params = {"stateMachineArn": arn, "input": '{"expense": {"amount": 1}}'}
    params["stakeholders"] = ["sam"]
    return str(call(dev, "CreateRequest", params, "jane")["executionArn"])


def http(method: str, url: str, data: bytes | None = None, **headers: str) -> tuple[int, bytes]:
    request = urllib.request.Request(url, data=data, headers=headers, method=method)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def the_task(dev: DevServer, arn: str) -> str:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        tasks = call(dev, "ListRequestTasks", {"executionArn": arn}, "jane")["tasks"]
        if tasks:
            return str(tasks[0]["taskId"])
        time.sleep(0.05)
    raise AssertionError(f"no task opened for {arn}")


def attach(dev: DevServer, arn: str, who: str = "jane", **more: Any) -> dict[str, Any]:
    params = {"executionArn": arn, "name": "receipt.pdf", "contentType": "application/pdf"}
    return dict(call(dev, "AttachFile", {**params, **more}, who))


def test_attach_upload_confirm_list_download(dev: DevServer, request_arn: str) -> None:
    data = b"%PDF-1.4 receipt bytes" * 100
    answer = attach(dev, request_arn, "sam", size=len(data))
    assert set(answer) == {"attachmentId", "uploadUrl", "expires", "headers"}
    assert answer["expires"] > SystemClock().now().timestamp() + 14 * 60
    # Not listed until confirmed (it may never be uploaded).
    described = call(dev, "DescribeRequest", {"executionArn": request_arn}, "jane")
    assert described["attachments"] == []
    ref = {"executionArn": request_arn, "attachmentId": answer["attachmentId"]}
    with pytest.raises(Refused) as early:
        call(dev, "ConfirmAttachment", ref, "sam")
    assert early.value.status == 403 and "not been uploaded" in early.value.message

    status, _ = http("PUT", answer["uploadUrl"], data, **answer["headers"])
    assert status == 200
    confirmed = call(dev, "ConfirmAttachment", ref, "sam")
    assert confirmed["size"] == len(data) and confirmed["by"] == "sam"
    assert call(dev, "ConfirmAttachment", ref, "sam") == confirmed  # a retry: the same

    described = call(dev, "DescribeRequest", {"executionArn": request_arn}, "jane")
    [listed] = described["attachments"]
    assert listed == confirmed
    assert listed["name"] == "receipt.pdf" and listed["contentType"] == "application/pdf"
    assert set(listed) == {"attachmentId", "name", "contentType", "by", "at", "size"}

    shown = call(dev, "DescribeTask", {"taskId": the_task(dev, request_arn)}, "sam")
    assert shown["attachments"] == [confirmed]

    link = call(dev, "GetAttachment", ref, "jane")
    status, body = http("GET", link["downloadUrl"])
    assert (status, body) == (200, data)
    # The audit trail has one FileAttached line (the confirm was retried).
    deadline = time.monotonic() + 20
    while True:
        tasks = call(dev, "ListRequestTasks", {"executionArn": request_arn}, "jane")["tasks"]
        audit = [
            line
            for task in tasks
            for line in call(dev, "DescribeTask", {"taskId": task["taskId"]}, "jane")["audit"]
        ]
        lines = [(x["who"], x["what"]) for x in audit if x["what"] == "FileAttached"]
        if lines or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert lines == [("sam", "FileAttached")]


def test_a_non_participant_is_refused(dev: DevServer, request_arn: str) -> None:
    with pytest.raises(Refused) as refused:
        attach(dev, request_arn, "mallory")
    assert refused.value.status == 403 and refused.value.type == "AccessDeniedException"
    answer = attach(dev, request_arn)
    status, _ = http("PUT", answer["uploadUrl"], b"x", **answer["headers"])
    assert status == 200
    ref = {"executionArn": request_arn, "attachmentId": answer["attachmentId"]}
    for operation in ("ConfirmAttachment", "GetAttachment"):
        with pytest.raises(Refused) as denied:
            call(dev, operation, ref, "mallory")
        assert denied.value.status == 403


def with_query(url: str, **changes: str) -> str:
    parts = urllib.parse.urlsplit(url)
    query = dict(urllib.parse.parse_qsl(parts.query)) | changes
    return urllib.parse.urlunsplit(parts._replace(query=urllib.parse.urlencode(query)))


def test_tampered_expired_and_oversized_uploads_are_refused(
    dev: DevServer, request_arn: str
) -> None:
    answer = attach(dev, request_arn)
    url, headers = answer["uploadUrl"], answer["headers"]
    sig = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(url).query))["sig"]
    tampered = with_query(url, sig=("A" if sig[0] != "A" else "B") + sig[1:])
    expired = with_query(url, expires=str(int(SystemClock().now().timestamp()) - 1))
    other_key = url.replace(answer["attachmentId"], "0" * 32)
    for bad in (tampered, expired, other_key):
        status, body = http("PUT", bad, b"x", **headers)
        assert status == 403, bad
        assert json.loads(body)["__type"] == "AccessDeniedException"
        assert b"Traceback" not in body
    # The signature covers the content type.
    assert http("PUT", url, b"x", **{"Content-Type": "text/html"})[0] == 403
    status, _ = http("PUT", url, b"x" * (MAX_BYTES + 1), **headers)
    assert status == 413
    # A download URL does not upload, nor an upload URL download.
    assert http("GET", url)[0] == 403
    ref = {"executionArn": request_arn, "attachmentId": answer["attachmentId"]}
    with pytest.raises(Refused):  # nothing was stored
        call(dev, "ConfirmAttachment", ref, "jane")

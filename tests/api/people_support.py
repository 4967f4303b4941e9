"""What the people API suites share: a stepq operation called as a person over HTTP,
and the approval machines of docs/PEOPLE.md written as plain ASL."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

from stepq.api.identity import DEV_USER_HEADER
from stepq.core.people.model import HUMAN_TASK_RESOURCE
from stepq.hosting.dev import DevServer

ROLE = "arn:aws:iam::111111111111:role/stepq-people"


class Refused(Exception):
    def __init__(self, status: int, body: dict[str, Any]) -> None:
        super().__init__(f"{status} {body}")
        self.status = status
        self.type = str(body.get("__type", ""))
        self.message = str(body.get("message", ""))


def call(dev: DevServer, name: str, params: dict[str, Any], user: str | None) -> Any:
    """``Stepq.<name>`` as ``user`` (the X-Stepq-Dev-User header; None: no identity)."""
    headers = {
        "Content-Type": "application/x-amz-json-1.0",
        "X-Amz-Target": f"Stepq.{name}",
    }
    if user is not None:
        headers[DEV_USER_HEADER] = user
    request = urllib.request.Request(
        dev.url + "/", data=json.dumps(params).encode(), headers=headers, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as exc:
        raise Refused(exc.code, json.loads(exc.read() or b"{}")) from None


def human(title: str, transitions: list[dict[str, Any]], **state: Any) -> dict[str, Any]:
    """A human task state; its result at ``$.task`` (the Choice after it routes on it)."""
    return {
        "Type": "Task",
        "Resource": HUMAN_TASK_RESOURCE,
        "Parameters": {"Title": title, "Data.$": "$.expense", "Transitions": transitions},
        "ResultPath": "$.task",
        **state,
    }


def by(action: str, target: dict[str, Any], **more: Any) -> dict[str, Any]:
    return {"Action": action, "By": target, **more}


REQUESTER = {"Requester": True}
EXECUTIVES = {"Group": "Executives"}


def route(choices: dict[str, str], default: str) -> dict[str, Any]:
    return {
        "Type": "Choice",
        "Choices": [
            {"Variable": "$.task.Transition", "StringEquals": name, "Next": to}
            for name, to in choices.items()
        ],
        "Default": default,
    }


def walkthrough(title_a: str = "Approve the expense") -> dict[str, Any]:
    """States A (start), B, C (denied): A->B needs Approve by the requester AND by an
    Executive, A->C Deny by an Executive, B->C Deny by the requester."""
    return {
        "StartAt": "A",
        "States": {
            "A": human(
                title_a,
                [
                    {
                        "Name": "toB",
                        "Requires": [by("Approve", REQUESTER), by("Approve", EXECUTIVES)],
                    },
                    {"Name": "toC", "Requires": [by("Deny", EXECUTIVES)]},
                ],
                Next="RouteA",
            ),
            "RouteA": route({"toB": "B", "toC": "C"}, "C"),
            "B": human("Confirm", [{"Name": "toC", "Requires": [by("Deny", REQUESTER)]}], Next="C"),
            "C": {"Type": "Succeed"},
        },
    }

"""Groups and WhoAmI over HTTP against ``stepq dev --dev-identities`` (docs/PEOPLE.md).

Who administers groups: a person in ``Admins``, an IAM caller, and a request
with no identity only on a loopback server (the local operator).
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
from stepq.api.context import ApiContext
from stepq.api.handler import ApiHandler
from stepq.api.protocol import ApiRequest
from stepq.hosting.dev import DevServer

from api.server_support import module_server, unique


@pytest.fixture(scope="module")
def dev() -> Iterator[DevServer]:
    with module_server(dev_identities=True) as server:
        yield server


def call(
    dev: DevServer, operation: str, params: dict[str, Any] | None = None, *, user: str | None = None
) -> tuple[int, dict[str, Any]]:
    """POST ``Stepq.<operation>`` as ``user`` (the dev header); (status, body)."""
    headers = {"Content-Type": "application/x-amz-json-1.0", "X-Amz-Target": f"Stepq.{operation}"}
    if user is not None:
        headers["X-Stepq-Dev-User"] = user
    request = urllib.request.Request(
        dev.url + "/", data=json.dumps(params or {}).encode(), headers=headers, method="POST"
    )
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(request, timeout=10) as reply:
            return reply.status, json.loads(reply.read() or b"{}")
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")


def ok(dev: DevServer, operation: str, params: dict[str, Any] | None = None, **kw: Any) -> Any:
    status, body = call(dev, operation, params, **kw)
    assert status == 200, body
    return body


def error(dev: DevServer, operation: str, params: dict[str, Any] | None = None, **kw: Any) -> Any:
    status, body = call(dev, operation, params, **kw)
    assert status != 200, body
    return status, body["__type"].rsplit("#", 1)[-1], body.get("message", "")


def groups(dev: DevServer) -> dict[str, dict[str, Any]]:
    return {g["name"]: g for g in ok(dev, "ListGroups")["groups"]}


@pytest.fixture(scope="module")
def admin(dev: DevServer) -> str:
    """A person in Admins (the local operator makes the group: no identity, loopback)."""
    status, _ = call(dev, "CreateGroup", {"name": "Admins", "members": ["root-admin"]})
    assert status == 200
    return "root-admin"


def test_the_local_operator_without_an_identity_administers_groups(dev: DevServer) -> None:
    name = unique("Ops")
    ok(dev, "CreateGroup", {"name": name, "members": ["ann", "bob"], "description": "ops"})
    assert groups(dev)[name] == {"name": name, "members": ["ann", "bob"], "description": "ops"}
    assert ok(dev, "UpdateGroupMembers", {"name": name, "add": ["cy"], "remove": ["ann"]}) == {
        "members": ["bob", "cy"]
    }
    ok(dev, "DeleteGroup", {"name": name})
    assert name not in groups(dev)


def test_an_admin_administers_groups_and_others_are_refused(dev: DevServer, admin: str) -> None:
    name = unique("Finance")
    ok(dev, "CreateGroup", {"name": name, "members": ["tom"]}, user=admin)
    assert ok(dev, "UpdateGroupMembers", {"name": name, "add": ["jane"]}, user=admin) == {
        "members": ["jane", "tom"]
    }
    assert name in {g["name"] for g in ok(dev, "ListGroups", user=admin)["groups"]}
    for operation, params in [
        ("CreateGroup", {"name": unique("Mine")}),
        ("UpdateGroupMembers", {"name": name, "add": ["tom-friend"]}),
        ("DeleteGroup", {"name": name}),
        ("ListGroups", {}),
    ]:
        status, code, message = error(dev, operation, params, user="tom")
        assert (status, code) == (403, "AccessDeniedException"), operation
        assert "tom may not administer groups" in message
    assert groups(dev)[name]["members"] == ["jane", "tom"]  # nothing changed


def test_a_person_removed_from_admins_is_refused_at_once(dev: DevServer, admin: str) -> None:
    ok(dev, "UpdateGroupMembers", {"name": "Admins", "add": ["temp-admin"]}, user=admin)
    name = unique("Team")
    ok(dev, "CreateGroup", {"name": name}, user="temp-admin")
    ok(dev, "UpdateGroupMembers", {"name": "Admins", "remove": ["temp-admin"]}, user=admin)
    assert error(dev, "DeleteGroup", {"name": name}, user="temp-admin")[:2] == (
        403,
        "AccessDeniedException",
    )


def test_who_am_i_names_the_caller_and_their_groups(dev: DevServer) -> None:
    first, second = unique("Alpha"), unique("Beta")
    ok(dev, "CreateGroup", {"name": first, "members": ["wanda"]})
    ok(dev, "CreateGroup", {"name": second, "members": ["wanda", "xavier"]})
    assert ok(dev, "WhoAmI", user="wanda") == {
        "id": "wanda",
        "kind": "person",
        "groups": sorted([first, second]),
    }
    assert ok(dev, "WhoAmI", user="nobody-at-all")["groups"] == []
    status, code, _ = error(dev, "WhoAmI")  # no identity: nothing to say
    assert (status, code) == (403, "AccessDeniedException")


@pytest.mark.parametrize(
    ("operation", "params", "code", "fragment"),
    [
        ("CreateGroup", {"name": "no/slashes"}, "ValidationException", "group name"),
        ("CreateGroup", {"name": "G", "members": ["  padded "]}, "ValidationException", "person"),
        ("CreateGroup", {"name": "G", "colour": "red"}, "ValidationException", "colour"),
        ("CreateGroup", {"members": []}, "ValidationException", "name"),
        ("UpdateGroupMembers", {"name": "G"}, "ValidationException", "add or remove"),
        ("UpdateGroupMembers", {"name": "Nope", "add": ["a"]}, "ResourceNotFound", "Nope"),
        ("DeleteGroup", {"name": "Nope"}, "ResourceNotFound", "Nope"),
        ("ListGroups", {"extra": 1}, "ValidationException", "extra"),
    ],
)
def test_bad_requests_say_what_is_wrong(
    dev: DevServer, operation: str, params: dict[str, Any], code: str, fragment: str
) -> None:
    status, got, message = error(dev, operation, params)
    assert (status, got) == (400, code)
    assert fragment in message


def test_a_group_name_is_taken_once(dev: DevServer) -> None:
    name = unique("Twice")
    ok(dev, "CreateGroup", {"name": name, "members": ["a"]})
    assert error(dev, "CreateGroup", {"name": name})[:2] == (400, "ConflictException")
    assert groups(dev)[name]["members"] == ["a"]


def test_a_bad_dev_user_header_is_a_validation_error(dev: DevServer) -> None:
    assert error(dev, "WhoAmI", user="x" * 200)[:2] == (400, "ValidationException")


def test_without_dev_identities_the_header_is_ignored(dev: DevServer) -> None:
    """The header names no one unless the server was told to trust it."""
    ctx: ApiContext = dev.context
    handler = ApiHandler(ApiContext(**{**_fields(ctx), "dev_identities": False}))
    reply = handler.handle(_request("WhoAmI", {"X-Stepq-Dev-User": "wanda"}))
    assert reply.status == 403


def test_outside_a_local_server_no_identity_is_refused(dev: DevServer) -> None:
    """In Lambda (local_operator False) a request without an identity administers nothing;
    an IAM caller (a machine) does."""
    ctx = ApiContext(**{**_fields(dev.context), "local_operator": False})
    handler = ApiHandler(ctx)
    name = unique("Remote")
    body = {"name": name}
    assert handler.handle(_request("CreateGroup", body=body)).status == 403
    machine = _request("CreateGroup", body=body, caller="arn:aws:iam::111111111111:role/ops")
    assert handler.handle(machine).status == 200
    who = handler.handle(_request("WhoAmI", caller="arn:aws:iam::111111111111:role/ops"))
    assert json.loads(who.body)["kind"] == "machine"


def test_a_server_bound_beyond_loopback_has_no_local_operator(dev: DevServer) -> None:
    from stepq.hosting.api_server import ApiServer

    for host, expected in [("127.0.0.1", True), ("0.0.0.0", False)]:
        ctx = ApiContext(**_fields(dev.context))
        with ApiServer(ApiHandler(ctx), host, 0):
            assert ctx.local_operator is expected


def _fields(ctx: ApiContext) -> dict[str, Any]:
    return {name: getattr(ctx, name) for name in ApiContext.__dataclass_fields__}


def _request(
    operation: str,
    headers: dict[str, str] | None = None,
    body: dict[str, Any] | None = None,
    caller: str | None = None,
) -> ApiRequest:
    return ApiRequest(
        "POST",
        "/",
        {
            "content-type": "application/x-amz-json-1.0",
            "x-amz-target": f"Stepq.{operation}",
            **{k.lower(): v for k, v in (headers or {}).items()},
        },
        json.dumps(body or {}).encode(),
        caller,
    )

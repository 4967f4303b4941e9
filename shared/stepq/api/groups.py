"""Groups and the caller: ``Stepq.CreateGroup`` ... ``Stepq.WhoAmI`` (docs/PEOPLE.md).

- ``Stepq.CreateGroup``         {name, members?, description?} -> {}
- ``Stepq.DeleteGroup``         {name} -> {}
- ``Stepq.UpdateGroupMembers``  {name, add?, remove?} -> {members}
- ``Stepq.ListGroups``          {} -> {groups: [{name, members, description}]}
- ``Stepq.WhoAmI``              {} -> {id, kind, groups}

Who administers groups (``may_administer``): a machine (an IAM caller: the
deployment's operators and scripts); a person in the ``Admins`` group; and a
request with no identity at all only on a local server bound to loopback
(``ApiContext.local_operator``: the operator at the machine, who can already
read the table). Anyone else gets AccessDeniedException (403). The first
``Admins`` group is therefore made by an IAM caller, or locally without ``--as``.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field, field_validator

from stepq.api.context import ApiContext
from stepq.api.identity import MACHINE, Identity, required
from stepq.api.protocol import ApiError
from stepq.api.registry import operation
from stepq.api.stepq_requests import StepqRequest, parse_request
from stepq.core.people.model import ADMINS_GROUP, check_label, check_person
from stepq.errors import AlreadyExistsError, NotFoundError
from stepq.runtime.people.directory import GROUP, Directory

_MAX_MEMBERS = 1000  # per request: a group document stays well under an item's size


class _Named(StepqRequest):
    name: str

    @field_validator("name")
    @classmethod
    def _group(cls, value: str) -> str:
        return check_label(value, "group name")


def _people(values: list[str]) -> list[str]:
    return [check_person(v) for v in values]


class CreateGroupRequest(_Named):
    members: list[str] = Field(default_factory=list, max_length=_MAX_MEMBERS)
    description: str = Field("", max_length=1000)

    @field_validator("members")
    @classmethod
    def _members(cls, value: list[str]) -> list[str]:
        return _people(value)


class DeleteGroupRequest(_Named):
    pass


class UpdateMembersRequest(_Named):
    add: list[str] = Field(default_factory=list, max_length=_MAX_MEMBERS)
    remove: list[str] = Field(default_factory=list, max_length=_MAX_MEMBERS)

    @field_validator("add", "remove")
    @classmethod
    def _members(cls, value: list[str]) -> list[str]:
        return _people(value)


class EmptyRequest(StepqRequest):
    pass


def may_administer(ctx: ApiContext, caller: Identity | None) -> bool:
    """Whether ``caller`` may change groups (see the module's docstring)."""
    if caller is None:
        return ctx.local_operator
    if caller.kind == MACHINE:
        return True
    return caller.id in Directory(ctx.store).members(ADMINS_GROUP)


def _admin(ctx: ApiContext, caller: Identity | None) -> None:
    if not may_administer(ctx, caller):
        who = caller.id if caller else "a caller without an identity"
        raise ApiError(
            "AccessDeniedException",
            f"{who} may not administer groups: that takes a member of the {ADMINS_GROUP} "
            "group or an IAM caller",
            403,
        )


def _missing(name: str) -> ApiError:
    return ApiError("ResourceNotFound", f"Group Does Not Exist: '{name}'")


@operation("CreateGroup", stepq=True, identity=True)
def create_group(
    ctx: ApiContext, params: dict[str, Any], caller: Identity | None
) -> dict[str, Any]:
    request = parse_request(CreateGroupRequest, params)
    _admin(ctx, caller)
    try:
        Directory(ctx.store).create(request.name, request.members, request.description)
    except AlreadyExistsError:
        raise ApiError("ConflictException", f"Group Already Exists: '{request.name}'") from None
    return {}


@operation("DeleteGroup", stepq=True, identity=True)
def delete_group(
    ctx: ApiContext, params: dict[str, Any], caller: Identity | None
) -> dict[str, Any]:
    request = parse_request(DeleteGroupRequest, params)
    _admin(ctx, caller)
    try:
        Directory(ctx.store).delete(request.name)
    except NotFoundError:
        raise _missing(request.name) from None
    return {}


@operation("UpdateGroupMembers", stepq=True, identity=True)
def update_members(
    ctx: ApiContext, params: dict[str, Any], caller: Identity | None
) -> dict[str, Any]:
    request = parse_request(UpdateMembersRequest, params)
    _admin(ctx, caller)
    if not request.add and not request.remove:
        raise ApiError("ValidationException", "Give add or remove (or both)")
    try:
        members = Directory(ctx.store).change(request.name, request.add, request.remove)
    except NotFoundError:
        raise _missing(request.name) from None
    return {"members": members}


@operation("ListGroups", stepq=True, identity=True)
def list_groups(ctx: ApiContext, params: dict[str, Any], caller: Identity | None) -> dict[str, Any]:
    parse_request(EmptyRequest, params)
    _admin(ctx, caller)
    groups = [
        {
            "name": doc.key,
            "members": sorted(doc.body.get("members", [])),
            "description": doc.body.get("description", ""),
        }
        for doc in ctx.store.list_docs(GROUP)
    ]
    return {"groups": groups}


@operation("WhoAmI", stepq=True, identity=True)
def who_am_i(ctx: ApiContext, params: dict[str, Any], caller: Identity | None) -> dict[str, Any]:
    parse_request(EmptyRequest, params)
    me = required(caller)
    return {"id": me.id, "kind": me.kind, "groups": Directory(ctx.store).groups_of(me.id)}

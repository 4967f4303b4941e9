"""Versions and aliases: Publish/List/DeleteStateMachineVersion, Create/Describe/Update/Delete/ListStateMachineAliases.

A version is a number pointing at one store revision (``VersionDoc``);
numbers grow per machine and are never reused (``MachineDoc.lastVersion``).
Publishing a revision that has a version already returns that version, as
Step Functions does. An alias routes starts to one version, or two by weight
(``catalog.resolve`` picks); a version an alias routes to cannot be deleted.
Executions keep the revision they started on whatever happens to versions.
"""

from __future__ import annotations

import contextlib
import re
from typing import Any

from stepq.api import catalog
from stepq.api.catalog import AliasDoc, MachineDoc, VersionDoc
from stepq.api.context import ApiContext
from stepq.api.machine_support import page
from stepq.api.protocol import ApiError, epoch
from stepq.api.registry import operation
from stepq.errors import AlreadyExistsError, ConflictError, NotFoundError

MAX_VERSIONS = 1000  # per machine, as Step Functions' quota
MAX_ALIASES = 100
_ALIAS_NAME = re.compile(r"^(?=.*[a-zA-Z_.-])[a-zA-Z0-9_.-]{1,80}$")
_PUBLISH_TRIES = 5  # racing publishes of one machine each get the next number


def versions_of(ctx: ApiContext, name: str) -> list[tuple[int, VersionDoc]]:
    """Every version of ``name``, newest first."""
    found = [
        (int(doc.key.rsplit(":", 1)[1]), VersionDoc.model_validate(doc.body))
        for doc in ctx.store.list_docs("version", f"{name}:")
    ]
    return sorted(found, key=lambda pair: pair[0], reverse=True)


def publish(
    ctx: ApiContext,
    name: str,
    description: str = "",
    revision_id: str | None = None,
) -> tuple[str, str]:
    """Publish $LATEST of ``name``: (version ARN, creation date ISO); an existing one if published."""
    for _ in range(_PUBLISH_TRIES):
        doc, rev = catalog.machine(ctx, name)
        if doc.status == "DELETING":
            raise ApiError("StateMachineDeleting", f"State Machine is being deleted: '{name}'")
        if revision_id is not None and revision_id != doc.revisionId:
            raise ApiError(
                "ConflictException",
                f"revisionId '{revision_id}' is not the current revision '{doc.revisionId}'",
            )
        existing = versions_of(ctx, name)
        for number, version in existing:
            if version.revision == doc.revision:
                return ctx.arns.machine(name, number), version.creationDate
        if len(existing) >= MAX_VERSIONS:
            raise ApiError(
                "ServiceQuotaExceededException",
                f"state machine '{name}' has {MAX_VERSIONS} versions; delete some first",
            )
        number = doc.lastVersion + 1
        try:  # claim the number: a racing publish gets the next one
            ctx.store.put_doc(
                "machine", name, doc.model_copy(update={"lastVersion": number}).model_dump(), rev
            )
        except ConflictError:
            continue
        version = VersionDoc(
            revision=doc.revision,
            creationDate=ctx.clock.now().isoformat(),
            description=description,
            revisionId=doc.revisionId,
        )
        ctx.store.put_doc("version", f"{name}:{number}", version.model_dump(), None)
        return ctx.arns.machine(name, number), version.creationDate
    raise ApiError("ConflictException", f"state machine '{name}' kept changing; try again")


def _unqualified(ctx: ApiContext, arn: str) -> str:
    name, qualifier = catalog.parse_machine_arn(ctx, arn)
    if qualifier is not None:
        raise ApiError("ValidationException", f"expected a state machine ARN, not '{arn}'")
    return name


def _version_arn(ctx: ApiContext, arn: str) -> tuple[str, int]:
    name, qualifier = catalog.parse_machine_arn(ctx, arn)
    if qualifier is None or not catalog.is_version(qualifier):
        raise ApiError("ValidationException", f"not a state machine version ARN: '{arn}'")
    return name, int(qualifier)


def _alias_arn(ctx: ApiContext, arn: str) -> tuple[str, str]:
    name, qualifier = catalog.parse_machine_arn(ctx, arn)
    if qualifier is None or catalog.is_version(qualifier):
        raise ApiError("ValidationException", f"not a state machine alias ARN: '{arn}'")
    return name, qualifier


# --- versions -------------------------------------------------------------------


@operation("PublishStateMachineVersion")
def publish_state_machine_version(ctx: ApiContext, params: dict[str, Any]) -> dict[str, Any]:
    name = _unqualified(ctx, params["stateMachineArn"])
    arn, created = publish(ctx, name, params.get("description", ""), params.get("revisionId"))
    return {"stateMachineVersionArn": arn, "creationDate": epoch(created)}


@operation("ListStateMachineVersions")
def list_state_machine_versions(ctx: ApiContext, params: dict[str, Any]) -> dict[str, Any]:
    name = _unqualified(ctx, params["stateMachineArn"])
    found = versions_of(ctx, name)
    chosen, token = page(found, [f"{n:010d}" for n, _ in found], params, "versions:" + name)
    items = [
        {"stateMachineVersionArn": ctx.arns.machine(name, n), "creationDate": epoch(v.creationDate)}
        for n, v in chosen
    ]
    return {"stateMachineVersions": items, **({"nextToken": token} if token else {})}


@operation("DeleteStateMachineVersion")
def delete_state_machine_version(ctx: ApiContext, params: dict[str, Any]) -> dict[str, Any]:
    arn = params["stateMachineVersionArn"]
    name, number = _version_arn(ctx, arn)
    for alias in ctx.store.list_docs("alias", f"{name}:"):
        routes = AliasDoc.model_validate(alias.body).routingConfiguration
        if any(_same_version(ctx, r["stateMachineVersionArn"], name, number) for r in routes):
            shown = ctx.arns.machine(name, alias.key.split(":", 1)[1])
            raise ApiError(
                "ConflictException",
                f"Version to be deleted must not be referenced by an alias. "
                f"Current list of aliases referencing this version: [{shown}]",
            )
    with contextlib.suppress(NotFoundError):  # deleting what is not there succeeds, as in AWS
        ctx.store.delete_doc("version", f"{name}:{number}")
    ctx.cache.forget(name)  # starts here on that version fail from now on
    return {}


def _same_version(ctx: ApiContext, arn: str, name: str, number: int) -> bool:
    return arn == ctx.arns.machine(name, number)


# --- aliases --------------------------------------------------------------------


def _routing(ctx: ApiContext, routes: list[dict[str, Any]], name: str | None) -> str:
    """Check a routing configuration; the machine it routes to."""
    if not 1 <= len(routes) <= 2:
        raise ApiError("ValidationException", "routingConfiguration must have one or two versions")
    names, numbers = set(), set()
    for route in routes:
        weight = route["weight"]
        if not 0 <= weight <= 100:
            raise ApiError("ValidationException", f"weight {weight} is not between 0 and 100")
        route_name, number = _version_arn(ctx, route["stateMachineVersionArn"])
        names.add(route_name)
        numbers.add(number)
    if len(names) > 1 or (name is not None and names != {name}):
        raise ApiError(
            "ValidationException", "every version an alias routes to must be of its state machine"
        )
    if len(numbers) != len(routes):
        raise ApiError("ValidationException", "routingConfiguration names a version twice")
    if sum(int(r["weight"]) for r in routes) != 100:
        raise ApiError("ValidationException", "the weights of routingConfiguration must sum to 100")
    (machine_name,) = names
    doc, _ = _machine_for_alias(ctx, machine_name)
    if doc.status == "DELETING":
        raise ApiError("StateMachineDeleting", f"State Machine is being deleted: '{machine_name}'")
    for route in routes:
        arn = route["stateMachineVersionArn"]
        if ctx.store.get_doc("version", f"{machine_name}:{arn.rsplit(':', 1)[1]}") is None:
            raise ApiError("ResourceNotFound", f"Resource not found: '{arn}'")
    return machine_name


def _machine_for_alias(ctx: ApiContext, name: str) -> tuple[MachineDoc, int]:
    try:
        return catalog.machine(ctx, name)
    except ApiError as exc:
        raise ApiError("ResourceNotFound", exc.message) from None


def _clean_routes(routes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {"stateMachineVersionArn": r["stateMachineVersionArn"], "weight": int(r["weight"])}
        for r in routes
    ]


@operation("CreateStateMachineAlias")
def create_state_machine_alias(ctx: ApiContext, params: dict[str, Any]) -> dict[str, Any]:
    alias_name = params["name"]
    if not _ALIAS_NAME.match(alias_name):
        raise ApiError(
            "InvalidName",
            f"Invalid Name: '{alias_name}' (letters, digits, '-', '_' and '.'; not only digits)",
        )
    routes = _clean_routes(params["routingConfiguration"])
    name = _routing(ctx, routes, None)
    arn = ctx.arns.machine(name, alias_name)
    description = params.get("description", "")
    doc = AliasDoc(
        description=description,
        routingConfiguration=routes,
        creationDate=ctx.clock.now().isoformat(),
    )
    if len(ctx.store.list_docs("alias", f"{name}:")) >= MAX_ALIASES:
        raise ApiError("ServiceQuotaExceededException", f"'{name}' has {MAX_ALIASES} aliases")
    try:
        ctx.store.put_doc("alias", f"{name}:{alias_name}", doc.model_dump(), None)
    except AlreadyExistsError:
        existing = catalog.alias(ctx, name, alias_name, arn)
        # Idempotent as in Step Functions: the same description and routing.
        if existing.description != description or existing.routingConfiguration != routes:
            raise ApiError(
                "ConflictException", f"Alias '{arn}' exists with another configuration"
            ) from None
        doc = existing
    return {"stateMachineAliasArn": arn, "creationDate": epoch(doc.creationDate)}


@operation("DescribeStateMachineAlias")
def describe_state_machine_alias(ctx: ApiContext, params: dict[str, Any]) -> dict[str, Any]:
    arn = params["stateMachineAliasArn"]
    name, alias_name = _alias_arn(ctx, arn)
    doc = catalog.alias(ctx, name, alias_name, arn)
    return {
        "stateMachineAliasArn": arn,
        "name": alias_name,
        "description": doc.description,
        "routingConfiguration": doc.routingConfiguration,
        "creationDate": epoch(doc.creationDate),
        "updateDate": epoch(doc.updateDate or doc.creationDate),
    }


@operation("UpdateStateMachineAlias")
def update_state_machine_alias(ctx: ApiContext, params: dict[str, Any]) -> dict[str, Any]:
    arn = params["stateMachineAliasArn"]
    name, alias_name = _alias_arn(ctx, arn)
    if "description" not in params and "routingConfiguration" not in params:
        raise ApiError(
            "ValidationException", "give a description or a routingConfiguration to update"
        )
    found = ctx.store.get_doc("alias", f"{name}:{alias_name}")
    if found is None:
        raise ApiError("ResourceNotFound", f"Resource not found: '{arn}'")
    doc = AliasDoc.model_validate(found.body)
    if "routingConfiguration" in params:
        doc.routingConfiguration = _clean_routes(params["routingConfiguration"])
        _routing(ctx, doc.routingConfiguration, name)
    if "description" in params:
        doc.description = params["description"]
    doc.updateDate = ctx.clock.now().isoformat()
    try:
        ctx.store.put_doc("alias", f"{name}:{alias_name}", doc.model_dump(), found.rev)
    except (ConflictError, NotFoundError):
        raise ApiError("ConflictException", f"Alias '{arn}' changed meanwhile; try again") from None
    ctx.cache.forget(name)  # starts here route the new way from now on
    return {"updateDate": epoch(doc.updateDate)}


@operation("DeleteStateMachineAlias")
def delete_state_machine_alias(ctx: ApiContext, params: dict[str, Any]) -> dict[str, Any]:
    arn = params["stateMachineAliasArn"]
    name, alias_name = _alias_arn(ctx, arn)
    try:
        ctx.store.delete_doc("alias", f"{name}:{alias_name}")
    except NotFoundError:
        raise ApiError("ResourceNotFound", f"Resource not found: '{arn}'") from None
    finally:
        ctx.cache.forget(name)
    return {}


@operation("ListStateMachineAliases")
def list_state_machine_aliases(ctx: ApiContext, params: dict[str, Any]) -> dict[str, Any]:
    arn = params["stateMachineArn"]
    name = _unqualified(ctx, arn)
    catalog.machine(ctx, name, arn)
    docs = ctx.store.list_docs("alias", f"{name}:")
    chosen, token = page(docs, [d.key for d in docs], params, "aliases:" + name)
    items = [
        {
            "stateMachineAliasArn": ctx.arns.machine(name, d.key.split(":", 1)[1]),
            "creationDate": epoch(AliasDoc.model_validate(d.body).creationDate),
        }
        for d in chosen
    ]
    return {"stateMachineAliases": items, **({"nextToken": token} if token else {})}

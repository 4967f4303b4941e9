"""The API's catalog in the store's documents (``Store.get_doc``): one shared contract.

Kinds and keys (bodies are pydantic models below, stored as JSON):

=============  =======================  =========================================
kind           key                      body
=============  =======================  =========================================
``machine``    machine name             ``MachineDoc``: settings, $LATEST revision
``version``    ``<name>:<number>``      ``VersionDoc``: a published version
``alias``      ``<name>:<alias>``       ``AliasDoc``: routing to one or two versions
``activity``   activity name            ``ActivityDoc``
``tags``       resource ARN             ``TagsDoc``
``started``    execution ARN            ``StartedDoc``: version/alias a start used
``revision``   ``<name>:<revision>``    ``RevisionDoc``: definition text and settings
                                        of one store revision
``redrive``    ``<execution>|<token>``  ``redrive.RedriveDoc``: the redrive a clientToken made
``mapRun``     map run ARN              ``MapRunDoc``: settings UpdateMapRun recorded
=============  =======================  =========================================

A *revision* is the store's own machine version (``Store.put_machine``
returns it; every Create/Update makes one, and an execution runs on the
revision it started on). A *version* is what Step Functions publishes: a
number pointing at one revision.
"""

from __future__ import annotations

import random
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from stepq.api import arns as arn_rules
from stepq.api.context import ApiContext
from stepq.api.protocol import ApiError
from stepq.runtime.ports import Doc


class _Doc(BaseModel):
    model_config = ConfigDict(extra="ignore")


class MachineDoc(_Doc):
    type: str = "STANDARD"
    roleArn: str = ""
    creationDate: str  # ISO-8601
    updateDate: str | None = None
    description: str = ""
    revision: int  # the store revision $LATEST runs
    revisionId: str = ""
    loggingConfiguration: dict[str, Any] = Field(
        default_factory=lambda: {"level": "OFF", "includeExecutionData": False}
    )
    tracingConfiguration: dict[str, Any] = Field(default_factory=lambda: {"enabled": False})
    encryptionConfiguration: dict[str, Any] = Field(
        default_factory=lambda: {"type": "AWS_OWNED_KEY"}
    )
    label: str = ""
    # ACTIVE, or DELETING: DeleteStateMachine was called while executions ran.
    status: str = "ACTIVE"
    lastVersion: int = 0  # the last version number published (numbers are never reused)


class RevisionDoc(_Doc):
    """What one store revision was made with: Describe of a version or an execution."""

    definition: str | None = None  # the text as given (None: too large; the store's dict)
    revisionId: str
    roleArn: str
    updateDate: str
    loggingConfiguration: dict[str, Any] = Field(default_factory=dict)
    tracingConfiguration: dict[str, Any] = Field(default_factory=dict)
    encryptionConfiguration: dict[str, Any] = Field(default_factory=dict)


class VersionDoc(_Doc):
    revision: int
    creationDate: str
    description: str = ""
    revisionId: str = ""


class AliasDoc(_Doc):
    description: str = ""
    # [{"stateMachineVersionArn": ..., "weight": 0..100}], one or two entries
    routingConfiguration: list[dict[str, Any]]
    creationDate: str
    updateDate: str | None = None


class ActivityDoc(_Doc):
    creationDate: str
    encryptionConfiguration: dict[str, Any] = Field(
        default_factory=lambda: {"type": "AWS_OWNED_KEY"}
    )


class TagsDoc(_Doc):
    tags: dict[str, str] = Field(default_factory=dict)


class StartedDoc(_Doc):
    stateMachineVersionArn: str | None = None
    stateMachineAliasArn: str | None = None


class MapRunDoc(_Doc):
    # Only what UpdateMapRun was given; the rest stays as the Map started with.
    maxConcurrency: int | None = None
    toleratedFailurePercentage: float | None = None
    toleratedFailureCount: int | None = None


# --- reading --------------------------------------------------------------------


def machine(
    ctx: ApiContext, name: str, arn: str | None = None, *, cached: bool = False
) -> tuple[MachineDoc, int]:
    """The machine's settings and document revision; StateMachineDoesNotExist if none.

    ``cached``: a start's read, which may be up to a second old (``catalog_cache``).
    """
    doc = _get(ctx, "machine", name, cached)
    body = None if doc is None else MachineDoc.model_validate(doc.body)
    if doc is None or body is None or (body.status == "DELETING" and not running(ctx, name)):
        shown = arn or ctx.arns.machine(name)
        raise ApiError("StateMachineDoesNotExist", f"State Machine Does Not Exist: '{shown}'")
    return body, doc.rev


def _get(ctx: ApiContext, kind: str, key: str, cached: bool) -> Doc | None:
    return ctx.cache.get(ctx.store, kind, key) if cached else ctx.store.get_doc(kind, key)


def running(ctx: ApiContext, name: str) -> bool:
    """Whether an execution of ``name`` runs: a deleted machine is DELETING until none does."""
    return bool(ctx.store.list_executions(name, status="RUNNING", limit=1))


def version(
    ctx: ApiContext, name: str, number: int, arn: str | None = None, *, cached: bool = False
) -> VersionDoc:
    doc = _get(ctx, "version", f"{name}:{number}", cached)
    if doc is None:
        shown = arn or ctx.arns.machine(name, number)
        raise ApiError("StateMachineDoesNotExist", f"State Machine Does Not Exist: '{shown}'")
    return VersionDoc.model_validate(doc.body)


def alias(
    ctx: ApiContext, name: str, alias_name: str, arn: str | None = None, *, cached: bool = False
) -> AliasDoc:
    doc = _get(ctx, "alias", f"{name}:{alias_name}", cached)
    if doc is None:
        shown = arn or ctx.arns.machine(name, alias_name)
        raise ApiError("ResourceNotFound", f"Resource not found: '{shown}'")
    return AliasDoc.model_validate(doc.body)


class Target:
    """What a state machine ARN (plain, version or alias) resolves to for a start."""

    def __init__(
        self,
        name: str,
        revision: int,
        version_arn: str | None = None,
        alias_arn: str | None = None,
    ) -> None:
        self.name = name
        self.revision = revision
        self.version_arn = version_arn
        self.alias_arn = alias_arn


def parse_machine_arn(ctx: ApiContext, arn: object) -> tuple[str, str | None]:
    """(name, qualifier or None) of a state machine ARN of this deployment; InvalidArn else."""
    parsed = arn_rules.parse(arn, "stateMachine")
    ctx.arns.own(parsed, str(arn))
    if len(parsed.parts) > 2:
        raise ApiError("InvalidArn", f"Invalid Arn: '{arn}'")
    return parsed.parts[0], (parsed.parts[1] if len(parsed.parts) == 2 else None)


def is_version(qualifier: str) -> bool:
    """Whether an ARN's qualifier names a version (ASCII digits; an alias never is only digits)."""
    return qualifier.isascii() and qualifier.isdigit() and len(qualifier) <= 10


def resolve(ctx: ApiContext, arn: object, rng: random.Random | None = None) -> Target:
    """The revision a start on ``arn`` runs: $LATEST, a version, or an alias's pick.

    An alias routing to two versions picks one by weight (``rng``, for tests).
    Reads may be up to a second old (``catalog_cache``), as Step Functions'
    starts after an update may be.
    """
    name, qualifier = parse_machine_arn(ctx, arn)
    doc, _ = machine(ctx, name, str(arn), cached=True)
    if doc.status == "DELETING":
        raise ApiError("StateMachineDeleting", f"State Machine is being deleted: '{arn}'")
    if qualifier is None:
        return Target(name, doc.revision)
    if is_version(qualifier):
        found = version(ctx, name, int(qualifier), str(arn), cached=True)
        return Target(name, found.revision, version_arn=str(arn))
    routing = alias(ctx, name, qualifier, str(arn), cached=True).routingConfiguration
    # An integer in 0..99 against integer weights: a weight of 0 is never picked
    # and one of 100 always (a float could land on 100.0 and miss both).
    pick = (rng or random).randrange(100)
    chosen = routing[-1]
    total = 0
    for route in routing:
        total += int(route.get("weight", 0))
        if pick < total:
            chosen = route
            break
    version_arn = str(chosen["stateMachineVersionArn"])
    number = int(version_arn.rsplit(":", 1)[1])
    found = version(ctx, name, number, version_arn, cached=True)
    return Target(name, found.revision, version_arn=version_arn, alias_arn=str(arn))


def tags(ctx: ApiContext, resource_arn: str) -> dict[str, str]:
    doc = ctx.store.get_doc("tags", resource_arn)
    return {} if doc is None else TagsDoc.model_validate(doc.body).tags

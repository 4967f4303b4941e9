"""Create/Describe/Update/Delete/List/Validate state machines; DescribeStateMachineForExecution.

Every Create/Update that changes something writes a new store revision
(``Store.put_machine``) and its ``revision`` document (the text as given,
the settings), then the ``machine`` document pointing $LATEST at it with a
conditional write: of two racing updates the loser gets ConflictException.
Create is idempotent as Step Functions' is: the same name, definition, type,
logging, tracing and encryption (and publish/versionDescription) return the
first ARN and creationDate (roleArn and tags are not compared, as there).

Delete, as Step Functions does it: the versions and aliases go at once; with
executions running, the machine stays as ``DELETING`` (Describe shows it,
starts and updates are refused with StateMachineDeleting) until none runs,
then it is gone (StateMachineDoesNotExist). Running executions finish on
their revision; the store keeps every revision.

Definitions are checked as Step Functions checks them (``core.definition``):
every problem is named with its path in ``InvalidDefinition`` (Map Labels
included: 40 characters, no forbidden ones, unique). State names may hold
any character, as the ASL specification and Step Functions allow (only the
80-character limit applies); machine names may not (``arns.check_name``).
"""

from __future__ import annotations

import contextlib
import json
from typing import Any

from stepq.api import arns as arn_rules
from stepq.api import catalog
from stepq.api.catalog import MachineDoc, RevisionDoc, StartedDoc
from stepq.api.context import ApiContext
from stepq.api.machine_support import (
    check_settings,
    check_type,
    definition_problems,
    page,
    parse_definition,
    read_revision,
    write_revision,
)
from stepq.api.protocol import ApiError, epoch
from stepq.api.registry import operation
from stepq.api.tags import check_tags, set_tags
from stepq.api.versions import publish, versions_of
from stepq.core.definition.references import variable_references
from stepq.errors import AlreadyExistsError, ConflictError, NotFoundError

# What makes two creates of one name "the same" (roleArn and tags are not compared).
_COMPARED = ("type", "loggingConfiguration", "tracingConfiguration", "encryptionConfiguration")


def _forget(ctx: ApiContext, name: str) -> None:
    """Starts on this process use the new revision at once (others within a second)."""
    ctx.orchestrator.applier.forget_machine(name)
    ctx.cache.forget(name)


# --- create ---------------------------------------------------------------------


@operation("CreateStateMachine")
def create_state_machine(ctx: ApiContext, params: dict[str, Any]) -> dict[str, Any]:
    name = params["name"]
    arn_rules.check_name(name, "a state machine name")
    machine_type = params.get("type", "STANDARD")
    check_type(machine_type)
    settings = check_settings(params)
    text = params["definition"]
    definition = parse_definition(text, machine_type)
    publishing = bool(params.get("publish"))
    description = params.get("versionDescription", "")
    if description and not publishing:
        raise ApiError("ValidationException", "versionDescription needs publish=true")
    tags = check_tags(params.get("tags") or [])  # before anything is written
    doc = MachineDoc(type=machine_type, creationDate=ctx.clock.now().isoformat(), revision=0)
    doc = doc.model_copy(update=settings)

    existing = ctx.store.get_doc("machine", name)
    if existing is not None:
        found = _existing(ctx, name, existing.body, existing.rev)
        if found is not None:
            return _same_create(ctx, name, found, doc, definition, publishing, description)
    write_revision(ctx, name, text, definition, doc)
    try:
        ctx.store.put_doc("machine", name, doc.model_dump(), None)
    except AlreadyExistsError:  # a racing create of the same name won
        won, _ = catalog.machine(ctx, name)
        return _same_create(ctx, name, won, doc, definition, publishing, description)
    arn = ctx.arns.machine(name)
    set_tags(ctx, arn, tags)
    _forget(ctx, name)
    reply: dict[str, Any] = {"stateMachineArn": arn, "creationDate": epoch(doc.creationDate)}
    if publishing:
        reply["stateMachineVersionArn"] = publish(ctx, name, description)[0]
    return reply


def _existing(ctx: ApiContext, name: str, body: dict[str, Any], rev: int) -> MachineDoc | None:
    """The machine of that name, or None when a deleted one is finally gone (removed here)."""
    doc = MachineDoc.model_validate(body)
    if doc.status != "DELETING":
        return doc
    if catalog.running(ctx, name):
        raise ApiError("StateMachineDeleting", f"State Machine is being deleted: '{name}'")
    try:
        ctx.store.delete_doc("machine", name, rev)
    except (ConflictError, NotFoundError):
        raise ApiError("ConflictException", f"state machine '{name}' changed meanwhile") from None
    return None


def _same_create(
    ctx: ApiContext,
    name: str,
    existing: MachineDoc,
    wanted: MachineDoc,
    definition: dict[str, Any],
    publishing: bool,
    description: str,
) -> dict[str, Any]:
    """The first create's reply if this one asks the same, else StateMachineAlreadyExists."""
    arn = ctx.arns.machine(name)
    current, _ = ctx.store.get_machine(name, existing.revision)
    same = current == definition and all(
        getattr(existing, f) == getattr(wanted, f) for f in _COMPARED
    )
    reply: dict[str, Any] = {"stateMachineArn": arn, "creationDate": epoch(existing.creationDate)}
    if same and publishing:
        versions = [(n, v) for n, v in versions_of(ctx, name) if v.revision == existing.revision]
        same = all(v.description == description for _, v in versions)
        if same:  # none yet: the first create died before publishing, or is publishing now
            reply["stateMachineVersionArn"] = publish(ctx, name, description)[0]
    if not same:
        raise ApiError("StateMachineAlreadyExists", f"State Machine Already Exists: '{arn}'")
    return reply


# --- describe -------------------------------------------------------------------


def _settings(doc: MachineDoc, revision: RevisionDoc | None) -> dict[str, Any]:
    """The settings a revision was made with (the machine's own where not recorded)."""
    source: Any = revision if revision is not None else doc
    return {
        "roleArn": source.roleArn or doc.roleArn,
        "loggingConfiguration": source.loggingConfiguration or doc.loggingConfiguration,
        "tracingConfiguration": source.tracingConfiguration or doc.tracingConfiguration,
        "encryptionConfiguration": source.encryptionConfiguration or doc.encryptionConfiguration,
    }


def _references(text: str) -> dict[str, Any]:
    try:
        found = variable_references(json.loads(text))
    except ValueError:
        found = {}
    return {"variableReferences": found} if found else {}


@operation("DescribeStateMachine")
def describe_state_machine(ctx: ApiContext, params: dict[str, Any]) -> dict[str, Any]:
    arn = params["stateMachineArn"]
    name, qualifier = catalog.parse_machine_arn(ctx, arn)
    doc, _ = catalog.machine(ctx, name, arn)
    if qualifier is not None and not catalog.is_version(qualifier):
        raise ApiError(
            "InvalidArn", f"Invalid Arn: '{arn}' (describe an alias with DescribeStateMachineAlias)"
        )
    reply: dict[str, Any] = {"stateMachineArn": arn, "name": name, "status": doc.status}
    if qualifier is None:
        text, revision = read_revision(ctx, name, doc.revision)
        reply.update(
            definition=text,
            creationDate=epoch(doc.creationDate),
            revisionId=doc.revisionId or (revision.revisionId if revision else ""),
        )
    else:
        version = catalog.version(ctx, name, int(qualifier), arn)
        text, revision = read_revision(ctx, name, version.revision)
        reply.update(
            definition=text,
            creationDate=epoch(version.creationDate),
            revisionId=version.revisionId,
            description=version.description,
        )
    reply.update(type=doc.type, **_settings(doc, revision), **_references(text))
    if not reply["revisionId"]:
        del reply["revisionId"]
    return reply


@operation("DescribeStateMachineForExecution")
def describe_state_machine_for_execution(ctx: ApiContext, params: dict[str, Any]) -> dict[str, Any]:
    arn = params["executionArn"]
    parsed = arn_rules.parse(arn, "execution", "express")
    ctx.arns.own(parsed, arn)
    try:
        header = ctx.store.get_execution(arn)
    except NotFoundError:
        raise ApiError("ExecutionDoesNotExist", f"Execution Does Not Exist: '{arn}'") from None
    name = header.machine
    text, revision = read_revision(ctx, name, header.machine_version)
    found = ctx.store.get_doc("machine", name)
    doc = (
        MachineDoc.model_validate(found.body)
        if found is not None
        else MachineDoc(
            creationDate=header.start_time,
            revision=header.machine_version,
            roleArn=f"arn:aws:iam::{ctx.arns.account}:role/stepq",
        )
    )
    reply: dict[str, Any] = {
        "stateMachineArn": ctx.arns.machine(name),
        "name": name,
        "definition": text,
        "updateDate": epoch(
            revision.updateDate if revision else doc.updateDate or doc.creationDate
        ),
        **_settings(doc, revision),
        **_references(text),
    }
    started = ctx.store.get_doc("started", arn)
    if revision is not None:
        reply["revisionId"] = revision.revisionId
    elif started is not None:  # a version's revisionId, if the start named one
        version_arn = StartedDoc.model_validate(started.body).stateMachineVersionArn
        if version_arn:
            number = int(version_arn.rsplit(":", 1)[1])
            reply["revisionId"] = catalog.version(ctx, name, number, version_arn).revisionId
    return reply


# --- update ---------------------------------------------------------------------

_UPDATABLE = (
    "definition",
    "roleArn",
    "loggingConfiguration",
    "tracingConfiguration",
    "encryptionConfiguration",
)


@operation("UpdateStateMachine")
def update_state_machine(ctx: ApiContext, params: dict[str, Any]) -> dict[str, Any]:
    arn = params["stateMachineArn"]
    name, qualifier = catalog.parse_machine_arn(ctx, arn)
    if qualifier is not None:
        raise ApiError("ValidationException", f"cannot update a version or alias: '{arn}'")
    if not any(field in params for field in _UPDATABLE):
        raise ApiError(
            "MissingRequiredParameter",
            "give at least one of definition, roleArn, loggingConfiguration, "
            "tracingConfiguration or encryptionConfiguration",
        )
    publishing = bool(params.get("publish"))
    description = params.get("versionDescription", "")
    if description and not publishing:
        raise ApiError("ValidationException", "versionDescription needs publish=true")
    doc, rev = catalog.machine(ctx, name, arn)
    if doc.status == "DELETING":
        raise ApiError("StateMachineDeleting", f"State Machine is being deleted: '{arn}'")
    settings = check_settings(params)
    current, _ = ctx.store.get_machine(name, doc.revision)
    if "definition" in params:
        text = params["definition"]
        definition = parse_definition(text, doc.type)
    else:
        text, _ = read_revision(ctx, name, doc.revision)
        definition = current
    new = doc.model_copy(update=settings)
    changed = definition != current or any(
        getattr(new, f) != getattr(doc, f) for f in _UPDATABLE[1:]
    )
    if changed:
        new.updateDate = ctx.clock.now().isoformat()
        write_revision(ctx, name, text, definition, new)
        try:
            ctx.store.put_doc("machine", name, new.model_dump(), rev)
        except (ConflictError, NotFoundError):
            raise ApiError(
                "ConflictException",
                f"state machine '{name}' was updated by another request meanwhile; try again",
            ) from None
        _forget(ctx, name)
    reply: dict[str, Any] = {
        "updateDate": epoch(new.updateDate or new.creationDate),
        "revisionId": new.revisionId,
    }
    if publishing:
        reply["stateMachineVersionArn"] = publish(ctx, name, description, new.revisionId)[0]
    return reply


# --- delete and list ------------------------------------------------------------


@operation("DeleteStateMachine")
def delete_state_machine(ctx: ApiContext, params: dict[str, Any]) -> dict[str, Any]:
    arn = params["stateMachineArn"]
    name, qualifier = catalog.parse_machine_arn(ctx, arn)
    if qualifier is not None:
        raise ApiError(
            "ValidationException",
            f"'{arn}' is a version or alias: use DeleteStateMachineVersion or DeleteStateMachineAlias",
        )
    found = ctx.store.get_doc("machine", name)
    if found is None:
        return {}  # deleting what is not there succeeds, as in Step Functions
    for kind in ("alias", "version"):
        for item in ctx.store.list_docs(kind, f"{name}:"):
            _delete_quietly(ctx, kind, item.key)
    _delete_quietly(ctx, "tags", ctx.arns.machine(name))
    try:
        if catalog.running(ctx, name):
            doc = MachineDoc.model_validate(found.body).model_copy(update={"status": "DELETING"})
            ctx.store.put_doc("machine", name, doc.model_dump(), found.rev)
        else:
            ctx.store.delete_doc("machine", name, found.rev)
    except (ConflictError, NotFoundError):
        raise ApiError("ConflictException", f"state machine '{name}' changed meanwhile") from None
    _forget(ctx, name)
    return {}


def _delete_quietly(ctx: ApiContext, kind: str, key: str) -> None:
    with contextlib.suppress(NotFoundError):
        ctx.store.delete_doc(kind, key)


@operation("ListStateMachines")
def list_state_machines(ctx: ApiContext, params: dict[str, Any]) -> dict[str, Any]:
    docs = [(d.key, MachineDoc.model_validate(d.body)) for d in ctx.store.list_docs("machine")]
    # A deleted machine is listed while it is DELETING, not once it is gone.
    docs = [(k, d) for k, d in docs if d.status == "ACTIVE" or catalog.running(ctx, k)]
    chosen, token = page(docs, [k for k, _ in docs], params, "machines")
    items = [
        {
            "stateMachineArn": ctx.arns.machine(key),
            "name": key,
            "type": doc.type,
            "creationDate": epoch(doc.creationDate),
        }
        for key, doc in chosen
    ]
    return {"stateMachines": items, **({"nextToken": token} if token else {})}


# --- validate -------------------------------------------------------------------

MAX_DIAGNOSTICS = 100


@operation("ValidateStateMachineDefinition")
def validate_state_machine_definition(ctx: ApiContext, params: dict[str, Any]) -> dict[str, Any]:
    machine_type = params.get("type", "STANDARD")
    check_type(machine_type)
    limit = params.get("maxResults") or MAX_DIAGNOSTICS
    if not 1 <= limit <= MAX_DIAGNOSTICS:
        raise ApiError("ValidationException", f"maxResults must be between 0 and {MAX_DIAGNOSTICS}")
    diagnostics = [
        {"severity": "ERROR", "code": code, "message": p.message, "location": p.path or "/"}
        for code, p in definition_problems(params["definition"], machine_type)
    ]
    result = "FAIL" if diagnostics else "OK"
    if params.get("severity", "ERROR") == "WARNING" and not diagnostics:
        diagnostics.extend(_warnings(params["definition"]))
    return {
        "result": result,
        "diagnostics": diagnostics[:limit],
        "truncated": len(diagnostics) > limit,
    }


def _warnings(text: str) -> list[dict[str, Any]]:
    """NO_DOLLAR: a JSONPath template value that looks like a path in a key without ``.$``."""
    out: list[dict[str, Any]] = []

    def walk(value: Any, path: str, template: bool) -> None:
        if isinstance(value, dict):
            for key, item in value.items():
                escaped = str(key).replace("~", "~0").replace("/", "~1")
                inner = template or key in ("Parameters", "ResultSelector", "ItemSelector")
                looks_dynamic = isinstance(item, str) and item.startswith(("$.", "States."))
                if template and looks_dynamic and not str(key).endswith(".$"):
                    out.append(
                        {
                            "severity": "WARNING",
                            "code": "NO_DOLLAR",
                            "message": f"field '{key}' holds a path or intrinsic function "
                            "but its name does not end with '.$'",
                            "location": f"{path}/{escaped}",
                        }
                    )
                walk(item, f"{path}/{escaped}", inner)
        elif isinstance(value, list):
            for i, item in enumerate(value):
                walk(item, f"{path}/{i}", template)

    walk(json.loads(text), "", False)
    return out

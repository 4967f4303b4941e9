"""TagResource, UntagResource, ListTagsForResource; ``put_tags`` for the create operations.

Tags live in the catalog's ``tags`` documents, keyed by resource ARN
(``catalog.TagsDoc``). As in Step Functions, state machines and activities
carry tags (not versions, aliases or executions); at most 50 a resource, keys
1..128 and values 0..256 characters, keys starting ``aws:`` reserved. Every
change is a conditional write on the document's revision, retried a few times
when another writer got in between, so two concurrent TagResource calls both
land.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable
from typing import Any

from stepq.api import arns as arn_rules
from stepq.api import catalog
from stepq.api.context import ApiContext
from stepq.api.protocol import ApiError
from stepq.api.registry import operation
from stepq.errors import AlreadyExistsError, ConflictError, NotFoundError

__all__ = ["MAX_TAGS", "check_tags", "drop_tags", "put_tags", "set_tags"]

MAX_TAGS = 50
MAX_KEY = 128
MAX_VALUE = 256
_WRITE_ATTEMPTS = 5  # a conflict means another writer won: read again and re-apply


def put_tags(ctx: ApiContext, resource_arn: str, tags: Iterable[dict[str, Any]] | None) -> None:
    """Add or replace ``tags`` (``[{"key": ..., "value": ...}]``) on a resource.

    For CreateStateMachine and CreateActivity too, once the resource exists
    (its document is written): the checks are those of TagResource, without
    the existence check, which the caller has just made true.
    """
    wanted = _check_tags(list(tags or []))
    if wanted:
        _update(ctx, resource_arn, lambda current: {**current, **wanted})


def set_tags(ctx: ApiContext, resource_arn: str, tags: dict[str, str]) -> None:
    """A created resource's tags: exactly ``tags`` (checked by ``check_tags``).

    Replaces, not merges: tags left by a deleted resource of the same name go.
    """
    _update(ctx, resource_arn, lambda _current: dict(tags))


def drop_tags(ctx: ApiContext, resource_arn: str) -> None:
    """Forget a deleted resource's tags (DeleteStateMachine, DeleteActivity)."""
    with contextlib.suppress(NotFoundError):
        ctx.store.delete_doc("tags", resource_arn)


def check_tags(tags: object) -> dict[str, str]:
    """``tags`` as a dict, or the ApiError TagResource gives (checked before a create writes)."""
    listed = list(tags) if isinstance(tags, list) else []
    wanted = _check_tags(listed)
    if len(wanted) > MAX_TAGS:
        raise ApiError("TooManyTags", f"Too many tags: {len(wanted)}, the limit is {MAX_TAGS}")
    return wanted


def _check_tags(tags: list[dict[str, Any]]) -> dict[str, str]:
    out: dict[str, str] = {}
    for tag in tags:
        if not isinstance(tag, dict):
            raise ApiError("ValidationException", f"A tag is an object with a key: {tag!r}")
        key, value = tag.get("key"), tag.get("value", "")
        if not isinstance(key, str) or not 1 <= len(key) <= MAX_KEY:
            raise ApiError(
                "ValidationException", f"Tag keys are 1 to {MAX_KEY} characters: {key!r}"
            )
        if not isinstance(value, str) or len(value) > MAX_VALUE:
            raise ApiError(
                "ValidationException", f"Tag values are 0 to {MAX_VALUE} characters (key {key!r})"
            )
        if key.lower().startswith("aws:"):
            raise ApiError("ValidationException", f"Tag keys starting 'aws:' are reserved: {key!r}")
        out[key] = value
    return out


def _update(
    ctx: ApiContext, resource_arn: str, change: Callable[[dict[str, str]], dict[str, str]]
) -> None:
    for _ in range(_WRITE_ATTEMPTS):
        doc = ctx.store.get_doc("tags", resource_arn)
        current = {} if doc is None else catalog.TagsDoc.model_validate(doc.body).tags
        updated = change(current)
        if len(updated) > MAX_TAGS:
            raise ApiError(
                "TooManyTags",
                f"Too many tags: {resource_arn} would have {len(updated)}, the limit is {MAX_TAGS}",
            )
        if updated == current:
            return
        body = catalog.TagsDoc(tags=updated).model_dump()
        try:
            ctx.store.put_doc("tags", resource_arn, body, None if doc is None else doc.rev)
            return
        except (ConflictError, AlreadyExistsError):
            continue
    raise ApiError("ConflictException", f"tags of {resource_arn} keep changing; try again")


def _existing(ctx: ApiContext, resource_arn: object) -> str:
    """The ARN of a taggable resource of this deployment that exists."""
    parsed = arn_rules.parse(resource_arn, "stateMachine", "activity")
    arn = str(resource_arn)
    ctx.arns.own(parsed, arn)
    if len(parsed.parts) != 1:
        # A version or alias ARN: Step Functions tags the state machine itself only.
        raise ApiError("InvalidArn", f"Invalid Arn: '{arn}' (tag the state machine, not {arn!r})")
    kind = "machine" if parsed.kind == "stateMachine" else "activity"
    if ctx.store.get_doc(kind, parsed.parts[0]) is None:
        raise ApiError("ResourceNotFound", f"Resource not found: '{arn}'")
    return arn


@operation("TagResource")
def tag_resource(ctx: ApiContext, params: dict[str, Any]) -> dict[str, Any]:
    arn = _existing(ctx, params.get("resourceArn"))
    put_tags(ctx, arn, params.get("tags"))
    return {}


@operation("UntagResource")
def untag_resource(ctx: ApiContext, params: dict[str, Any]) -> dict[str, Any]:
    arn = _existing(ctx, params.get("resourceArn"))
    gone = set(params.get("tagKeys") or [])
    _update(ctx, arn, lambda current: {k: v for k, v in current.items() if k not in gone})
    return {}


@operation("ListTagsForResource")
def list_tags_for_resource(ctx: ApiContext, params: dict[str, Any]) -> dict[str, Any]:
    arn = _existing(ctx, params.get("resourceArn"))
    return {"tags": [{"key": k, "value": v} for k, v in catalog.tags(ctx, arn).items()]}

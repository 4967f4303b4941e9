"""SearchExecutions' ``tags`` filter: executions whose state machine carries every tag.

Executions have no tags in Step Functions; state machines do (api/tags.py).
A filter ``{"key": K, "value": V}`` matches a machine tagged K=V; without a
value, a machine tagged K with any value. The matching machines are resolved
from the catalog's ``tags`` documents once per call, then the listing scans
only those machines.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from stepq.api import catalog
from stepq.api.context import ApiContext
from stepq.api.tags import MAX_KEY, MAX_VALUE

MAX_TAG_FILTERS = 10  # each is checked against every tagged machine: keep it small


class TagFilter(BaseModel):
    """One tag a machine must carry; ``value`` absent: any value."""

    model_config = ConfigDict(extra="forbid", strict=True)

    key: str = Field(min_length=1, max_length=MAX_KEY)
    value: str | None = Field(default=None, max_length=MAX_VALUE)


def _matches(tags: dict[str, str], wanted: list[TagFilter]) -> bool:
    return all(f.key in tags and (f.value is None or tags[f.key] == f.value) for f in wanted)


def machines_tagged(ctx: ApiContext, wanted: list[TagFilter]) -> set[str]:
    """Names of the state machines carrying every tag in ``wanted`` (one catalog read)."""
    prefix = ctx.arns.machine("")
    found = set()
    for doc in ctx.store.list_docs("tags", prefix):
        name = doc.key[len(prefix) :]
        if ":" in name:  # not a machine's own ARN (Step Functions tags machines only)
            continue
        if _matches(catalog.TagsDoc.model_validate(doc.body).tags, wanted):
            found.add(name)
    return found

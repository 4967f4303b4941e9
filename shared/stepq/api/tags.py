"""TagResource, UntagResource, ListTagsForResource."""

from __future__ import annotations

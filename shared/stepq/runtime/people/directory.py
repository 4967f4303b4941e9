"""Groups and their members, one catalog document each (kind ``group``).

A group is ``{"members": [...], "description": ...}``; changes are
conditional on the revision read, so two admins adding members at once both
land (the loser reads again). Who belongs where is read per decision, never
cached across requests: a member removed is refused at once.
"""

from __future__ import annotations

from collections.abc import Iterable

from stepq.core.people.model import check_label, check_person
from stepq.errors import ConflictError, NotFoundError
from stepq.runtime.ports import Store

GROUP = "group"
_RETRIES = 20


class Directory:
    def __init__(self, store: Store) -> None:
        self.store = store

    def members(self, group: str) -> frozenset[str]:
        """The group's members (empty for a group that does not exist)."""
        doc = self.store.get_doc(GROUP, group)
        return frozenset(doc.body.get("members", [])) if doc else frozenset()

    def groups(self, names: Iterable[str]) -> dict[str, frozenset[str]]:
        return {name: self.members(name) for name in set(names)}

    def list_groups(self) -> dict[str, frozenset[str]]:
        return {d.key: frozenset(d.body.get("members", [])) for d in self.store.list_docs(GROUP)}

    def groups_of(self, person: str) -> list[str]:
        return sorted(name for name, members in self.list_groups().items() if person in members)

    def create(self, group: str, members: Iterable[str] = (), description: str = "") -> None:
        """A new group; AlreadyExistsError if the name is taken."""
        check_label(group, "group name")
        people = sorted({check_person(m) for m in members})
        self.store.put_doc(GROUP, group, {"members": people, "description": description}, None)

    def delete(self, group: str) -> None:
        self.store.delete_doc(GROUP, group)

    def change(self, group: str, add: Iterable[str] = (), remove: Iterable[str] = ()) -> list[str]:
        """Add and remove members (conditional on the revision read); the members after."""
        adding = {check_person(m) for m in add}
        removing = set(remove)
        for _ in range(_RETRIES):
            doc = self.store.get_doc(GROUP, group)
            if doc is None:
                raise NotFoundError(f"group {group!r} does not exist")
            members = sorted((set(doc.body.get("members", [])) | adding) - removing)
            try:
                self.store.put_doc(GROUP, group, {**doc.body, "members": members}, doc.rev)
            except ConflictError:
                continue
            return members
        raise ConflictError(f"group {group!r} kept changing; try again")

"""The facts the rules decide with (``core.people.rules.Facts``), read per decision.

Groups are read at the moment a person acts (a removed member is refused at
once); the requester and stakeholders come from the request document; the
assignee and delegations from the task's own document.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from stepq.core.people.model import Email, HumanTaskSpec, Stakeholders, Target
from stepq.core.people.rules import Facts
from stepq.runtime.people.directory import Directory
from stepq.runtime.people.documents import RequestDoc, TaskDoc


def targets(spec: HumanTaskSpec) -> Iterator[Target]:
    """Every target the spec names: its requirements' and its activities'."""
    for transition in spec.Transitions:
        for requirement in transition.Requires:
            yield requirement.By
    activities = [*spec.Activities, *(a for r in spec.Reminders for a in r.Activities)]
    for activity in activities:
        if isinstance(activity, Email):
            yield activity.To
        elif isinstance(activity, Stakeholders):
            yield from activity.Targets


def group_names(spec: HumanTaskSpec) -> set[str]:
    """The groups the rules may ask about: the spec's, and the process admins'."""
    return {t.Group for t in targets(spec) if t.Group is not None} | {spec.Admins}


def facts_for(
    directory: Directory,
    spec: HumanTaskSpec,
    task: TaskDoc | None,
    request: RequestDoc,
    extra_groups: Iterable[str] = (),
) -> Facts:
    return Facts(
        requester=request.requester,
        stakeholders=frozenset(request.stakeholders),
        groups=directory.groups(group_names(spec) | set(extra_groups)),
        admins=spec.Admins,
        assignee=task.assignee if task is not None else spec.Assignee,
        delegations=dict(task.delegations) if task is not None else {},
    )

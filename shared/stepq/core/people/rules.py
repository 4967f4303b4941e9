"""Who may act on a human task, and which transition an action completes.

The rules (docs/PEOPLE.md, "Rules"):

- A person qualifies for a requirement when its target resolves to them;
  a delegate stands in for the person who delegated the task to them (for
  that task only), and that person no longer acts on it themselves.
- Each principal's newest action is the one that counts (a change of mind
  replaces the earlier action; every action stays in the record).
- A requirement holds when ``Count`` distinct principals whose counted action
  is its ``Action`` qualify for it. One principal counts for every
  requirement they qualify for, unless a requirement is ``Distinct``: the
  principals it counts count for no other requirement of that transition.
- After each action the transitions are checked in the order written; the
  first whose requirements all hold completes the task, and the others'
  pending actions are disabled.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

from stepq.core.people.model import ActionRecord, HumanTaskSpec, Requirement, Target, Transition

ACTIVE, DONE, DISABLED = "ACTIVE", "DONE", "DISABLED"


@dataclass(frozen=True)
class Facts:
    """What the rules need to know about the request and the people around it."""

    requester: str | None = None
    stakeholders: frozenset[str] = frozenset()
    groups: Mapping[str, frozenset[str]] = field(default_factory=dict)  # name -> members
    admins: str = "Admins"  # the group of the process admins
    assignee: str | None = None
    delegations: Mapping[str, str] = field(default_factory=dict)  # principal -> delegate

    def members(self, group: str) -> frozenset[str]:
        return self.groups.get(group, frozenset())


class Refused(Exception):
    """An action, claim or delegation the rules do not allow; ``reason`` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def qualifies(person: str, target: Target, facts: Facts) -> bool:
    if target.Requester:
        return person == facts.requester
    if target.Stakeholders:
        return person in facts.stakeholders
    if target.Group is not None:
        return person in facts.members(target.Group)
    if target.Admins:
        return person in facts.members(facts.admins)
    if target.Person is not None:
        return person == target.Person
    return target.Assignee is True and person == facts.assignee


def resolve(target: Target, facts: Facts) -> set[str]:
    """Every person a target names (what an e-mail to it reaches)."""
    if target.Requester:
        return {facts.requester} if facts.requester else set()
    if target.Stakeholders:
        return set(facts.stakeholders)
    if target.Group is not None:
        return set(facts.members(target.Group))
    if target.Admins:
        return set(facts.members(facts.admins))
    if target.Person is not None:
        return {target.Person}
    return {facts.assignee} if facts.assignee else set()


def principal_for(
    spec: HumanTaskSpec, facts: Facts, actor: str, action: str, on_behalf_of: str | None = None
) -> str:
    """Whose standing ``actor`` uses to perform ``action``; ``Refused`` if none."""
    if action not in spec.actions():
        raise Refused(
            f"{action} is not an action of this task (it has {', '.join(spec.actions())})"
        )
    if on_behalf_of is not None and on_behalf_of != actor:
        if facts.delegations.get(on_behalf_of) != actor:
            raise Refused(f"{on_behalf_of} has not delegated this task to {actor}")
        principal = on_behalf_of
    else:
        if actor in facts.delegations:
            raise Refused(f"{actor} delegated this task to {facts.delegations[actor]}")
        # Rule 6: a delegate stands in for one person and takes no part in their
        # own right, so an action of theirs is on that person's behalf.
        represented = represented_by(facts, actor)
        principal = represented[0] if represented else actor
    if not any(
        req.Action == action and qualifies(principal, req.By, facts)
        for transition in spec.Transitions
        for req in transition.Requires
    ):
        raise Refused(f"{principal} is not a target of {action} on this task")
    return principal


def represented_by(facts: Facts, person: str) -> list[str]:
    """The people who delegated the task to ``person`` (sorted)."""
    return sorted(p for p, d in facts.delegations.items() if d == person)


def check_delegation(
    spec: HumanTaskSpec, facts: Facts, actions: list[ActionRecord], principal: str, to: str
) -> None:
    """Rule 6's limit, so that a delegate's action never counts twice: ``Refused``
    unless ``to`` takes no part in the task in their own right (no requirement
    names them, they have not acted) and stands in for nobody else on it."""
    if to == principal:  # taking a delegation back
        return
    others = [p for p in represented_by(facts, to) if p != principal]
    if others:
        raise Refused(f"{to} already stands in for {others[0]} on this task")
    own = any(
        qualifies(to, req.By, facts)
        for transition in spec.Transitions
        for req in transition.Requires
    )
    if own or any(a.principal == to for a in actions):
        raise Refused(
            f"{to} takes part in this task in their own right; their action would count twice"
        )


def standing(actions: list[ActionRecord]) -> dict[str, str]:
    """principal -> the action that counts (their newest)."""
    return {a.principal: a.action for a in actions}


def _candidates(req: Requirement, counted: Mapping[str, str], facts: Facts) -> set[str]:
    return {p for p, act in counted.items() if act == req.Action and qualifies(p, req.By, facts)}


def holds(transition: Transition, counted: Mapping[str, str], facts: Facts) -> bool:
    """Whether every requirement of ``transition`` holds (Distinct ones exclusively)."""
    reqs = transition.Requires
    pools = [_candidates(req, counted, facts) for req in reqs]
    if any(len(pool) < req.Count for req, pool in zip(reqs, pools, strict=True)):
        return False
    if not any(req.Distinct for req in reqs):
        return True
    # People who meet the same requirements are interchangeable: search over how
    # many of each kind every Distinct requirement takes, not over who (a group of
    # 40 approvers would otherwise mean millions of combinations).
    kinds: dict[tuple[bool, ...], int] = {}
    for person in set().union(*pools):
        kind = tuple(person in pool for pool in pools)
        kinds[kind] = kinds.get(kind, 0) + 1
    distinct = [i for i, req in enumerate(reqs) if req.Distinct]
    shared = [i for i, req in enumerate(reqs) if not req.Distinct]
    return any(
        all(sum(n for kind, n in left.items() if kind[i]) >= reqs[i].Count for i in shared)
        for left in _exclusive_picks(reqs, distinct, kinds)
    )


def _exclusive_picks(
    reqs: list[Requirement], distinct: list[int], left: dict[tuple[bool, ...], int]
) -> Iterator[dict[tuple[bool, ...], int]]:
    """Every way to give each Distinct requirement ``Count`` people of its own, as the
    people of each kind left over after."""
    if not distinct:
        yield left
        return
    index, rest = distinct[0], distinct[1:]
    eligible = [kind for kind, n in left.items() if kind[index] and n > 0]
    for taken in _splits(reqs[index].Count, [left[kind] for kind in eligible]):
        after = dict(left)
        for kind, n in zip(eligible, taken, strict=True):
            after[kind] -= n
        yield from _exclusive_picks(reqs, rest, after)


def _splits(total: int, caps: list[int]) -> Iterator[tuple[int, ...]]:
    """Every way to write ``total`` as a sum of one count per cap, each at most its cap."""
    if not caps:
        if total == 0:
            yield ()
        return
    if total > sum(caps):
        return
    for first in range(min(total, caps[0]), -1, -1):
        for rest in _splits(total - first, caps[1:]):
            yield (first, *rest)


def completed(spec: HumanTaskSpec, actions: list[ActionRecord], facts: Facts) -> str | None:
    """The transition the actions complete (the first written that holds), or None."""
    counted = standing(actions)
    for transition in spec.Transitions:
        if holds(transition, counted, facts):
            return transition.Name
    return None


@dataclass(frozen=True)
class RequirementView:
    action: str
    target: str  # Target.describe()
    needed: int
    counted: list[str]  # principals whose counted action meets it (sorted)
    status: str  # ACTIVE, DONE (holds on its own) or DISABLED (another transition completed)


@dataclass(frozen=True)
class TransitionView:
    name: str
    status: str  # ACTIVE, DONE (this one completed) or DISABLED
    requirements: list[RequirementView]


def progress(
    spec: HumanTaskSpec, actions: list[ActionRecord], facts: Facts, done: str | None
) -> list[TransitionView]:
    """Every transition's requirements: what is possible, done or disabled (for queries)."""
    counted = standing(actions)
    views = []
    for transition in spec.Transitions:
        if done is None:
            status = ACTIVE
        else:
            status = DONE if transition.Name == done else DISABLED
        reqs = []
        for req in transition.Requires:
            who = sorted(_candidates(req, counted, facts))
            if status == DISABLED:
                req_status = DISABLED
            else:
                req_status = DONE if len(who) >= req.Count or status == DONE else ACTIVE
            reqs.append(RequirementView(req.Action, req.By.describe(), req.Count, who, req_status))
        views.append(TransitionView(transition.Name, status, reqs))
    return views


def possible_actions(spec: HumanTaskSpec, facts: Facts, person: str) -> list[str]:
    """The actions ``person`` may perform now (as themselves or a delegate), in task order."""
    principals = represented_by(facts, person)
    if person not in facts.delegations and not principals:
        principals = [person]
    return [
        action
        for action in spec.actions()
        if any(
            req.Action == action and qualifies(p, req.By, facts)
            for p in principals
            for transition in spec.Transitions
            for req in transition.Requires
        )
    ]


def is_target(spec: HumanTaskSpec, facts: Facts, person: str) -> bool:
    """Whether the task belongs in ``person``'s inbox (assigned, delegated, or a target)."""
    return person == facts.assignee or bool(possible_actions(spec, facts, person))

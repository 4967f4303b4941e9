"""The rules of human tasks (docs/PEOPLE.md "Rules"): core/people/rules.py and model.py.

Examples for each rule, then properties checked against a brute-force oracle
written apart from ``rules.holds``.
"""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError
from stepq.core.people.model import (
    ActionRecord,
    HumanTaskSpec,
    ProcessActivities,
    Target,
    task_result,
)
from stepq.core.people.rules import (
    ACTIVE,
    DISABLED,
    DONE,
    Facts,
    Refused,
    check_delegation,
    completed,
    holds,
    is_target,
    possible_actions,
    principal_for,
    progress,
    qualifies,
    resolve,
    standing,
)

_clock = itertools.count()


def spec(*transitions: tuple[str, list[dict[str, Any]]], **extra: Any) -> HumanTaskSpec:
    return HumanTaskSpec.model_validate(
        {
            "Title": "t",
            "Transitions": [{"Name": n, "Requires": reqs} for n, reqs in transitions],
            **extra,
        }
    )


def act(action: str, actor: str, principal: str | None = None, comment: str | None = None) -> Any:
    return ActionRecord(
        action=action,
        actor=actor,
        principal=principal or actor,
        at=f"2026-12-03T10:00:{next(_clock) % 60:02d}Z",
        comment=comment,
    )


def req(action: str, by: dict[str, Any], count: int = 1, distinct: bool = False) -> Any:
    return {"Action": action, "By": by, "Count": count, "Distinct": distinct}


EXECS = {"Group": "Executives"}
FACTS = Facts(
    requester="rita",
    stakeholders=frozenset({"sam", "sue"}),
    groups={"Executives": frozenset({"tom", "jane", "rita"}), "Admins": frozenset({"ada"})},
    assignee="alan",
)


# --- rule 1: qualifying, per target kind ------------------------------------------------


@pytest.mark.parametrize(
    ("target", "yes", "no"),
    [
        ({"Requester": True}, {"rita"}, {"tom", "sam", "alan", "ada"}),
        ({"Stakeholders": True}, {"sam", "sue"}, {"rita", "tom"}),
        ({"Group": "Executives"}, {"tom", "jane", "rita"}, {"sam", "ada"}),
        ({"Admins": True}, {"ada"}, {"tom", "rita"}),
        ({"Person": "sam"}, {"sam"}, {"sue", "rita"}),
        ({"Assignee": True}, {"alan"}, {"rita", "tom"}),
        ({"Group": "Nobody"}, set(), {"tom", "rita"}),  # a group that does not exist
    ],
)
def test_each_target_kind_qualifies_its_people(
    target: dict[str, Any], yes: set[str], no: set[str]
) -> None:
    parsed = Target.model_validate(target)
    assert {p for p in yes | no if qualifies(p, parsed, FACTS)} == yes
    assert resolve(parsed, FACTS) == (yes if target != {"Person": "sam"} else {"sam"})


def test_admins_are_the_group_the_task_names() -> None:
    facts = Facts(groups={"Admins": frozenset({"ada"}), "Finance": frozenset({"fin"})})
    custom = Facts(groups=facts.groups, admins="Finance")
    admins = Target(Admins=True)
    assert qualifies("ada", admins, facts) and not qualifies("fin", admins, facts)
    assert qualifies("fin", admins, custom) and not qualifies("ada", admins, custom)


def test_no_requester_and_no_assignee_qualify_no_one() -> None:
    empty = Facts()
    for target in (Target(Requester=True), Target(Assignee=True), Target(Stakeholders=True)):
        assert resolve(target, empty) == set()
        assert not qualifies("", target, empty)


def test_membership_is_read_when_deciding_so_a_removed_member_is_refused() -> None:
    task = spec(("ok", [req("Approve", EXECS)]))
    assert principal_for(task, FACTS, "tom", "Approve") == "tom"
    without_tom = Facts(groups={"Executives": frozenset({"jane"})})
    with pytest.raises(Refused, match="tom is not a target of Approve"):
        principal_for(task, without_tom, "tom", "Approve")


def test_an_earlier_action_counts_only_while_its_person_still_qualifies() -> None:
    """Counting reads the facts at each check (docs/PEOPLE.md rule 1): an approval by an
    Executive removed before the task completes no longer counts."""
    task = spec(("ok", [req("Approve", EXECS, count=2)]))
    actions = [act("Approve", "tom"), act("Approve", "jane")]
    assert completed(task, actions[:1], FACTS) is None
    without_tom = Facts(groups={"Executives": frozenset({"jane", "rita"})})
    assert completed(task, actions, without_tom) is None
    assert completed(task, [*actions, act("Approve", "rita")], without_tom) == "ok"


@pytest.mark.parametrize(
    "target",
    [{}, {"Requester": True, "Group": "X"}, {"Requester": False}, {"Group": "no/slash"}, {"X": 1}],
)
def test_a_target_names_exactly_one_valid_kind(target: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        Target.model_validate(target)


def test_a_target_describes_itself() -> None:
    assert Target(Group="Execs").describe() == "group Execs"
    assert Target(Person="tom").describe() == "tom"
    assert Target(Requester=True).describe() == "requester"
    assert Target(Assignee=True).describe() == "assignee"


# --- rule 2: counting people, not actions -----------------------------------------------


def test_n_of_m_counts_distinct_people() -> None:
    task = spec(("ok", [req("Approve", EXECS, count=2)]))
    assert completed(task, [act("Approve", "tom"), act("Approve", "tom")], FACTS) is None
    assert completed(task, [act("Approve", "tom"), act("Approve", "jane")], FACTS) == "ok"


def test_people_outside_the_target_do_not_count() -> None:
    task = spec(("ok", [req("Approve", EXECS, count=2)]))
    # sam is no Executive: (an action the server would have refused) counts for nothing
    assert completed(task, [act("Approve", "tom"), act("Approve", "sam")], FACTS) is None


def test_an_other_action_does_not_count_for_a_requirement() -> None:
    task = spec(("ok", [req("Approve", EXECS, count=2)]), ("no", [req("Deny", EXECS, count=2)]))
    assert completed(task, [act("Approve", "tom"), act("Deny", "jane")], FACTS) is None


# --- rule 3: one action, many requirements; Distinct ------------------------------------


def test_one_action_counts_for_every_requirement_its_person_qualifies_for() -> None:
    task = spec(("ok", [req("Approve", {"Requester": True}), req("Approve", EXECS)]))
    # rita is the requester AND an Executive: one approval meets both
    assert completed(task, [act("Approve", "rita")], FACTS) == "ok"


def test_distinct_needs_another_person_even_when_the_requester_is_an_executive() -> None:
    task = spec(("ok", [req("Approve", {"Requester": True}), req("Approve", EXECS, distinct=True)]))
    assert completed(task, [act("Approve", "rita")], FACTS) is None
    assert completed(task, [act("Approve", "rita"), act("Approve", "tom")], FACTS) == "ok"


def test_distinct_finds_an_assignment_when_one_exists() -> None:
    """Two Distinct requirements over overlapping pools: rita can only be the requester's,
    so the Executive must be someone else, and the search must not give rita to it."""
    task = spec(
        (
            "ok",
            [
                req("Approve", EXECS, distinct=True),
                req("Approve", {"Requester": True}, distinct=True),
            ],
        )
    )
    assert completed(task, [act("Approve", "rita")], FACTS) is None
    assert completed(task, [act("Approve", "rita"), act("Approve", "jane")], FACTS) == "ok"
    # two Distinct requirements with Count 2 and 1 need three people
    three = spec(
        (
            "ok",
            [req("Approve", EXECS, count=2, distinct=True), req("Approve", EXECS, distinct=True)],
        )
    )
    two = [act("Approve", "tom"), act("Approve", "jane")]
    assert completed(three, two, FACTS) is None
    assert completed(three, [*two, act("Approve", "rita")], FACTS) == "ok"


def test_distinct_people_count_for_nothing_else_but_shared_ones_share() -> None:
    task = spec(
        (
            "ok",
            [
                req("Approve", EXECS, distinct=True),
                req("Approve", EXECS),
                req("Approve", {"Person": "tom"}),
            ],
        )
    )
    # tom alone: Distinct takes him, so the shared ones lack him
    assert completed(task, [act("Approve", "tom")], FACTS) is None
    # tom and jane: jane for Distinct, tom for both shared ones
    assert completed(task, [act("Approve", "tom"), act("Approve", "jane")], FACTS) == "ok"


def test_distinct_over_a_large_group_is_decided_quickly() -> None:
    """Interchangeable people are counted, not combined: C(60, 10) picks would never end."""
    import time

    crowd = frozenset(f"p{i:02d}" for i in range(60))
    facts = Facts(groups={"Executives": crowd})
    task = spec(
        (
            "ok",
            [req("Approve", EXECS, count=10, distinct=True), req("Approve", EXECS, count=51)],
        )
    )
    actions = [act("Approve", p) for p in sorted(crowd)]
    started = time.monotonic()
    assert completed(task, actions, facts) is None  # 10 + 51 > 60
    assert completed(task, actions[:-1] + actions[-1:], facts) is None
    fewer = spec(
        (
            "ok",
            [req("Approve", EXECS, count=10, distinct=True), req("Approve", EXECS, count=50)],
        )
    )
    assert completed(fewer, actions, facts) == "ok"
    assert time.monotonic() - started < 2


# --- rule 4: change of mind -------------------------------------------------------------


def test_the_newest_action_of_each_person_counts() -> None:
    task = spec(("ok", [req("Approve", EXECS, count=2)]), ("no", [req("Deny", EXECS)]))
    actions = [act("Deny", "tom"), act("Approve", "tom")]
    assert standing(actions) == {"tom": "Approve"}
    assert completed(task, actions, FACTS) is None  # one approval; tom's Deny withdrawn
    assert completed(task, [*actions, act("Approve", "jane")], FACTS) == "ok"


def test_a_changed_mind_withdraws_the_earlier_action() -> None:
    task = spec(("ok", [req("Approve", EXECS, count=2)]), ("no", [req("Deny", EXECS, count=2)]))
    actions = [act("Approve", "tom"), act("Deny", "tom"), act("Approve", "jane")]
    assert completed(task, actions, FACTS) is None  # tom now denies: one approval
    assert completed(task, [*actions, act("Deny", "rita")], FACTS) == "no"


# --- rule 5: completion order, and disabled after completion -----------------------------


def test_the_first_transition_written_that_holds_completes() -> None:
    task = spec(
        ("first", [req("Approve", {"Person": "tom"})]),
        ("second", [req("Approve", EXECS)]),
    )
    assert completed(task, [act("Approve", "tom")], FACTS) == "first"
    assert completed(task, [act("Approve", "jane")], FACTS) == "second"


def test_progress_shows_what_holds_and_disables_the_others_after_completion() -> None:
    task = spec(
        ("approved", [req("Approve", {"Requester": True}), req("Approve", EXECS, count=2)]),
        ("denied", [req("Deny", EXECS)]),
    )
    actions = [act("Approve", "rita"), act("Deny", "jane")]
    open_views = progress(task, actions, FACTS, None)
    assert [v.status for v in open_views] == [ACTIVE, ACTIVE]
    approved = open_views[0].requirements
    assert [(r.counted, r.status) for r in approved] == [(["rita"], DONE), (["rita"], ACTIVE)]
    assert (approved[1].target, approved[1].needed) == ("group Executives", 2)
    assert open_views[1].requirements[0].counted == ["jane"]

    done = completed(task, actions, FACTS)
    assert done == "denied"
    closed = progress(task, actions, FACTS, done)
    assert [v.status for v in closed] == [DISABLED, DONE]
    assert {r.status for r in closed[0].requirements} == {DISABLED}
    assert [r.status for r in closed[1].requirements] == [DONE]


# --- rule 6: delegation -----------------------------------------------------------------


DELEGATED = Facts(
    requester="rita",
    groups={"Executives": frozenset({"tom", "jane"})},
    delegations={"tom": "dan"},  # tom delegated this task to dan
)


def test_a_delegate_acts_on_behalf_of_the_delegator() -> None:
    task = spec(("ok", [req("Approve", EXECS, count=2)]))
    assert principal_for(task, DELEGATED, "dan", "Approve", on_behalf_of="tom") == "tom"
    record = act("Approve", "dan", principal="tom")
    assert record.as_result()["OnBehalfOf"] == "tom"
    # dan's action counts as tom's: with jane, two Executives
    assert completed(task, [record, act("Approve", "jane")], DELEGATED) == "ok"


def test_the_delegator_is_refused_on_the_task() -> None:
    task = spec(("ok", [req("Approve", EXECS)]))
    with pytest.raises(Refused, match="tom delegated this task to dan"):
        principal_for(task, DELEGATED, "tom", "Approve")
    assert possible_actions(task, DELEGATED, "tom") == []
    assert not is_target(task, DELEGATED, "tom")


def test_on_behalf_of_someone_who_did_not_delegate_is_refused() -> None:
    task = spec(("ok", [req("Approve", EXECS)]))
    with pytest.raises(Refused, match="jane has not delegated this task to dan"):
        principal_for(task, DELEGATED, "dan", "Approve", on_behalf_of="jane")
    with pytest.raises(Refused, match="tom has not delegated this task to jane"):
        principal_for(task, DELEGATED, "jane", "Approve", on_behalf_of="tom")


def test_a_delegate_acts_for_the_person_they_stand_in_for_never_as_themselves() -> None:
    task = spec(("ok", [req("Approve", EXECS)]))
    # dan stands in for tom: his action is on tom's behalf, named or not
    assert principal_for(task, DELEGATED, "dan", "Approve") == "tom"
    # Even after joining the group: one person stands for one person on a task.
    joined = Facts(
        groups={"Executives": frozenset({"tom", "jane", "dan"})}, delegations={"tom": "dan"}
    )
    assert principal_for(task, joined, "dan", "Approve") == "tom"
    assert principal_for(task, joined, "dan", "Approve", on_behalf_of="dan") == "tom"
    assert possible_actions(task, joined, "dan") == ["Approve"]  # on tom's behalf only
    # on behalf of oneself is acting as oneself
    assert principal_for(task, DELEGATED, "jane", "Approve", on_behalf_of="jane") == "jane"


def test_a_delegation_that_would_let_one_persons_action_count_twice_is_refused() -> None:
    task = spec(("ok", [req("Approve", EXECS, count=2)]))
    # jane is an Executive herself: tom's approval through her would make 2 of 1 person
    with pytest.raises(Refused, match="jane takes part in this task in their own right"):
        check_delegation(task, DELEGATED, [], "tom", "jane")
    # dan already stands in for tom: he may not stand in for jane as well
    with pytest.raises(Refused, match="dan already stands in for tom"):
        check_delegation(task, DELEGATED, [], "jane", "dan")
    # someone who has acted (since removed from the group) counts already
    removed = Facts(groups={"Executives": frozenset({"tom"})})
    with pytest.raises(Refused, match="ann takes part"):
        check_delegation(task, removed, [act("Approve", "ann")], "tom", "ann")
    check_delegation(task, DELEGATED, [], "jane", "sue")  # an outsider may stand in
    check_delegation(task, DELEGATED, [], "tom", "dan")  # the same delegation again
    check_delegation(task, DELEGATED, [], "tom", "tom")  # taking it back


def test_a_delegate_counts_as_the_delegator_also_for_distinct() -> None:
    task = spec(("ok", [req("Approve", {"Person": "tom"}), req("Approve", EXECS, distinct=True)]))
    # dan for tom meets "tom"; Distinct then needs someone else
    assert completed(task, [act("Approve", "dan", principal="tom")], DELEGATED) is None
    both = [act("Approve", "dan", principal="tom"), act("Approve", "jane")]
    assert completed(task, both, DELEGATED) == "ok"


# --- actions that do not exist -------------------------------------------------------------


def test_an_action_the_task_does_not_know_is_refused() -> None:
    task = spec(("ok", [req("Approve", EXECS)]))
    with pytest.raises(Refused, match="Escalate is not an action of this task"):
        principal_for(task, FACTS, "tom", "Escalate")


def test_a_target_of_one_action_is_refused_another() -> None:
    task = spec(("ok", [req("Approve", EXECS)]), ("no", [req("Deny", {"Requester": True})]))
    with pytest.raises(Refused, match="tom is not a target of Deny"):
        principal_for(task, FACTS, "tom", "Deny")


# --- possible_actions and is_target --------------------------------------------------------


def test_possible_actions_are_in_task_order_per_person() -> None:
    task = spec(
        ("ok", [req("Approve", EXECS)]),
        ("no", [req("Deny", EXECS), req("Deny", {"Requester": True})]),
        ("help", [req("Escalate", {"Stakeholders": True})]),
    )
    assert possible_actions(task, FACTS, "tom") == ["Approve", "Deny"]
    assert possible_actions(task, FACTS, "rita") == ["Approve", "Deny"]
    assert possible_actions(task, FACTS, "sam") == ["Escalate"]
    assert possible_actions(task, FACTS, "nobody") == []


def test_a_delegate_may_do_what_the_delegator_could() -> None:
    task = spec(("ok", [req("Approve", {"Person": "tom"})]), ("no", [req("Deny", EXECS)]))
    assert possible_actions(task, DELEGATED, "dan") == ["Approve", "Deny"]
    assert is_target(task, DELEGATED, "dan")


def test_is_target_covers_the_assignee_even_without_actions() -> None:
    task = spec(("ok", [req("Approve", EXECS)]))
    assert is_target(task, FACTS, "alan")  # assigned, though no target of Approve
    assert is_target(task, FACTS, "jane")
    assert not is_target(task, FACTS, "sam")


def test_the_assignee_target_follows_the_assignment() -> None:
    task = spec(("ok", [req("Approve", {"Assignee": True})]))
    assert possible_actions(task, FACTS, "alan") == ["Approve"]
    reassigned = Facts(assignee="bea")
    assert possible_actions(task, reassigned, "alan") == []
    assert completed(task, [act("Approve", "alan")], reassigned) is None


# --- the model ---------------------------------------------------------------------------


def test_the_spec_refuses_repeated_transition_names_and_bad_labels() -> None:
    with pytest.raises(ValidationError, match="transition names must differ: ok repeated"):
        spec(("ok", [req("Approve", EXECS)]), ("ok", [req("Deny", EXECS)]))
    with pytest.raises(ValidationError, match="not a valid action"):
        spec(("ok", [req("1Approve", EXECS)]))
    with pytest.raises(ValidationError):
        spec(("ok", [req("Approve", EXECS, count=0)]))
    with pytest.raises(ValidationError):
        spec(("ok", []))
    with pytest.raises(ValidationError, match="group name"):
        spec(("ok", [req("Approve", EXECS)]), Admins="bad/group")
    with pytest.raises(ValidationError, match="person"):
        spec(("ok", [req("Approve", EXECS)]), Assignee=" x")


def test_the_spec_lists_its_actions_once_in_order() -> None:
    task = spec(
        ("a", [req("Deny", EXECS), req("Approve", EXECS)]),
        ("b", [req("Approve", {"Requester": True}), req("Escalate", EXECS)]),
    )
    assert task.actions() == ["Deny", "Approve", "Escalate"]


def test_activities_and_reminders_parse_by_type() -> None:
    task = spec(
        ("ok", [req("Approve", EXECS)]),
        Activities=[
            {"Type": "Note", "Text": "opened"},
            {"Type": "Email", "To": EXECS, "Subject": "look"},
            {"Type": "AddStakeholders", "People": ["sam"]},
        ],
        Reminders=[{"AfterSeconds": 60, "Activities": [{"Type": "Note", "Text": "still"}]}],
    )
    assert [type(a).__name__ for a in task.Activities] == ["Note", "Email", "Stakeholders"]
    with pytest.raises(ValidationError, match="RemoveStakeholders names People or Targets"):
        ProcessActivities.model_validate({"Activities": [{"Type": "RemoveStakeholders"}]})
    with pytest.raises(ValidationError):
        ProcessActivities.model_validate({"Activities": [{"Type": "Sms", "Text": "x"}]})


def test_the_result_names_the_transition_and_every_action() -> None:
    actions = [act("Approve", "jane", comment="fine"), act("Approve", "dan", principal="tom")]
    result = task_result("t-1", "Review", "approved", actions)
    assert result["Transition"] == "approved"
    assert (result["CompletedBy"], result["CompletedAt"]) == ("dan", actions[1].at)
    assert result["Actions"] == [
        {"Action": "Approve", "By": "jane", "At": actions[0].at, "Comment": "fine"},
        {"Action": "Approve", "By": "dan", "At": actions[1].at, "OnBehalfOf": "tom"},
    ]


# --- properties ---------------------------------------------------------------------------

PEOPLE = ["ann", "bob", "cy", "dee", "eve"]
ACTIONS = ["Approve", "Deny"]

targets = st.one_of(
    st.just({"Requester": True}),
    st.just({"Stakeholders": True}),
    st.sampled_from([{"Group": "G1"}, {"Group": "G2"}]),
    st.just({"Admins": True}),
    st.sampled_from([{"Person": p} for p in PEOPLE]),
    st.just({"Assignee": True}),
)
requirements = st.builds(
    req,
    st.sampled_from(ACTIONS),
    targets,
    st.integers(1, 2),
    st.booleans(),
)
specs = st.lists(st.lists(requirements, min_size=1, max_size=3), min_size=1, max_size=3).map(
    lambda transitions: spec(*[(f"t{i}", reqs) for i, reqs in enumerate(transitions)])
)
subsets = st.frozensets(st.sampled_from(PEOPLE))
facts_st = st.builds(
    lambda requester, stakeholders, g1, g2, admins, assignee: Facts(
        requester=requester,
        stakeholders=stakeholders,
        groups={"G1": g1, "G2": g2, "Admins": admins},
        assignee=assignee,
    ),
    st.none() | st.sampled_from(PEOPLE),
    subsets,
    subsets,
    subsets,
    subsets,
    st.none() | st.sampled_from(PEOPLE),
)
action_lists = st.lists(st.tuples(st.sampled_from(ACTIONS), st.sampled_from(PEOPLE)), max_size=8)


def oracle_holds(task: HumanTaskSpec, name: str, counted: dict[str, str], facts: Facts) -> bool:
    """Brute force: give each person at most one Distinct requirement (or none); it holds
    when every Distinct requirement gets enough of its own, and every other requirement
    enough among the people given to no Distinct one."""
    transition = next(t for t in task.Transitions if t.Name == name)
    reqs = transition.Requires
    distinct = [i for i, r in enumerate(reqs) if r.Distinct]
    people = sorted(counted)

    def meets(person: str, i: int) -> bool:
        return counted[person] == reqs[i].Action and qualifies(person, reqs[i].By, facts)

    for choice in itertools.product([None, *distinct], repeat=len(people)):
        given_to = dict(zip(people, choice, strict=True))
        if any(i is not None and not meets(p, i) for p, i in given_to.items()):
            continue
        free = [p for p, i in given_to.items() if i is None]
        if all(
            sum(1 for i2 in given_to.values() if i2 == i) >= reqs[i].Count
            if reqs[i].Distinct
            else sum(1 for p in free if meets(p, i)) >= reqs[i].Count
            for i in range(len(reqs))
        ):
            return True
    return False


def records(pairs: list[tuple[str, str]]) -> list[ActionRecord]:
    return [act(action, person) for action, person in pairs]


@settings(max_examples=300, deadline=None)
@given(specs, facts_st, action_lists)
def test_completed_is_the_first_transition_the_oracle_says_holds(
    task: HumanTaskSpec, facts: Facts, pairs: list[tuple[str, str]]
) -> None:
    actions = records(pairs)
    counted = standing(actions)
    expected = next(
        (t.Name for t in task.Transitions if oracle_holds(task, t.Name, counted, facts)), None
    )
    assert completed(task, actions, facts) == expected
    for transition in task.Transitions:
        assert holds(transition, counted, facts) == oracle_holds(
            task, transition.Name, counted, facts
        )


@settings(max_examples=200, deadline=None)
@given(specs, facts_st, action_lists, st.sampled_from([*ACTIONS, "Escalate"]), st.data())
def test_an_action_by_someone_who_does_not_qualify_changes_nothing(
    task: HumanTaskSpec, facts: Facts, pairs: list[tuple[str, str]], action: str, data: Any
) -> None:
    outsiders = [
        p
        for p in [*PEOPLE, "zed"]
        if p not in {who for _, who in pairs}  # no earlier action of theirs to replace
        and not any(
            r.Action == action and qualifies(p, r.By, facts)
            for t in task.Transitions
            for r in t.Requires
        )
    ]
    outsider = data.draw(st.sampled_from(outsiders))  # "zed" is always one
    actions = records(pairs)
    at = data.draw(st.integers(0, len(actions)))
    with_outsider = [*actions[:at], act(action, outsider), *actions[at:]]
    assert completed(task, with_outsider, facts) == completed(task, actions, facts)
    if action in task.actions():
        with pytest.raises(Refused):
            principal_for(task, facts, outsider, action)


@settings(max_examples=200, deadline=None)
@given(
    specs,
    facts_st,
    st.dictionaries(st.sampled_from(PEOPLE), st.sampled_from(ACTIONS)),
    st.randoms(use_true_random=False),
)
def test_the_order_of_actions_by_distinct_people_does_not_matter(
    task: HumanTaskSpec, facts: Facts, choices: dict[str, str], random: Any
) -> None:
    actions = records([(action, person) for person, action in choices.items()])
    shuffled = list(actions)
    random.shuffle(shuffled)
    assert completed(task, shuffled, facts) == completed(task, actions, facts)


@settings(max_examples=200, deadline=None)
@given(specs, facts_st, action_lists, st.sampled_from(ACTIONS), st.sampled_from(PEOPLE))
def test_a_new_persons_action_never_undoes_completion(
    task: HumanTaskSpec, facts: Facts, pairs: list[tuple[str, str]], action: str, person: str
) -> None:
    actions = [a for a in records(pairs) if a.principal != person]
    if completed(task, actions, facts) is not None:
        assert completed(task, [*actions, act(action, person)], facts) is not None


@settings(max_examples=200, deadline=None)
@given(specs, facts_st, action_lists)
def test_progress_agrees_with_completed(
    task: HumanTaskSpec, facts: Facts, pairs: list[tuple[str, str]]
) -> None:
    actions = records(pairs)
    done = completed(task, actions, facts)
    views = progress(task, actions, facts, done)
    assert [v.name for v in views] == [t.Name for t in task.Transitions]
    for view in views:
        expected = ACTIVE if done is None else (DONE if view.name == done else DISABLED)
        assert view.status == expected
        if view.status == DISABLED:
            assert {r.status for r in view.requirements} == {DISABLED}
        if view.status == DONE:
            assert {r.status for r in view.requirements} == {DONE}


@settings(max_examples=200, deadline=None)
@given(specs, facts_st, st.sampled_from([*PEOPLE, "zed"]))
def test_possible_actions_are_exactly_those_the_rules_accept(
    task: HumanTaskSpec, facts: Facts, person: str
) -> None:
    accepted = []
    for action in task.actions():
        try:
            principal_for(task, facts, person, action)
        except Refused:
            continue
        accepted.append(action)
    assert possible_actions(task, facts, person) == accepted

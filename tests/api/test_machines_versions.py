"""Versions and aliases over real HTTP: publish, list, delete, weighted routing."""

from __future__ import annotations

import random
from collections import Counter
from typing import Any

import pytest
from stepq.api import catalog
from stepq.hosting.dev import DevServer

from api.machines_helpers import create, pass_machine


def _machine_with_versions(sfn: Any, count: int) -> tuple[str, list[str]]:
    arn = create(sfn, publish=True)["stateMachineArn"]
    versions = [f"{arn}:1"]
    for i in range(2, count + 1):
        updated = sfn.update_state_machine(
            stateMachineArn=arn, definition=pass_machine(f"v{i}"), publish=True
        )
        versions.append(updated["stateMachineVersionArn"])
    return arn, versions


def test_publish_numbers_versions_and_publishing_a_revision_again_returns_it(sfn: Any) -> None:
    arn = create(sfn)["stateMachineArn"]
    revision = sfn.describe_state_machine(stateMachineArn=arn)["revisionId"]
    first = sfn.publish_state_machine_version(stateMachineArn=arn, description="one")
    assert first["stateMachineVersionArn"] == f"{arn}:1"
    again = sfn.publish_state_machine_version(stateMachineArn=arn, revisionId=revision)
    assert again["stateMachineVersionArn"] == f"{arn}:1"
    assert again["creationDate"] == first["creationDate"]
    with pytest.raises(sfn.exceptions.ConflictException):
        sfn.publish_state_machine_version(stateMachineArn=arn, revisionId="not-the-current-one")
    sfn.update_state_machine(stateMachineArn=arn, definition=pass_machine("v2"))
    with pytest.raises(sfn.exceptions.ConflictException):  # $LATEST moved on
        sfn.publish_state_machine_version(stateMachineArn=arn, revisionId=revision)
    second = sfn.publish_state_machine_version(stateMachineArn=arn)
    assert second["stateMachineVersionArn"] == f"{arn}:2"


def test_versions_list_newest_first_in_pages_and_numbers_are_not_reused(sfn: Any) -> None:
    arn, versions = _machine_with_versions(sfn, 5)
    seen: list[str] = []
    token: dict[str, Any] = {}
    while True:
        page = sfn.list_state_machine_versions(stateMachineArn=arn, maxResults=2, **token)
        seen += [v["stateMachineVersionArn"] for v in page["stateMachineVersions"]]
        if "nextToken" not in page:
            break
        token = {"nextToken": page["nextToken"]}
    assert seen == versions[::-1]
    with pytest.raises(sfn.exceptions.InvalidToken):  # another listing's token
        sfn.list_state_machines(nextToken=token["nextToken"])
    sfn.delete_state_machine_version(stateMachineVersionArn=versions[-1])
    sfn.delete_state_machine_version(stateMachineVersionArn=versions[-1])  # idempotent
    with pytest.raises(sfn.exceptions.StateMachineDoesNotExist):
        sfn.describe_state_machine(stateMachineArn=versions[-1])
    sfn.update_state_machine(stateMachineArn=arn, definition=pass_machine("v6"))
    assert sfn.publish_state_machine_version(stateMachineArn=arn)["stateMachineVersionArn"] == (
        f"{arn}:6"
    )


def test_alias_lifecycle_and_its_routing_rules(sfn: Any) -> None:
    arn, (v1, v2, _) = _machine_with_versions(sfn, 3)
    routes = [{"stateMachineVersionArn": v1, "weight": 100}]
    alias = sfn.create_state_machine_alias(name="live", routingConfiguration=routes)
    alias_arn = alias["stateMachineAliasArn"]
    assert alias_arn == f"{arn}:live"
    same = sfn.create_state_machine_alias(name="live", routingConfiguration=routes)
    assert same["creationDate"] == alias["creationDate"]  # idempotent
    with pytest.raises(sfn.exceptions.ConflictException):
        sfn.create_state_machine_alias(
            name="live", routingConfiguration=[{"stateMachineVersionArn": v2, "weight": 100}]
        )
    split = [
        {"stateMachineVersionArn": v1, "weight": 90},
        {"stateMachineVersionArn": v2, "weight": 10},
    ]
    sfn.update_state_machine_alias(
        stateMachineAliasArn=alias_arn, routingConfiguration=split, description="canary"
    )
    described = sfn.describe_state_machine_alias(stateMachineAliasArn=alias_arn)
    assert described["routingConfiguration"] == split
    assert (described["name"], described["description"]) == ("live", "canary")
    assert described["updateDate"] >= described["creationDate"]
    listed = sfn.list_state_machine_aliases(stateMachineArn=arn)["stateMachineAliases"]
    assert [a["stateMachineAliasArn"] for a in listed] == [alias_arn]
    for version in (v1, v2):
        with pytest.raises(sfn.exceptions.ConflictException):
            sfn.delete_state_machine_version(stateMachineVersionArn=version)
    sfn.delete_state_machine_alias(stateMachineAliasArn=alias_arn)
    with pytest.raises(sfn.exceptions.ResourceNotFound):
        sfn.describe_state_machine_alias(stateMachineAliasArn=alias_arn)
    with pytest.raises(sfn.exceptions.ResourceNotFound):
        sfn.delete_state_machine_alias(stateMachineAliasArn=alias_arn)
    sfn.delete_state_machine_version(stateMachineVersionArn=v1)  # no alias routes to it now


@pytest.mark.parametrize(
    ("weights", "error"),
    [
        ([60, 30], "ValidationException"),  # not 100 in all
        ([101], "ValidationException"),
        ([50, 50, 0], "ValidationException"),  # three versions
        ([100, 0, "same"], "ValidationException"),  # one version twice
    ],
)
def test_bad_routing_is_refused(sfn: Any, weights: list[Any], error: str) -> None:
    _, versions = _machine_with_versions(sfn, 3)
    if weights[-1] == "same":
        routes = [{"stateMachineVersionArn": versions[0], "weight": w} for w in weights[:2]]
    else:
        routes = [
            {"stateMachineVersionArn": v, "weight": w}
            for v, w in zip(versions, weights, strict=False)
        ]
    with pytest.raises(getattr(sfn.exceptions, error)):
        sfn.create_state_machine_alias(name="a", routingConfiguration=routes)


def test_routing_to_missing_or_foreign_versions_is_refused(sfn: Any) -> None:
    arn, (v1,) = _machine_with_versions(sfn, 1)
    other = create(sfn, name="other", publish=True)["stateMachineVersionArn"]
    with pytest.raises(sfn.exceptions.ResourceNotFound):
        sfn.create_state_machine_alias(
            name="a", routingConfiguration=[{"stateMachineVersionArn": f"{arn}:9", "weight": 100}]
        )
    with pytest.raises(sfn.exceptions.ValidationException):
        sfn.create_state_machine_alias(
            name="a",
            routingConfiguration=[
                {"stateMachineVersionArn": v1, "weight": 50},
                {"stateMachineVersionArn": other, "weight": 50},
            ],
        )
    with pytest.raises(sfn.exceptions.InvalidName):
        sfn.create_state_machine_alias(
            name="123", routingConfiguration=[{"stateMachineVersionArn": v1, "weight": 100}]
        )


def test_an_alias_splits_starts_by_weight(dev: DevServer, sfn: Any) -> None:
    _, (v1, v2) = _machine_with_versions(sfn, 2)
    routes = [
        {"stateMachineVersionArn": v1, "weight": 80},
        {"stateMachineVersionArn": v2, "weight": 20},
    ]
    alias_arn = sfn.create_state_machine_alias(name="split", routingConfiguration=routes)[
        "stateMachineAliasArn"
    ]
    rng = random.Random(7)  # the weighting itself: tests/unit/test_machines_routing.py
    picks = Counter(catalog.resolve(dev.context, alias_arn, rng).version_arn for _ in range(60))
    assert set(picks) == {v1, v2} and picks[v1] > picks[v2]
    target = catalog.resolve(dev.context, alias_arn, rng)
    assert target.alias_arn == alias_arn and target.name == "orders"
    sfn.update_state_machine_alias(
        stateMachineAliasArn=alias_arn,
        routingConfiguration=[
            {"stateMachineVersionArn": v1, "weight": 0},
            {"stateMachineVersionArn": v2, "weight": 100},
        ],
    )
    assert {catalog.resolve(dev.context, alias_arn, rng).version_arn for _ in range(40)} == {v2}
    # A start through the alias runs its version's revision.
    started = catalog.resolve(dev.context, alias_arn, rng)
    execution = dev.context.orchestrator.start("orders", "via-alias", {}, version=started.revision)
    assert dev.runtime.wait(execution, 30).output == "v2"


def test_deleting_a_machine_deletes_its_versions_and_aliases(sfn: Any) -> None:
    arn, (v1,) = _machine_with_versions(sfn, 1)
    alias = sfn.create_state_machine_alias(
        name="live", routingConfiguration=[{"stateMachineVersionArn": v1, "weight": 100}]
    )["stateMachineAliasArn"]
    sfn.delete_state_machine(stateMachineArn=arn)
    with pytest.raises(sfn.exceptions.ResourceNotFound):
        sfn.describe_state_machine_alias(stateMachineAliasArn=alias)
    with pytest.raises(sfn.exceptions.StateMachineDoesNotExist):
        sfn.describe_state_machine(stateMachineArn=v1)
    create(sfn)
    assert sfn.publish_state_machine_version(stateMachineArn=arn)["stateMachineVersionArn"] == v1

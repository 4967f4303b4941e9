"""TagResource, UntagResource, ListTagsForResource over real HTTP with boto3's client.

The machine and activity are put in the catalog directly (their create
operations are another part's), exactly as those operations record them.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest
from stepq.api import catalog, tags
from stepq.hosting.dev import DevServer

from api.server_support import client, module_server

MACHINE = "arn:aws:states:us-east-1:111111111111:stateMachine:tagged"
ACTIVITY = "arn:aws:states:us-east-1:111111111111:activity:chores"
PASS = {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}


@pytest.fixture(scope="module")
def dev() -> Iterator[DevServer]:
    """One server for the module; ``resources`` gives each test untagged resources."""
    with module_server() as server:
        store = server.context.store
        revision = server.runtime.deploy("tagged", PASS)
        now = server.context.clock.now().isoformat()
        machine = catalog.MachineDoc(creationDate=now, revision=revision)
        store.put_doc("machine", "tagged", machine.model_dump(), None)
        activity = catalog.ActivityDoc(creationDate=now)
        store.put_doc("activity", "chores", activity.model_dump(), None)
        yield server


@pytest.fixture(scope="module")
def sfn(dev: DevServer) -> Any:
    return client(dev)


@pytest.fixture
def resources(dev: DevServer) -> Iterator[None]:
    """The machine and the activity, without tags before and after the test."""
    tags.drop_tags(dev.context, MACHINE)
    tags.drop_tags(dev.context, ACTIVITY)
    yield
    tags.drop_tags(dev.context, MACHINE)
    tags.drop_tags(dev.context, ACTIVITY)


def _listed(sfn: Any, arn: str) -> dict[str, str]:
    return {t["key"]: t["value"] for t in sfn.list_tags_for_resource(resourceArn=arn)["tags"]}


@pytest.mark.usefixtures("resources")
@pytest.mark.parametrize("arn", [MACHINE, ACTIVITY])
def test_tags_are_added_replaced_listed_and_removed(sfn: Any, arn: str) -> None:
    assert sfn.list_tags_for_resource(resourceArn=arn)["tags"] == []
    sfn.tag_resource(
        resourceArn=arn, tags=[{"key": "team", "value": "a"}, {"key": "env", "value": "dev"}]
    )
    sfn.tag_resource(resourceArn=arn, tags=[{"key": "team", "value": "b"}])
    assert _listed(sfn, arn) == {"team": "b", "env": "dev"}
    sfn.untag_resource(resourceArn=arn, tagKeys=["team", "absent"])
    assert _listed(sfn, arn) == {"env": "dev"}


@pytest.mark.usefixtures("resources")
def test_fifty_tags_fit_and_the_fifty_first_is_refused(sfn: Any) -> None:
    sfn.tag_resource(
        resourceArn=MACHINE, tags=[{"key": f"k{i}", "value": str(i)} for i in range(50)]
    )
    with pytest.raises(sfn.exceptions.TooManyTags):
        sfn.tag_resource(resourceArn=MACHINE, tags=[{"key": "one-more", "value": "x"}])
    # Replacing an existing key is not one more.
    sfn.tag_resource(resourceArn=MACHINE, tags=[{"key": "k0", "value": "zero"}])
    listed = _listed(sfn, MACHINE)
    assert len(listed) == 50 and listed["k0"] == "zero"


@pytest.mark.usefixtures("resources")
@pytest.mark.parametrize(
    "bad",
    [
        {"key": "k" * 129, "value": "v"},
        {"key": "k", "value": "v" * 257},
        {"key": "aws:reserved", "value": "v"},
    ],
)
def test_keys_and_values_beyond_the_limits_are_refused(sfn: Any, bad: dict[str, str]) -> None:
    from botocore.exceptions import ClientError, ParamValidationError

    # botocore checks lengths itself when it can; whatever reaches the server is refused there.
    with pytest.raises((ClientError, ParamValidationError)) as caught:
        sfn.tag_resource(resourceArn=MACHINE, tags=[bad])
    if isinstance(caught.value, ClientError):
        assert caught.value.response["Error"]["Code"] == "ValidationException"
    assert _listed(sfn, MACHINE) == {}


def test_server_side_limits_hold_without_botocore(
    sfn: Any, dev: DevServer, resources: None
) -> None:
    """botocore may skip client-side validation: the server applies the limits itself."""
    import json
    import urllib.request

    body = json.dumps({"resourceArn": MACHINE, "tags": [{"key": "k" * 129, "value": "v"}]})
    request = urllib.request.Request(
        dev.url,
        data=body.encode(),
        headers={
            "Content-Type": "application/x-amz-json-1.0",
            "X-Amz-Target": "AWSStepFunctions.TagResource",
        },
    )
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(request, timeout=10)
    assert caught.value.code == 400
    assert json.loads(caught.value.read())["__type"] == "ValidationException"


@pytest.mark.usefixtures("resources")
@pytest.mark.parametrize(
    ("arn", "error"),
    [
        ("arn:aws:states:us-east-1:111111111111:stateMachine:nobody", "ResourceNotFound"),
        ("arn:aws:states:us-east-1:111111111111:activity:nothing", "ResourceNotFound"),
        ("not-an-arn", "InvalidArn"),
        ("arn:aws:states:us-east-1:111111111111:execution:tagged:run-1", "InvalidArn"),
        (MACHINE + ":1", "InvalidArn"),
        ("arn:aws:states:eu-west-1:111111111111:stateMachine:tagged", "InvalidArn"),
    ],
)
def test_missing_or_wrong_resources_raise_botocore_exceptions(
    sfn: Any, arn: str, error: str
) -> None:
    for call in (
        lambda: sfn.tag_resource(resourceArn=arn, tags=[{"key": "a", "value": "b"}]),
        lambda: sfn.untag_resource(resourceArn=arn, tagKeys=["a"]),
        lambda: sfn.list_tags_for_resource(resourceArn=arn),
    ):
        with pytest.raises(getattr(sfn.exceptions, error)):
            call()


@pytest.mark.usefixtures("resources")
def test_concurrent_taggers_all_land(sfn: Any, dev: DevServer) -> None:
    """Each write is conditional on the revision read: a lost race is read again, not lost."""
    errors: list[BaseException] = []

    def tag(i: int) -> None:
        try:
            tags.put_tags(dev.context, MACHINE, [{"key": f"t{i}", "value": str(i)}])
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=tag, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert _listed(sfn, MACHINE) == {f"t{i}": str(i) for i in range(8)}


@pytest.mark.usefixtures("resources")
def test_put_tags_checks_as_tag_resource_does_and_drop_tags_forgets(
    sfn: Any, dev: DevServer
) -> None:
    from stepq.api.protocol import ApiError

    tags.put_tags(dev.context, ACTIVITY, [{"key": "owner", "value": "ops"}])
    assert _listed(sfn, ACTIVITY) == {"owner": "ops"}
    with pytest.raises(ApiError) as caught:
        tags.put_tags(dev.context, ACTIVITY, [{"key": f"k{i}", "value": ""} for i in range(50)])
    assert caught.value.code == "TooManyTags"
    tags.drop_tags(dev.context, ACTIVITY)
    tags.drop_tags(dev.context, ACTIVITY)  # twice is harmless
    assert _listed(sfn, ACTIVITY) == {}


@pytest.mark.parametrize(
    ("bad", "code"),
    [
        ([{"key": "aws:owner", "value": "x"}], "ValidationException"),
        ([{"key": "k", "value": "v" * 257}], "ValidationException"),
        ([{"key": f"k{i}", "value": ""} for i in range(51)], "TooManyTags"),
    ],
)
def test_creates_check_tags_as_tag_resource_does_and_create_nothing(
    sfn: Any, bad: list[dict[str, str]], code: str
) -> None:
    import json

    error = sfn.exceptions.ClientError
    with pytest.raises(error) as machine:
        sfn.create_state_machine(
            name="badly-tagged",
            definition=json.dumps(PASS),
            roleArn="arn:aws:iam::111111111111:role/r",
            tags=bad,
        )
    assert machine.value.response["Error"]["Code"] == code
    with pytest.raises(error) as activity:
        sfn.create_activity(name="badly-tagged", tags=bad)
    assert activity.value.response["Error"]["Code"] == code
    names = {m["name"] for m in sfn.list_state_machines()["stateMachines"]}
    assert "badly-tagged" not in names
    assert "badly-tagged" not in {a["name"] for a in sfn.list_activities()["activities"]}


def test_a_created_resource_has_exactly_its_own_tags(sfn: Any) -> None:
    import json

    arn = sfn.create_activity(name="retagged", tags=[{"key": "old", "value": "1"}])["activityArn"]
    sfn.delete_activity(activityArn=arn)
    sfn.create_activity(name="retagged", tags=[{"key": "new", "value": "2"}])
    assert _listed(sfn, arn) == {"new": "2"}
    made = sfn.create_state_machine(
        name="tagged-at-birth",
        definition=json.dumps(PASS),
        roleArn="arn:aws:iam::111111111111:role/r",
        tags=[{"key": "team", "value": "claims"}],
    )
    assert _listed(sfn, made["stateMachineArn"]) == {"team": "claims"}

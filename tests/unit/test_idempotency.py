"""``stepq.idempotency`` on moto in process: a step's side effect happens once per key.

Every behaviour runs on both layouts: records in the stepq table itself
(``stepq_table_persistence``, the default) and in Powertools' own table
(``dynamodb_persistence``, the alternative). Nothing here reaches AWS: every
client is built inside ``mock_aws`` with dummy credentials.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

pytest.importorskip("aws_lambda_powertools")
moto = pytest.importorskip("moto")

import boto3  # noqa: E402
from aws_lambda_powertools.utilities.idempotency.exceptions import (  # noqa: E402
    IdempotencyAlreadyInProgressError,
)
from stepq.backends.aws.dynamodb_store import TTL_ATTRIBUTE, DynamoDBStore, create_table  # noqa: E402
from stepq.clock import SystemClock, monotonic  # noqa: E402
from stepq.errors import (  # noqa: E402
    MissingIdempotencyKeyError,
    MissingTableNameError,
    StepqError,
)
from stepq.hosting import embedded  # noqa: E402
from stepq.hosting.embedded import EmbeddedRuntime, SerializedClient  # noqa: E402
from stepq.idempotency import (  # noqa: E402
    PARTITION_PREFIX,
    create_idempotency_table,
    dynamodb_persistence,
    idempotent_step,
    stepq_table_persistence,
)
from stepq.runtime.ports import Commit, ExecutionHeader  # noqa: E402
from stepq.runtime.steps import StepContext, invoke  # noqa: E402

TABLE = "idempotency"  # Powertools' own table
STEPQ_TABLE = "stepq"
LAMBDA = "arn:aws:lambda:us-east-1:111111111111:function:"
MACHINE = "arn:aws:states:us-east-1:111111111111:stateMachine:sm"


class WorkerDied(BaseException):
    """Not an Exception: nothing may catch it, as nothing catches a kill -9."""


@dataclass
class Records:
    """The idempotency records of one layout, read back raw."""

    client: Any
    stepq: bool  # True: the stepq table; False: Powertools' own table

    @property
    def table(self) -> str:
        return STEPQ_TABLE if self.stepq else TABLE

    def all(self) -> list[dict[str, Any]]:
        items = self.client.scan(TableName=self.table, ConsistentRead=True)["Items"]
        if self.stepq:  # the stepq table holds other items too
            items = [i for i in items if i["pk"]["S"].startswith(PARTITION_PREFIX)]
        return items

    def record_id(self, item: dict[str, Any]) -> str:
        """``<key_prefix>#<hash>`` in either layout."""
        return item["sk" if self.stepq else "id"]["S"]

    def expiry(self, item: dict[str, Any]) -> int:
        return int(item[TTL_ATTRIBUTE if self.stepq else "expiration"]["N"])


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_DYNAMODB", "STEPQ_TABLE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.delenv("POWERTOOLS_IDEMPOTENCY_DISABLED", raising=False)


@pytest.fixture
def dynamodb(aws_env: None) -> Iterator[Any]:
    with moto.mock_aws():
        # moto checks a condition and writes without a lock; DynamoDB is atomic.
        client = SerializedClient(boto3.client("dynamodb", region_name="us-east-1"))
        create_table(client, STEPQ_TABLE)
        create_idempotency_table(client, TABLE)
        yield client


@pytest.fixture(params=["stepq-table", "own-table"])
def layout(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def persistence(dynamodb: Any, layout: str) -> Any:
    if layout == "stepq-table":
        return stepq_table_persistence(STEPQ_TABLE, client=dynamodb)
    return dynamodb_persistence(TABLE, client=dynamodb)


@pytest.fixture
def records(dynamodb: Any, layout: str) -> Records:
    return Records(dynamodb, stepq=layout == "stepq-table")


def ctx(key: str) -> StepContext:
    return StepContext(function_name="step", aws_request_id="r", idempotency_key=key)


def key_hash(key: str) -> str:
    """Powertools' hash of the extracted key: md5 of its JSON text."""
    return hashlib.md5(json.dumps(key).encode()).hexdigest()


def test_table_has_powertools_key_and_ttl(dynamodb: Any) -> None:
    table = dynamodb.describe_table(TableName=TABLE)["Table"]
    assert table["KeySchema"] == [{"AttributeName": "id", "KeyType": "HASH"}]
    ttl = dynamodb.describe_time_to_live(TableName=TABLE)["TimeToLiveDescription"]
    assert ttl["AttributeName"] == "expiration"
    create_idempotency_table(dynamodb, TABLE)  # again: a no-op


def test_same_key_runs_the_side_effect_once_and_replays_the_result(
    persistence: Any, records: Records
) -> None:
    effects: list[Any] = []

    @idempotent_step(persistence)
    def step(event: Any, context: Any) -> dict[str, Any]:
        effects.append(event)
        return {"charged": event["amount"], "n": len(effects)}

    first = step({"amount": 5}, ctx("exec:1"))
    # The record is keyed on the key, not the event: a changed event replays too.
    second = step({"amount": 99}, ctx("exec:1"))
    assert first == second == {"charged": 5, "n": 1}
    assert effects == [{"amount": 5}]
    (item,) = records.all()
    assert item["status"] == {"S": "COMPLETED"}
    assert records.record_id(item).startswith(f"{__name__}.test_same_key")
    assert "in_progress_expiration" in item  # the lock had an expiry (no Lambda context needed)


def test_a_different_key_runs_again(persistence: Any, records: Records) -> None:
    effects: list[str] = []

    @idempotent_step(persistence)
    def step(event: Any, context: Any) -> str:
        effects.append(context.idempotency_key)
        return f"done {len(effects)}"

    assert step({}, ctx("exec:1")) == "done 1"
    assert step({}, ctx("exec:2")) == "done 2"
    assert step({}, ctx("exec:1")) == "done 1"
    assert effects == ["exec:1", "exec:2"]
    assert len(records.all()) == 2


def test_a_failure_stores_nothing_and_the_next_call_runs(
    persistence: Any, records: Records
) -> None:
    effects: list[int] = []

    @idempotent_step(persistence)
    def step(event: Any, context: Any) -> int:
        effects.append(1)
        if len(effects) == 1:
            raise RuntimeError("card declined")
        return len(effects)

    with pytest.raises(RuntimeError, match="card declined"):  # the step's own error, unwrapped
        step({}, ctx("exec:1"))
    assert records.all() == []
    assert step({}, ctx("exec:1")) == 2
    assert step({}, ctx("exec:1")) == 2
    assert len(effects) == 2


@pytest.mark.parametrize("value", [0, "", {}, [], False, None, 1.5, ["a", {"b": None}]])
def test_any_json_result_replays_as_itself(persistence: Any, value: Any) -> None:
    effects: list[int] = []

    @idempotent_step(persistence)
    def step(event: Any, context: Any) -> Any:
        effects.append(1)
        return value

    assert step({}, ctx("k")) == value
    replayed = step({}, ctx("k"))
    assert replayed == value and type(replayed) is type(value)
    assert len(effects) == 1


@pytest.mark.parametrize(
    "context",
    [None, object(), StepContext("step", "r"), StepContext("step", "r", 7)],  # type: ignore[arg-type]
    ids=["none", "no-attribute", "empty", "not-a-string"],
)
def test_missing_key_is_a_clear_error_and_runs_nothing(
    persistence: Any, records: Records, context: Any
) -> None:
    effects: list[int] = []

    @idempotent_step(persistence)
    def step(event: Any, context: Any) -> int:
        effects.append(1)
        return 1

    with pytest.raises(MissingIdempotencyKeyError, match="has no idempotency_key") as info:
        step({}, context)
    assert isinstance(info.value, ValueError)
    assert info.value.__cause__ is None and info.value.__context__ is None
    assert effects == [] and records.all() == []


def test_missing_key_through_invoke_is_a_named_step_failure(persistence: Any) -> None:
    # invoke() without a context gives an empty key, as a direct call would.
    step = idempotent_step(persistence)(lambda event, context: 1)
    outcome = invoke({"step": step}, "step", {})
    assert outcome.error == "MissingIdempotencyKeyError"
    assert "has no idempotency_key" in (outcome.cause or "")


def test_a_reentrant_call_sees_the_lock_in_progress(persistence: Any) -> None:
    inner: list[Any] = []

    @idempotent_step(persistence, in_progress_wait_seconds=0)
    def step(event: Any, context: Any) -> str:
        if not event:
            with pytest.raises(IdempotencyAlreadyInProgressError):
                step({"inner": True}, context)
            inner.append("refused")
        return "outer"

    assert step({}, ctx("k")) == "outer"
    assert inner == ["refused"]


def test_a_concurrent_duplicate_waits_and_returns_the_first_result(persistence: Any) -> None:
    entered, release = threading.Event(), threading.Event()
    effects: list[int] = []

    @idempotent_step(persistence, in_progress_wait_seconds=10)
    def step(event: Any, context: Any) -> dict[str, int]:
        effects.append(1)
        entered.set()
        assert release.wait(5)
        return {"n": len(effects)}

    results: list[Any] = []

    def deliver() -> None:
        try:
            results.append(step({}, ctx("k")))
        except Exception as exc:
            results.append(exc)

    first = threading.Thread(target=deliver)
    duplicate = threading.Thread(target=deliver)
    try:
        first.start()
        assert entered.wait(5)
        duplicate.start()
        duplicate.join(0.3)
        alive = duplicate.is_alive()  # waiting on the lock, not running the body
    finally:
        # Both threads end inside the test: none may outlive moto's mock.
        release.set()
        first.join(5)
        duplicate.join(5)
    assert alive
    assert results == [{"n": 1}, {"n": 1}]
    assert effects == [1]


def test_a_lock_left_by_a_dead_worker_expires_and_the_step_runs_again(
    persistence: Any, records: Records
) -> None:
    effects: list[int] = []

    def body(event: Any, context: Any) -> int:
        effects.append(1)
        if len(effects) == 1:
            raise WorkerDied()  # mid-step: no result, no clean-up
        return len(effects)

    impatient = idempotent_step(
        persistence, in_progress_timeout_seconds=0.5, in_progress_wait_seconds=0
    )(body)
    patient = idempotent_step(
        persistence, in_progress_timeout_seconds=0.5, in_progress_wait_seconds=5
    )(body)
    locked = monotonic()  # no later than the lock is taken
    with pytest.raises(WorkerDied):
        impatient({}, ctx("k"))
    (item,) = records.all()
    assert item["status"] == {"S": "INPROGRESS"}
    with pytest.raises(IdempotencyAlreadyInProgressError):
        impatient({}, ctx("k"))  # the lock is still live
    assert patient({}, ctx("k")) == 2  # waited for the lock to expire, then ran
    # Measured from before the lock was taken, so a slow machine cannot make it
    # look early: the body ran again only once the 0.5 s lock had expired.
    assert monotonic() - locked > 0.4
    assert effects == [1, 1]
    assert impatient({}, ctx("k")) == 2


def test_expiry_settings_reach_the_record(persistence: Any, records: Records) -> None:
    step = idempotent_step(persistence, expires_after_seconds=120)(lambda e, c: "x")
    now = SystemClock().now().timestamp()
    step({}, ctx("k"))
    other = idempotent_step(persistence, expires_after_seconds=7200, key_prefix="other")(
        lambda e, c: "y"
    )
    other({}, ctx("k"))  # same persistence object, its own settings and prefix
    by_prefix = {records.record_id(i).split("#")[0]: records.expiry(i) for i in records.all()}
    assert by_prefix["other"] - now == pytest.approx(7200, abs=5)
    (mine,) = [v for k, v in by_prefix.items() if k != "other"]
    assert mine - now == pytest.approx(120, abs=5)


def test_bytes_results_are_decoded_and_non_json_results_store_nothing(
    persistence: Any, records: Records
) -> None:
    assert idempotent_step(persistence)(lambda e, c: b'{"a": 1}')({}, ctx("b")) == {"a": 1}
    bad = idempotent_step(persistence, key_prefix="bad")(lambda e, c: {1, 2})
    with pytest.raises(TypeError, match="not JSON"):
        bad({}, ctx("s"))
    assert not any(records.record_id(i).startswith("bad#") for i in records.all())


def test_validation_of_settings() -> None:
    with pytest.raises(ValueError):
        idempotent_step(object(), expires_after_seconds=0)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        idempotent_step(object(), in_progress_wait_seconds=-1)  # type: ignore[arg-type]


# --- through the stepq worker ------------------------------------------------------


@pytest.mark.parametrize("stepq_table", [True, False], ids=["stepq-table", "own-table"])
def test_worker_redelivery_after_the_step_ran_replays_the_stored_result(
    aws_env: None, stepq_table: bool
) -> None:
    effects: list[str] = []
    deliveries: list[str] = []
    holder: dict[str, Any] = {}

    def charge(event: Any, context: Any) -> dict[str, Any]:
        effects.append(context.idempotency_key)
        return {"charged": event["amount"]}

    def step(event: Any, context: Any) -> Any:
        deliveries.append(context.idempotency_key)
        result = holder["guarded"](event, context)
        if len(deliveries) == 1:
            # The result is stored; the worker dies before it records or sends it,
            # whichever way it does that, so the task message is delivered again.
            raise WorkerDied()
        return result

    runtime = EmbeddedRuntime({"charge": step}, skip_time=True, visibility_timeout=0)
    try:
        client = SerializedClient(boto3.client("dynamodb", region_name="us-east-1"))
        if stepq_table:  # the runtime's own table: records sit next to the executions
            persistence = stepq_table_persistence(embedded.TABLE, client=client)
        else:
            create_idempotency_table(client, TABLE)  # inside the runtime's moto
            persistence = dynamodb_persistence(TABLE, client=client)
        holder["guarded"] = idempotent_step(persistence)(charge)
        definition = {
            "StartAt": "T",
            "States": {"T": {"Type": "Task", "Resource": LAMBDA + "charge", "End": True}},
        }
        runtime.deploy("sm", definition)
        arn = runtime.start("sm", {"amount": 5}, "e1")
        crashes = 0
        for _ in range(10):
            try:
                runtime.run_until_idle()
                break
            except WorkerDied:
                crashes += 1
        header = runtime.store.get_execution(arn)
        assert crashes == 1
        assert header.status == "SUCCEEDED"
        assert header.output == {"charged": 5}
        assert len(deliveries) == 2 and deliveries[0] == deliveries[1]  # redelivered, same key
        assert effects == deliveries[:1]  # the side effect ran once
        events = [e["type"] for e in runtime.history(arn)]
        assert events.count("LambdaFunctionSucceeded") == 1
        listed = runtime.store.list_executions(header.machine)
        assert [(h.execution_id, h.status) for h in listed] == [(arn, "SUCCEEDED")]
        if stepq_table:
            (record,) = Records(client, stepq=True).all()
            assert record["status"] == {"S": "COMPLETED"}
    finally:
        runtime.close()


# --- the stepq table layout --------------------------------------------------------


@pytest.fixture
def on_stepq_table(dynamodb: Any) -> Any:
    return stepq_table_persistence(STEPQ_TABLE, client=dynamodb)


def test_records_live_in_the_stepq_table_under_the_documented_key(
    on_stepq_table: Any, dynamodb: Any
) -> None:
    step = idempotent_step(on_stepq_table, expires_after_seconds=600)(lambda e, c: {"ok": 1})
    now = SystemClock().now().timestamp()
    assert step({}, ctx("exec:1")) == {"ok": 1}
    prefix = f"{__name__}.test_records_live_in_the_stepq_table_under_the_documented_key.<locals>.<lambda>"
    key = {"pk": {"S": f"IDEMPOTENCY#{prefix}"}, "sk": {"S": f"{prefix}#{key_hash('exec:1')}"}}
    item = dynamodb.get_item(TableName=STEPQ_TABLE, Key=key, ConsistentRead=True)["Item"]
    assert item["status"] == {"S": "COMPLETED"}
    assert json.loads(item["data"]["S"]) == {"result": {"ok": 1}}
    # Powertools' expiry is the table's TTL attribute, in epoch seconds.
    assert TTL_ATTRIBUTE == "expires_at"
    assert int(item["expires_at"]["N"]) - now == pytest.approx(600, abs=5)
    assert "expiration" not in item and "id" not in item
    assert not any(name.startswith("gsi") for name in item)  # in no index, no listing
    ttl = dynamodb.describe_time_to_live(TableName=STEPQ_TABLE)["TimeToLiveDescription"]
    assert ttl["AttributeName"] == "expires_at"
    # Nothing went to Powertools' own table.
    assert dynamodb.scan(TableName=TABLE)["Items"] == []


def test_two_deliveries_run_once_and_a_new_key_runs_again_on_the_stepq_table(
    on_stepq_table: Any, dynamodb: Any
) -> None:
    effects: list[str] = []

    @idempotent_step(on_stepq_table)
    def step(event: Any, context: Any) -> int:
        effects.append(context.idempotency_key)
        return len(effects)

    assert step({}, ctx("a")) == 1
    assert step({}, ctx("a")) == 1  # the redelivery replays
    assert step({}, ctx("b")) == 2  # another attempt runs
    assert effects == ["a", "b"]
    items = Records(dynamodb, stepq=True).all()
    assert {i["sk"]["S"].rsplit("#", 1)[1] for i in items} == {key_hash("a"), key_hash("b")}
    assert len({i["pk"]["S"] for i in items}) == 1  # one step, one item collection


def test_each_step_gets_its_own_partition_from_one_persistence_object(
    on_stepq_table: Any, dynamodb: Any
) -> None:
    first = idempotent_step(on_stepq_table, key_prefix="billing.charge")(lambda e, c: 1)
    second = idempotent_step(on_stepq_table, key_prefix="mail.send")(lambda e, c: 2)
    assert first({}, ctx("k")) == 1
    assert second({}, ctx("k")) == 2  # the same key in another step runs
    assert first({}, ctx("k")) == 1
    pks = sorted(i["pk"]["S"] for i in Records(dynamodb, stepq=True).all())
    assert pks == ["IDEMPOTENCY#billing.charge", "IDEMPOTENCY#mail.send"]
    assert on_stepq_table.static_pk_value == PARTITION_PREFIX  # the original is untouched


def test_the_stepq_store_works_alongside_the_records(on_stepq_table: Any, dynamodb: Any) -> None:
    store = DynamoDBStore(STEPQ_TABLE, client=dynamodb)
    step = idempotent_step(on_stepq_table)(lambda e, c: "done")
    assert step({}, ctx("k1")) == "done"
    assert store.put_machine(MACHINE, {"StartAt": "A", "States": {}}) == 1
    arns = []
    for n, name in enumerate(["e1", "e2"]):
        arn = MACHINE.replace(":stateMachine:", ":execution:") + f":{name}"
        header = ExecutionHeader(
            execution_id=arn,
            machine=MACHINE,
            machine_version=1,
            name=name,
            status="RUNNING",
            start_time=f"2026-01-01T00:00:0{n}+00:00",
            input={"n": n},
        )
        store.create_execution(
            header, Commit(1, {"state": "A"}, [], [], f"c{n}", header.start_time)
        )
        arns.append(arn)
    assert step({}, ctx("k2")) == "done"
    assert store.claim_key("k1") is True  # the store's own IK# keys are another item
    assert store.claim_key("k1") is False
    listed = store.list_executions(MACHINE)
    assert [h.execution_id for h in listed] == arns[::-1]  # newest first, nothing else
    assert [h.status for h in listed] == ["RUNNING", "RUNNING"]
    assert store.list_executions(MACHINE, status="SUCCEEDED") == []
    assert store.get_execution(arns[0]).input == {"n": 0}
    assert store.get_machine(MACHINE) == ({"StartAt": "A", "States": {}}, 1)
    assert len(Records(dynamodb, stepq=True).all()) == 2
    assert step({}, ctx("k1")) == "done"  # still replayed, nothing overwritten


def test_missing_table_name_is_a_clear_stepq_error(aws_env: None) -> None:
    for explicit in (None, ""):
        with pytest.raises(MissingTableNameError, match="STEPQ_TABLE") as info:
            stepq_table_persistence(explicit)
        assert isinstance(info.value, StepqError)
        assert info.value.__cause__ is None and info.value.__context__ is None


def test_the_table_name_comes_from_stepq_table(
    aws_env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    with moto.mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        monkeypatch.setenv("STEPQ_TABLE", "from-env")
        assert stepq_table_persistence(client=client).table_name == "from-env"
        assert stepq_table_persistence("given", client=client).table_name == "given"
        monkeypatch.setenv("STEPQ_TABLE", "  ")
        with pytest.raises(MissingTableNameError):
            stepq_table_persistence(client=client)
        built = stepq_table_persistence("t", region_name="eu-west-1")  # boto3 client built here
        assert built.client.meta.region_name == "eu-west-1"
        assert (built.key_attr, built.sort_key_attr, built.expiry_attr) == (
            "pk",
            "sk",
            "expires_at",
        )

"""``stepq.idempotency`` on moto in process: a step's side effect happens once per key.

Nothing here reaches AWS: every client is built inside ``mock_aws`` with
dummy credentials.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest

pytest.importorskip("aws_lambda_powertools")
moto = pytest.importorskip("moto")

import boto3  # noqa: E402
from aws_lambda_powertools.utilities.idempotency.exceptions import (  # noqa: E402
    IdempotencyAlreadyInProgressError,
)
from stepq.clock import monotonic  # noqa: E402
from stepq.idempotency import (  # noqa: E402
    MissingIdempotencyKeyError,
    create_idempotency_table,
    dynamodb_persistence,
    idempotent_step,
)
from stepq.invoke import InvocationContext, invoke  # noqa: E402
from stepq.runtime.embedded import EmbeddedRuntime, SerializedClient  # noqa: E402

TABLE = "idempotency"
LAMBDA = "arn:aws:lambda:us-east-1:111111111111:function:"


class WorkerDied(BaseException):
    """Not an Exception: nothing may catch it, as nothing catches a kill -9."""


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_DYNAMODB"):
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
        create_idempotency_table(client, TABLE)
        yield client


@pytest.fixture
def persistence(dynamodb: Any) -> Any:
    return dynamodb_persistence(TABLE, client=dynamodb)


def ctx(key: str) -> InvocationContext:
    return InvocationContext(function_name="step", aws_request_id="r", idempotency_key=key)


def records(client: Any) -> list[dict[str, Any]]:
    return client.scan(TableName=TABLE, ConsistentRead=True)["Items"]


def test_table_has_powertools_key_and_ttl(dynamodb: Any) -> None:
    table = dynamodb.describe_table(TableName=TABLE)["Table"]
    assert table["KeySchema"] == [{"AttributeName": "id", "KeyType": "HASH"}]
    ttl = dynamodb.describe_time_to_live(TableName=TABLE)["TimeToLiveDescription"]
    assert ttl["AttributeName"] == "expiration"
    create_idempotency_table(dynamodb, TABLE)  # again: a no-op


def test_same_key_runs_the_side_effect_once_and_replays_the_result(
    persistence: Any, dynamodb: Any
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
    (item,) = records(dynamodb)
    assert item["status"] == {"S": "COMPLETED"}
    assert item["id"]["S"].startswith(f"{__name__}.test_same_key")
    assert "in_progress_expiration" in item  # the lock had an expiry (no Lambda context needed)


def test_a_different_key_runs_again(persistence: Any, dynamodb: Any) -> None:
    effects: list[str] = []

    @idempotent_step(persistence)
    def step(event: Any, context: Any) -> str:
        effects.append(context.idempotency_key)
        return f"done {len(effects)}"

    assert step({}, ctx("exec:1")) == "done 1"
    assert step({}, ctx("exec:2")) == "done 2"
    assert step({}, ctx("exec:1")) == "done 1"
    assert effects == ["exec:1", "exec:2"]
    assert len(records(dynamodb)) == 2


def test_a_failure_stores_nothing_and_the_next_call_runs(persistence: Any, dynamodb: Any) -> None:
    effects: list[int] = []

    @idempotent_step(persistence)
    def step(event: Any, context: Any) -> int:
        effects.append(1)
        if len(effects) == 1:
            raise RuntimeError("card declined")
        return len(effects)

    with pytest.raises(RuntimeError, match="card declined"):  # the step's own error, unwrapped
        step({}, ctx("exec:1"))
    assert records(dynamodb) == []
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
    [None, object(), InvocationContext("step", "r"), InvocationContext("step", "r", 7)],  # type: ignore[arg-type]
    ids=["none", "no-attribute", "empty", "not-a-string"],
)
def test_missing_key_is_a_clear_error_and_runs_nothing(
    persistence: Any, dynamodb: Any, context: Any
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
    assert effects == [] and records(dynamodb) == []


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
    persistence: Any, dynamodb: Any
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
    with pytest.raises(WorkerDied):
        impatient({}, ctx("k"))
    (item,) = records(dynamodb)
    assert item["status"] == {"S": "INPROGRESS"}
    with pytest.raises(IdempotencyAlreadyInProgressError):
        impatient({}, ctx("k"))  # the lock is still live
    started = monotonic()
    assert patient({}, ctx("k")) == 2  # waited for the lock to expire, then ran
    assert monotonic() - started > 0.2
    assert effects == [1, 1]
    assert impatient({}, ctx("k")) == 2


def test_expiry_settings_reach_the_record(persistence: Any, dynamodb: Any) -> None:
    from stepq.clock import SystemClock

    step = idempotent_step(persistence, expires_after_seconds=120)(lambda e, c: "x")
    now = SystemClock().now().timestamp()
    step({}, ctx("k"))
    other = idempotent_step(persistence, expires_after_seconds=7200, key_prefix="other")(
        lambda e, c: "y"
    )
    other({}, ctx("k"))  # same persistence object, its own settings and prefix
    by_prefix = {i["id"]["S"].split("#")[0]: int(i["expiration"]["N"]) for i in records(dynamodb)}
    assert by_prefix["other"] - now == pytest.approx(7200, abs=5)
    (mine,) = [v for k, v in by_prefix.items() if k != "other"]
    assert mine - now == pytest.approx(120, abs=5)


def test_bytes_results_are_decoded_and_non_json_results_store_nothing(
    persistence: Any, dynamodb: Any
) -> None:
    assert idempotent_step(persistence)(lambda e, c: b'{"a": 1}')({}, ctx("b")) == {"a": 1}
    bad = idempotent_step(persistence, key_prefix="bad")(lambda e, c: {1, 2})
    with pytest.raises(TypeError, match="not JSON"):
        bad({}, ctx("s"))
    assert not any(i["id"]["S"].startswith("bad#") for i in records(dynamodb))


def test_validation_of_settings() -> None:
    with pytest.raises(ValueError):
        idempotent_step(object(), expires_after_seconds=0)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        idempotent_step(object(), in_progress_wait_seconds=-1)  # type: ignore[arg-type]


# --- through the stepq worker ------------------------------------------------------


def test_worker_redelivery_after_the_step_ran_replays_the_stored_result(aws_env: None) -> None:
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
        create_idempotency_table(client, TABLE)  # inside the runtime's moto
        holder["guarded"] = idempotent_step(dynamodb_persistence(TABLE, client=client))(charge)
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
    finally:
        runtime.close()

"""Logic of the cost benchmark: units, prices, update parsing, tallies. No timing, no I/O."""

from __future__ import annotations

import json
import math
from types import SimpleNamespace

import pytest
from hypothesis import given
from hypothesis import strategies as st
from stepq.backends.aws import commit_dictionary
from stepq.bench import prices as P
from stepq.bench.cost import Tally, count_transitions
from stepq.bench.flat import LOOP, Cycle, increment
from stepq.bench.lateness import measure
from stepq.bench.meter import (
    Call,
    Index,
    Invocation,
    Meter,
    commit_transitions,
    indexes_of,
    item_size,
    message_bytes,
    read_units,
    sqs_chunks,
    update_changes,
    write_units,
)


def test_item_size_counts_names_and_values() -> None:
    item = {"pk": {"S": "EX#a"}, "n": {"N": "12"}, "b": {"B": b"\x00\x01\x02"}}
    # pk(2)+4, n(1)+2+1, b(1)+3
    assert item_size(item) == 6 + 4 + 4


@pytest.mark.parametrize(
    ("size", "units"), [(0, 1), (1, 1), (1024, 1), (1025, 2), (3000, 3), (4096, 4)]
)
def test_write_units_per_started_kb(size: int, units: int) -> None:
    assert write_units(size) == units


def test_read_units_strong_and_eventual() -> None:
    assert read_units(100, consistent=True) == 1
    assert read_units(100, consistent=False) == 0.5
    assert read_units(4097, consistent=True) == 2
    assert read_units(9000, consistent=False) == 1.5


@given(st.integers(min_value=0, max_value=10_000_000))
def test_sqs_chunks_is_at_least_one_per_64kb(size: int) -> None:
    chunks = sqs_chunks(size)
    assert chunks >= 1
    assert chunks * 64 * 1024 >= size
    assert chunks == 1 or (chunks - 1) * 64 * 1024 < size


def test_message_bytes_includes_attributes() -> None:
    attrs = {"stepq-id": {"DataType": "String", "StringValue": "abc"}}
    assert message_bytes("{}", attrs) == 2 + len("stepq-id") + len("String") + 3


def test_update_changes_parses_set_and_remove() -> None:
    sets, removes = update_changes(
        "SET #status = :status, #gsi1sk = :gsi1sk REMOVE #error, #cause",
        {"#status": "status", "#gsi1sk": "gsi1sk", "#error": "error", "#cause": "cause"},
        {":status": {"S": "SUCCEEDED"}, ":gsi1sk": {"S": "SUCCEEDED#x"}},
    )
    assert sets == {"status": {"S": "SUCCEEDED"}, "gsi1sk": {"S": "SUCCEEDED#x"}}
    assert removes == ["error", "cause"]


def test_indexes_of_reads_projection_kinds() -> None:
    table = {
        "KeySchema": [{"AttributeName": "pk"}, {"AttributeName": "sk"}],
        "GlobalSecondaryIndexes": [
            {
                "IndexName": "a",
                "KeySchema": [{"AttributeName": "g1"}, {"AttributeName": "g2"}],
                "Projection": {"ProjectionType": "INCLUDE", "NonKeyAttributes": ["status"]},
            },
            {
                "IndexName": "b",
                "KeySchema": [{"AttributeName": "g3"}],
                "Projection": {"ProjectionType": "ALL"},
            },
        ],
    }
    keys, indexes = indexes_of(table)
    assert keys == ("pk", "sk")
    assert indexes == [Index("a", ("g1", "g2"), ("status",)), Index("b", ("g3",), None)]


def _commit(events: list[dict[str, str]], compress: bool) -> dict[str, dict[str, object]]:
    text = json.dumps({"events": events})
    value = {"B": commit_dictionary.compress(text.encode())} if compress else {"S": text}
    return {"pk": {"S": "EX#x"}, "sk": {"S": "C#0000000002"}, "body": value}


@pytest.mark.parametrize("compress", [False, True])
def test_commit_transitions_counts_states_entered(compress: bool) -> None:
    events = [
        {"type": "TaskStateExited"},
        {"type": "ChoiceStateEntered"},
        {"type": "ChoiceStateExited"},
        {"type": "TaskStateEntered"},
    ]
    assert commit_transitions(_commit(events, compress)) == 2
    not_a_commit = {**_commit(events, compress), "sk": {"S": "H"}}
    assert commit_transitions(not_a_commit) == 0


def _model(service: str, name: str) -> SimpleNamespace:
    return SimpleNamespace(name=name, service_model=SimpleNamespace(service_name=service))


def _call(meter: Meter, service: str, op: str, params: dict, parsed: dict) -> Call:
    model = _model(service, op)
    meter._before(model=model, params=params)
    meter._after(model=model, parsed=parsed)
    assert not meter.faults
    return meter.calls[-1]


def test_meter_puts_updates_and_index_writes() -> None:
    meter = Meter(label="t", indexes=[Index("by_status", ("gsi1pk", "gsi1sk"), ("status",))])
    header = {
        "pk": {"S": "EX#1"},
        "sk": {"S": "H"},
        "gsi1pk": {"S": "m"},
        "gsi1sk": {"S": "RUNNING#1"},
        "status": {"S": "RUNNING"},
        "input": {"S": "x" * 1500},
    }
    with meter.as_role("orchestrator"):
        put = _call(meter, "dynamodb", "PutItem", {"Item": header}, {})
        # 2 KB item -> 2 WRU, plus 1 WRU for the small projected index entry
        assert put.wru == 3
        update = _call(
            meter,
            "dynamodb",
            "UpdateItem",
            {
                "Key": {"pk": {"S": "EX#1"}, "sk": {"S": "H"}},
                "UpdateExpression": "SET #s = :s, #g = :g",
                "ExpressionAttributeNames": {"#s": "status", "#g": "gsi1sk"},
                "ExpressionAttributeValues": {":s": {"S": "SUCCEEDED"}, ":g": {"S": "SUCCEEDED#1"}},
            },
            {},
        )
        # the whole 2 KB item again, plus the index entry moving (delete + put)
        assert update.wru == 2 + 2
        get = _call(
            meter,
            "dynamodb",
            "GetItem",
            {"ConsistentRead": True},
            {"Item": header},
        )
        assert get.rru == 1


def test_meter_marks_empty_polls_and_idle_checks_not_billable() -> None:
    meter = Meter(label="t")
    with meter.as_role("worker"):
        empty = _call(meter, "sqs", "ReceiveMessage", {}, {"Messages": []})
        attrs = _call(meter, "sqs", "GetQueueAttributes", {}, {"Attributes": {}})
        full = _call(meter, "sqs", "ReceiveMessage", {}, {"Messages": [{"Body": "{}"}]})
    assert (empty.billable, attrs.billable, full.billable) == (False, False, True)
    assert full.messages == 1
    # the non-empty receive opened one Lambda invocation, closed when the role ends
    assert [i.role for i in meter.invocations] == ["worker"]


def test_meter_ignores_threads_without_a_role_and_unlabelled_time() -> None:
    meter = Meter(label="t")
    model = _model("dynamodb", "GetItem")
    meter._before(model=model, params={})  # MainThread, no role: the harness
    meter._after(model=model, parsed={})
    meter.label = ""
    with meter.as_role("orchestrator"):
        meter._before(model=model, params={})
        meter._after(model=model, parsed={})
    assert meter.calls == []


def test_tally_dollars_and_per_million() -> None:
    tally = Tally(transitions=4)
    calls = [
        Call("t", "orchestrator", "dynamodb", "PutItem", wru=4),
        Call("t", "orchestrator", "dynamodb", "Query", rru=2),
        Call("t", "worker", "sqs", "SendMessageBatch", sqs_requests=3),
        Call("t", "worker", "sqs", "ReceiveMessage", billable=False, why_not="empty poll"),
    ]
    tally.add(calls, [Invocation("t", "worker", 0.02), Invocation("t", "worker", 0.03)])
    dollars = tally.dollars()
    assert dollars["dynamodb"] == pytest.approx(4 * 0.625e-6 + 2 * 0.125e-6)
    assert dollars["sqs"] == pytest.approx(3 * 0.40e-6)
    lambda_cost = 2 * 0.20e-6 + 2 * 0.05 * (128 / 1024) * 0.0000133334
    assert dollars["lambda"] == pytest.approx(lambda_cost)
    assert tally.per_million() == pytest.approx(sum(dollars.values()) / 4 * 1e6)
    measured = tally.dollars(lambda_seconds=None)["lambda"]
    assert measured == pytest.approx(2 * 0.20e-6 + 0.05 * (128 / 1024) * 0.0000133334)
    assert tally.excluded == {"sqs ReceiveMessage (empty poll)": 1}
    assert tally.by_service() == {"dynamodb": 2, "sqs": 1, "lambda": 2}


def test_tally_merge_adds_up() -> None:
    a = Tally(transitions=2, wru=1, invocations=1)
    b = Tally(transitions=3, wru=2, invocations=2)
    a.merge(b)
    assert (a.transitions, a.wru, a.invocations) == (5, 3, 3)
    assert math.isnan(Tally().per_million())


def test_prices_match_the_list() -> None:
    assert P.price("dynamodb_wru") * 1e6 == pytest.approx(0.625)
    assert P.price("dynamodb_rru") * 1e6 == pytest.approx(0.125)
    assert P.price("sqs_request") * 1e6 == pytest.approx(0.40)
    assert P.price("lambda_request") * 1e6 == pytest.approx(0.20)
    assert P.price("s3_put") * 1000 == pytest.approx(0.005)
    assert P.price("s3_get") * 1000 == pytest.approx(0.0004)
    assert P.PRICES_DATE == "2026-11-22"
    assert all(source for _, _, source in P.price_table())


def test_count_transitions() -> None:
    history = [
        {"type": "ExecutionStarted"},
        {"type": "PassStateEntered"},
        {"type": "MapStateEntered"},
    ]
    assert count_transitions(history) == 2


def test_flat_loop_step_and_cycle_summaries() -> None:
    assert increment({"i": 4, "n": 9}, None) == {"i": 5, "n": 9}
    assert LOOP["StartAt"] == "Check"
    cycle = Cycle(
        5,
        6,
        [
            Call("l", "orchestrator", "dynamodb", "PutItem", wru=2, bytes_sent=100),
            Call("l", "worker", "sqs", "SendMessageBatch", sqs_requests=1, bytes_sent=40),
            Call("l", "worker", "sqs", "ReceiveMessage", billable=False, bytes_sent=9),
        ],
    )
    assert cycle.requests() == {("dynamodb", "PutItem"): 1, ("sqs", "SendMessageBatch"): 1}
    assert cycle.bytes_sent() == {"dynamodb": 100, "sqs": 40}
    assert cycle.units() == (2, 0, 1)


def test_lateness_is_fired_minus_due() -> None:
    from datetime import datetime

    history = [{"type": "WaitStateEntered", "timestamp": "2026-01-01T00:00:00+00:00"}]
    fired = datetime.fromisoformat("2026-01-01T00:00:03.250000+00:00")
    assert measure(history, 3, fired).late == pytest.approx(0.25)
    with pytest.raises(ValueError):
        measure([], 3, fired)

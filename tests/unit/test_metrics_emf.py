"""The Lambda adapter of the metrics port: what it prints, as CloudWatch reads EMF."""

from __future__ import annotations

import json
from typing import Any

import pytest

pytest.importorskip("aws_lambda_powertools")

from aws_lambda_powertools import Metrics
from stepq.clock import ManualClock, SystemClock
from stepq.hosting.lambda_metrics import EmfMetrics


@pytest.fixture(autouse=True)
def _metrics_on(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in ("POWERTOOLS_DEV", "POWERTOOLS_METRICS_DISABLED"):
        monkeypatch.delenv(key, raising=False)


def _blobs(out: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in out.splitlines() if line.startswith('{"_aws"')]


def _printed(capsys: pytest.CaptureFixture[str], emf: EmfMetrics) -> list[dict[str, Any]]:
    emf.flush()
    emf.metrics.flush_metrics()  # what log_metrics does as the handler returns
    return _blobs(capsys.readouterr().out)


def test_counts_are_summed_and_timings_listed_in_one_blob(
    capsys: pytest.CaptureFixture[str],
) -> None:
    emf = EmfMetrics(Metrics(namespace="Stepq", service="stepq-unit"))
    for _ in range(25):  # a batch's commits
        emf.count("ConditionalWrites")
        emf.count("Transitions", 4)
        emf.timing("HistoryAppendLatency", 3.14159)

    [blob] = _printed(capsys, emf)

    [directive] = blob["_aws"]["CloudWatchMetrics"]
    assert directive["Namespace"] == "Stepq"
    assert directive["Dimensions"] == [["service"]]
    units = {m["Name"]: m["Unit"] for m in directive["Metrics"]}
    assert units == {
        "ConditionalWrites": "Count",
        "Transitions": "Count",
        "HistoryAppendLatency": "Milliseconds",
    }
    assert blob["service"] == "stepq-unit"
    assert blob["ConditionalWrites"] == [25.0]  # one value, however many facts
    assert blob["Transitions"] == [100.0]
    assert blob["HistoryAppendLatency"] == [3.1] * 25


def test_a_fact_with_dimensions_is_counted_per_service_and_per_dimension_once(
    capsys: pytest.CaptureFixture[str],
) -> None:
    emf = EmfMetrics(Metrics(namespace="Stepq", service="stepq-unit"))  # nothing held
    emf.timing("TaskLatency", 12, step="charge")
    emf.timing("TaskLatency", 30, step="charge")
    emf.timing("TaskLatency", 7, step="ship")
    emf.count("TaskRetries", step="Charge", error="ValueError")
    emf.count("ExecutionsStarted")

    blobs = _printed(capsys, emf)

    # Per service: every value, in the invocation's one plain blob.
    [plain] = [b for b in blobs if "ExecutionsStarted" in b]
    assert plain["_aws"]["CloudWatchMetrics"][0]["Dimensions"] == [["service"]]
    assert plain["TaskLatency"] == [12.0, 30.0, 7.0]
    assert "TaskRetries" not in plain
    # Per step: a blob per step, filed under [service, step] only (not counted twice).
    by_step = {b["step"]: b for b in blobs if "TaskLatency" in b and "step" in b}
    assert by_step["charge"]["TaskLatency"] == [12.0, 30.0]
    assert by_step["ship"]["TaskLatency"] == [7.0]
    for blob in by_step.values():
        dims = blob["_aws"]["CloudWatchMetrics"][0]["Dimensions"]
        assert sorted(map(sorted, dims)) == [["service", "step"]]
        assert blob["service"] == "stepq-unit"
    # A count: one blob declaring both sets, so it is per service and per step/error once.
    [retries] = [b for b in blobs if "TaskRetries" in b]
    dims = retries["_aws"]["CloudWatchMetrics"][0]["Dimensions"]
    assert sorted(map(sorted, dims)) == [["error", "service", "step"], ["service"]]
    assert (retries["step"], retries["error"], retries["TaskRetries"]) == (
        "Charge",
        "ValueError",
        [1.0],
    )
    assert len(blobs) == 4


def test_per_step_timings_are_held_in_the_warm_function_then_written_once(
    capsys: pytest.CaptureFixture[str],
) -> None:
    clock = ManualClock(SystemClock().now())
    started = clock.now()
    emf = EmfMetrics(Metrics(namespace="Stepq", service="stepq-unit"), hold_seconds=60, clock=clock)
    emf.timing("TaskLatency", 5, step="charge")
    first = _printed(capsys, emf)  # invocation 1: per service only
    clock.advance(30)
    emf.timing("TaskLatency", 6, step="charge")
    second = _printed(capsys, emf)  # invocation 2, 30 s on: still held
    clock.advance(31)
    third = _printed(capsys, emf)  # invocation 3, 61 s after the first value

    assert [b["TaskLatency"] for b in first] == [[5.0]]
    assert [b["TaskLatency"] for b in second] == [[6.0]]
    [held] = third
    assert (held["step"], held["TaskLatency"]) == ("charge", [5.0, 6.0])
    assert abs(held["_aws"]["Timestamp"] - started.timestamp() * 1000) < 1  # the first value's
    assert _printed(capsys, emf) == []


def test_one_hundred_held_values_are_written_at_once(capsys: pytest.CaptureFixture[str]) -> None:
    emf = EmfMetrics(Metrics(namespace="Stepq", service="stepq-unit"), hold_seconds=60)
    for _ in range(100):
        emf.timing("TaskLatency", 1, step="charge")

    blobs = _printed(capsys, emf)

    assert [len(b["TaskLatency"]) for b in blobs if "step" in b] == [100]


def test_an_invocation_prints_its_facts_once_even_when_it_raises(
    capsys: pytest.CaptureFixture[str],
) -> None:
    metrics = Metrics(namespace="Stepq", service="stepq-unit")
    emf = EmfMetrics(metrics)

    @metrics.log_metrics
    @emf.flushed
    def handler(event: Any, context: Any) -> None:
        emf.count("LeaseExpirations", 2)
        emf.count("DlqArrivals", queue="events")
        raise RuntimeError("the batch failed")

    with pytest.raises(RuntimeError):
        handler({}, None)
    blobs = _blobs(capsys.readouterr().out)
    assert [b.get("LeaseExpirations") for b in blobs if "LeaseExpirations" in b] == [[2.0]]
    assert [b["queue"] for b in blobs if "DlqArrivals" in b] == ["events"]

    emf.flush()  # nothing left over for the next invocation
    assert _blobs(capsys.readouterr().out) == []


def test_the_cost_benchmark_bills_the_bytes_each_metered_invocation_prints() -> None:
    from stepq.bench.cost import EmfLogBytes, EmfMeter

    meter = EmfMeter(label="run")
    emf = EmfLogBytes(meter)
    meter.emf = emf
    with meter.as_role("worker"):  # one invocation of the worker function
        for _ in range(10):
            emf.count("ConditionalWrites")
            emf.timing("TaskLatency", 3.0, step="charge")
    with meter.as_role("scheduler"):  # one a minute whatever the load: not per transition
        emf.timing("SchedulerLag", 0.0)
    with meter.as_role("client"):  # the API function's, a start's front door: not counted
        emf.count("ExecutionsStarted")

    assert emf.blobs["run"] == 1  # the plain blob; the step's timings are held
    plain = emf.bytes["run"]
    assert 250 < plain < 600  # ten facts of each kind, one blob: not ten
    emf.end_run("run")
    assert emf.blobs["run"] == 2  # the held per-step blob, written as the instance ends
    assert 150 < emf.bytes["run"] - plain < 400


def test_serialized_holds_every_blob_even_past_one_hundred_values(
    capsys: pytest.CaptureFixture[str],
) -> None:
    emf = EmfMetrics(Metrics(namespace="Stepq", service="stepq-unit"))
    for _ in range(150):
        emf.timing("HistoryAppendLatency", 2.0)

    lines = emf.serialized()

    assert capsys.readouterr().out == ""  # sized, not printed
    assert sorted(len(json.loads(x)["HistoryAppendLatency"]) for x in lines) == [50, 100]

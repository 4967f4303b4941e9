"""The Lambda adapter of the metrics port: what it prints, as CloudWatch reads EMF."""

from __future__ import annotations

import json
from typing import Any

import pytest

pytest.importorskip("aws_lambda_powertools")

from aws_lambda_powertools import Metrics
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
    assert blob["HistoryAppendLatency"] == [3.142] * 25


def test_each_dimension_set_is_one_blob_counted_per_service_and_per_dimension(
    capsys: pytest.CaptureFixture[str],
) -> None:
    emf = EmfMetrics(Metrics(namespace="Stepq", service="stepq-unit"))
    emf.timing("TaskLatency", 12, step="charge")
    emf.timing("TaskLatency", 30, step="charge")
    emf.timing("TaskLatency", 7, step="ship")
    emf.count("TaskRetries", step="Charge", error="ValueError")
    emf.count("ExecutionsStarted")

    blobs = _printed(capsys, emf)

    by_step = {b.get("step"): b for b in blobs if "TaskLatency" in b}
    assert set(by_step) == {"charge", "ship"}
    assert by_step["charge"]["TaskLatency"] == [12.0, 30.0]
    for blob in by_step.values():  # found per service and per step, from the one blob
        dims = blob["_aws"]["CloudWatchMetrics"][0]["Dimensions"]
        assert sorted(map(sorted, dims)) == [["service"], ["service", "step"]]
        assert blob["service"] == "stepq-unit"
    [retries] = [b for b in blobs if "TaskRetries" in b]
    dims = retries["_aws"]["CloudWatchMetrics"][0]["Dimensions"]
    assert sorted(map(sorted, dims)) == [["error", "service", "step"], ["service"]]
    assert (retries["step"], retries["error"], retries["TaskRetries"]) == (
        "Charge",
        "ValueError",
        [1.0],
    )
    # The plain blob does not repeat them (CloudWatch would count them twice).
    [plain] = [b for b in blobs if "ExecutionsStarted" in b]
    assert "TaskLatency" not in plain and "TaskRetries" not in plain
    assert len(blobs) == 4


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

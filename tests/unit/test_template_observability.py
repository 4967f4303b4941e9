"""infra/observability.yaml: the alarms and dashboard the stack deploys (nested in template.yaml).

The alarm names, metrics and thresholds are the shared contract of issue 11
(docs/OPERATIONS.md has one runbook section per alarm's logical ID); the
dashboard shows every metric the functions emit (Powertools EMF, namespace
Stepq, dimension ``service``).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("cfnlint")
from cfnlint.decode import decode

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template.yaml"
OBSERVABILITY = ROOT / "infra" / "observability.yaml"
SLOTS = 8

# Every metric the functions emit (namespace Stepq).
STEPQ_METRICS = {
    "ExecutionsStarted",
    "ExecutionsSucceeded",
    "ExecutionsFailed",
    "ExecutionsTimedOut",
    "ExecutionsAborted",
    "Transitions",
    "TaskLatency",
    "TaskRetries",
    "TimerLateness",
    "SchedulerLag",
    "HistoryAppendLatency",
    "ConditionalWrites",
    "ConditionalWriteConflicts",
    "DlqArrivals",
    "LeaseExpirations",
    "Repairs",
}
ROLES = ["Orchestrator", "Worker", "Scheduler", "Api", "Inbox"]
# Alarm -> (namespace, metric, statistic, threshold, the queues/dimension it watches)
ALARMS: dict[str, tuple[str, str, str, float]] = {
    "AlarmEventsDlq": ("AWS/SQS", "ApproximateNumberOfMessagesVisible", "Maximum", 1),
    "AlarmTaskDlq": ("AWS/SQS", "ApproximateNumberOfMessagesVisible", "Maximum", 1),
    "AlarmInboxDlq": ("AWS/SQS", "ApproximateNumberOfMessagesVisible", "Maximum", 1),
    "AlarmEventsQueueAge": ("AWS/SQS", "ApproximateAgeOfOldestMessage", "Maximum", 600),
    "AlarmTaskQueueAge": ("AWS/SQS", "ApproximateAgeOfOldestMessage", "Maximum", 600),
    "AlarmSchedulerLag": ("Stepq", "SchedulerLag", "Maximum", 180000),
    "AlarmTimerLateness": ("Stepq", "TimerLateness", "Maximum", 180000),
} | {
    f"AlarmFunction{metric}{role}": ("AWS/Lambda", metric, "Sum", 1)
    for role in ROLES
    for metric in ["Errors", "Throttles"]
}


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    parsed, problems = decode(str(TEMPLATE))
    assert not problems, problems
    return parsed


@pytest.fixture(scope="module")
def infra() -> dict[str, Any]:
    parsed, problems = decode(str(OBSERVABILITY))
    assert not problems, problems
    return parsed


def _alarms(infra: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        k: v["Properties"]
        for k, v in infra["Resources"].items()
        if v["Type"] == "AWS::CloudWatch::Alarm"
    }


def _metric_stats(alarm: dict[str, Any]) -> list[dict[str, Any]]:
    """(namespace, name, dimensions, stat) of each metric an alarm reads."""
    if "MetricName" in alarm:
        return [
            {
                "Namespace": alarm["Namespace"],
                "MetricName": alarm["MetricName"],
                "Dimensions": alarm["Dimensions"],
                "Stat": alarm["Statistic"],
            }
        ]
    found = []
    for query in alarm["Metrics"]:
        if "Fn::If" in query:  # a slot's metric: only when the slot is used
            condition, query, absent = query["Fn::If"]
            assert re.fullmatch(r"Slot\d", condition) and absent == {"Ref": "AWS::NoValue"}
        if "MetricStat" in query:
            stat = query["MetricStat"]
            found.append({**stat["Metric"], "Stat": stat["Stat"], "Id": query["Id"]})
    return found


def test_the_alarms_are_exactly_the_contracts(infra: dict[str, Any]) -> None:
    assert set(_alarms(infra)) == set(ALARMS)


@pytest.mark.parametrize("name", sorted(ALARMS))
def test_each_alarm_watches_its_metric_at_its_threshold(infra: dict[str, Any], name: str) -> None:
    alarm = _alarms(infra)[name]
    namespace, metric, stat, threshold = ALARMS[name]
    stats = _metric_stats(alarm)
    assert stats
    for found in stats:
        assert (found["Namespace"], found["MetricName"], found["Stat"]) == (namespace, metric, stat)
    assert alarm["Threshold"] == threshold
    assert alarm["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
    assert alarm["EvaluationPeriods"] >= 1
    # The runbook: docs/OPERATIONS.md, one section per alarm's logical ID.
    assert f"docs/OPERATIONS.md#{name.lower()}" in alarm["AlarmDescription"]
    topic = {"Fn::If": ["HasAlarmTopic", [{"Ref": "AlarmTopicArn"}], {"Ref": "AWS::NoValue"}]}
    assert alarm["AlarmActions"] == alarm["OKActions"] == topic
    if namespace == "Stepq":  # Powertools' default dimension: the scheduler's service name
        for found in stats:
            assert found["Dimensions"] == [{"Name": "service", "Value": "stepq-scheduler"}]
        assert found["MetricName"] in STEPQ_METRICS


def test_the_scheduler_going_silent_is_an_alarm(infra: dict[str, Any]) -> None:
    # SchedulerLag is emitted on every tick (0 when nothing is due): no data
    # means no ticks. TimerLateness exists only when timers fire.
    alarms = _alarms(infra)
    assert alarms["AlarmSchedulerLag"]["TreatMissingData"] == "breaching"
    assert alarms["AlarmTimerLateness"]["TreatMissingData"] == "notBreaching"


def _queue_names(template: dict[str, Any]) -> dict[str, str]:
    """Logical queue -> its name's Fn::Sub text (a slot's with ${Name})."""
    names = {}
    for name, resource in template["Resources"].items():
        if resource["Type"] == "AWS::SQS::Queue":
            sub = resource["Properties"]["QueueName"]["Fn::Sub"]
            names[name] = sub if isinstance(sub, str) else sub[0]
    return names


@pytest.mark.parametrize(
    ("alarm", "queue", "slot_queue"),
    [
        ("AlarmEventsDlq", "EventsDLQ", None),
        ("AlarmInboxDlq", "InboxDLQ", None),
        ("AlarmEventsQueueAge", "EventsQueue", None),
        ("AlarmTaskDlq", "DefaultTaskDLQ", "TaskDLQ"),
        ("AlarmTaskQueueAge", "DefaultTaskQueue", "TaskQueue"),
    ],
)
def test_queue_alarms_name_the_queues_the_template_creates(
    template: dict[str, Any], infra: dict[str, Any], alarm: str, queue: str, slot_queue: str | None
) -> None:
    names = _queue_names(template)
    stats = _metric_stats(_alarms(infra)[alarm])
    watched = []
    for found in stats:
        ((dimension,),) = [found["Dimensions"]]
        assert dimension["Name"] == "QueueName"
        sub = dimension["Value"]["Fn::Sub"]
        watched.append(sub if isinstance(sub, str) else sub[0])
    expected = [names[queue]]
    if slot_queue:  # the worst of the shared queue and each slot's
        expected += [names[f"Slot{i}{slot_queue}"] for i in range(SLOTS)]
        expression = _alarms(infra)[alarm]["Metrics"][-1]
        assert expression["Expression"] == 'MAX(METRICS("q"))'
        assert expression["ReturnData"] is True
        assert all(found["Id"].startswith("q") for found in stats)
        assert not expression["Id"].startswith("q")
    assert watched == expected


def test_function_alarms_watch_every_function(
    infra: dict[str, Any], template: dict[str, Any]
) -> None:
    alarms = _alarms(infra)
    params = infra["Parameters"]
    for role in ROLES:
        for metric in ["Errors", "Throttles"]:
            stats = _metric_stats(alarms[f"AlarmFunction{metric}{role}"])
            values = [s["Dimensions"][0]["Value"] for s in stats]
            assert values[0] == {"Ref": f"{role}FunctionName"}
            assert f"{role}FunctionName" in params
            if role == "Worker":  # and each used slot's worker
                assert len(values) == 1 + SLOTS
                assert all("DedicatedWorkerFunctionNames" in str(v) for v in values[1:])
    passed = template["Resources"]["Observability"]["Properties"]["Parameters"]
    for role in ROLES:
        assert passed[f"{role}FunctionName"] == {"Ref": f"{role}Function"}
    joined = passed["DedicatedWorkerFunctionNames"]["Fn::Join"]
    assert joined[0] == ","
    assert joined[1] == [
        {"Fn::If": [f"Slot{i}", {"Ref": f"Slot{i}WorkerFunction"}, ""]} for i in range(SLOTS)
    ]


def test_the_nested_stack_gets_every_parameter_it_declares(
    template: dict[str, Any], infra: dict[str, Any]
) -> None:
    nested = template["Resources"]["Observability"]
    assert nested["Type"] == "AWS::Serverless::Application"
    assert (ROOT / nested["Properties"]["Location"]).resolve() == OBSERVABILITY
    passed = set(nested["Properties"]["Parameters"])
    declared = infra["Parameters"]
    required = {k for k, v in declared.items() if "Default" not in v}
    assert required <= passed <= set(declared)
    # The slots are counted alike in both templates.
    assert template["Conditions"]["Slot0"] == infra["Conditions"]["Slot0"]
    assert f"Slot{SLOTS - 1}" in infra["Conditions"] and f"Slot{SLOTS}" not in infra["Conditions"]


def _dashboard(infra: dict[str, Any]) -> dict[str, Any]:
    (dashboard,) = [
        r["Properties"]
        for r in infra["Resources"].values()
        if r["Type"] == "AWS::CloudWatch::Dashboard"
    ]
    text = dashboard["DashboardBody"]["Fn::Sub"]
    substituted = re.sub(r"\$\{[A-Za-z:]+\}", "x", text)
    return json.loads(substituted)


def test_the_dashboard_shows_every_emitted_metric(infra: dict[str, Any]) -> None:
    body = _dashboard(infra)
    shown: set[str] = set()
    for widget in body["widgets"]:
        for row in widget["properties"]["metrics"]:
            for item in row:
                if isinstance(item, dict) and "expression" in item:
                    shown |= set(
                        re.findall(r"\{Stepq,[^}]*\} MetricName=\"(\w+)\"", item["expression"])
                    )
    assert shown == STEPQ_METRICS
    # Every widget is a metric graph of this stack's region.
    assert all(w["properties"]["region"] == "x" for w in body["widgets"])
    ids = [
        item["id"]
        for w in body["widgets"]
        for row in w["properties"]["metrics"]
        for item in row
        if isinstance(item, dict)
    ]
    assert len(ids) == len(set(ids))  # CloudWatch rejects a repeated id

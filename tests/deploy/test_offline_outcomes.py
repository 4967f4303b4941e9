"""The other ways an execution ends, on the deployed stack (outcomes_run.py): each one as
Step Functions reports it, and the duplicated delivery raced as SQS and Lambda would."""

from __future__ import annotations

import json

from deploy.conftest import OfflineRun


def test_each_execution_ends_as_its_scenario_says(offline_run: OfflineRun) -> None:
    outcomes = offline_run.outcomes.outcomes
    statuses = {name: outcome["status"] for name, outcome in outcomes.items()}
    assert statuses == {
        "retried": "FAILED",
        "stopped": "ABORTED",
        "raced": "SUCCEEDED",
        "timed-out": "TIMED_OUT",
    }
    assert outcomes["retried"]["error"] == "KeyError"  # the step's, after its one retry
    assert json.loads(outcomes["retried"]["cause"])["errorType"] == "KeyError"
    assert outcomes["timed-out"]["error"] == "States.Timeout"


def test_the_raced_event_was_delivered_twice_at_once(offline_run: OfflineRun) -> None:
    race = offline_run.outcomes.race
    assert race.second_ran_inside_first  # between the first instance's read and its write
    assert [m["MessageId"] for m in race.first] == [m["MessageId"] for m in race.second]
    assert {m["Attributes"]["ApproximateReceiveCount"] for m in race.second} == {"2"}

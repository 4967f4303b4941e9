"""The deployed template's resources and real handlers, run offline end to end.

template.yaml is translated by aws-sam-translator, its resources created on
moto, and the insurance-claim example runs through every function's real
handler with the events Lambda would deliver (conftest.py runs it once).
"""

from __future__ import annotations

import json

from deploy.conftest import OfflineRun

# The contract's function -> Powertools service names (docs: the issue-11 brief).
SERVICES = {
    "OrchestratorFunction": "stepq-orchestrator",
    "WorkerFunction": "stepq-worker",
    "SchedulerFunction": "stepq-scheduler",
    "InboxFunction": "stepq-inbox",
    "ApiFunction": "stepq-api",
}


def test_the_translated_template_is_plain_cloudformation(offline_run: OfflineRun) -> None:
    types = {r["Type"] for r in offline_run.template["Resources"].values()}
    assert not {t for t in types if t.startswith("AWS::Serverless::")}, types
    assert {"AWS::DynamoDB::Table", "AWS::SQS::Queue", "AWS::IAM::Role"} <= types


def test_each_function_runs_with_the_environment_the_template_gives_it(
    offline_run: OfflineRun,
) -> None:
    outputs = offline_run.claims.outputs
    for logical_id, function in offline_run.functions.items():
        env = function.environment
        # Globals merged by the translator, resolved against the created resources.
        assert env["STEPQ_TABLE"] == outputs["TableName"], logical_id
        assert env["STEPQ_QUEUE_PREFIX"] == outputs["QueuePrefix"], logical_id
        assert env["STEPQ_BUCKET"] == outputs["BucketName"], logical_id
        if logical_id in SERVICES:
            assert function.service == SERVICES[logical_id]


def test_every_function_of_the_stack_was_invoked(offline_run: OfflineRun) -> None:
    idle = [f.logical_id for f in offline_run.functions.values() if f.invocations == 0]
    assert not idle, f"never invoked: {idle}"
    assert {"OrchestratorFunction", "WorkerFunction", "SchedulerFunction", "InboxFunction"} <= set(
        offline_run.functions
    )


def test_the_claims_wait_for_the_person_and_a_day_then_are_paid(offline_run: OfflineRun) -> None:
    claims = offline_run.claims
    assert set(claims.outcomes) == {"claim-a", "claim-b", "claim-c"}
    # Answered, but the one-day CoolingOff Wait held them until the clock moved.
    assert set(claims.statuses_before_wait.values()) == {"RUNNING"}
    for name, outcome in claims.outcomes.items():
        assert outcome["status"] == "SUCCEEDED", (name, outcome)
        output = json.loads(outcome["output"])
        assert output["verification"] == {"score": 0.97, "verifier": "a person"}, name
        assert output["payment"] == {"paid": 800, "claim_id": output["claim"]["claim_id"]}
    documents = json.loads(claims.outcomes["claim-c"]["output"])["documents"]
    assert len(documents) == 150 * 1024  # claim-checked through S3 and back, whole


def test_a_message_that_can_never_apply_is_dead_lettered_with_its_reason(
    offline_run: OfflineRun,
) -> None:
    (dead,) = offline_run.claims.dead_lettered
    assert dead["Body"] == "this is not an inbox message"
    reason = dead["MessageAttributes"]["stepq-reason"]["StringValue"]
    assert "not JSON" in reason

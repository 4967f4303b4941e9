"""Least privilege, checked: each function's role allows exactly the AWS calls it makes.

The offline run records every call each function's code makes (and Lambda's
polling on its behalf) with botocore hooks (``aws_calls``); each role's
allowed actions are read back from IAM as deployed (``iam_policies``). Per
function the two must be equal, but for documented exceptions below, each
with its reason. A mismatch is reported per function as:

- ``missing A``: the function called A and its role does not allow it (AccessDenied in AWS);
- ``extra A``: the role allows A, the run never needed it, and no exception says why;
- ``wildcard P``: the role grants a pattern (``sqs:SendMessage*``): name the actions.

``KNOWN_MISMATCHES`` lists today's mismatches of template.yaml. It can only
shrink: a new mismatch fails, and so does a listed one that is gone (remove it).
"""

from __future__ import annotations

import pytest

from deploy.conftest import FunctionRecord, OfflineRun

# Lambda itself acts with every function's role, whatever the handler does.
LAMBDA_PLATFORM = {
    "logs:CreateLogGroup": "Lambda creates the function's log group on first write",
    "logs:CreateLogStream": "Lambda writes the function's output to CloudWatch Logs",
    "logs:PutLogEvents": "Lambda writes the function's output to CloudWatch Logs",
    "xray:PutTraceSegments": "Tracing: Active -- Lambda sends the Tracer's segments to X-Ray",
    "xray:PutTelemetryRecords": "Tracing: Active -- Lambda's X-Ray daemon reports telemetry",
    "xray:GetSamplingRules": "Tracing: Active -- the X-Ray SDK reads the sampling rules",
    "xray:GetSamplingTargets": "Tracing: Active -- the X-Ray SDK reports its sampling",
    "xray:GetSamplingStatisticSummaries": "Tracing: Active (AWSXrayWriteOnlyAccess)",
    "kms:Decrypt": "KmsKeyArn set: Lambda decrypts the environment, SQS/S3/DynamoDB the data",
    "kms:GenerateDataKey": "KmsKeyArn set: sending to a queue / writing an object encrypted with it",
}
# An SQS event source mapping polls with the function's role.
SQS_EVENT_SOURCE = {
    "sqs:GetQueueAttributes": "the event source mapping reads the queue's attributes "
    "(Lambda's documented permissions for an SQS source: ReceiveMessage, DeleteMessage, "
    "GetQueueAttributes); the harness's poller does not need to",
}
# Per role (Powertools service name): actions for paths the run does not take.
DOCUMENTED_EXCEPTIONS: dict[str, dict[str, str]] = {
    "stepq-worker": {
        "sqs:ChangeMessageVisibility": "a task still running near the visibility timeout has "
        "its message kept invisible (runtime/worker.py); the example's steps return at once",
        "lambda:InvokeFunction": "DirectLambdaInvoke=true: a Task naming a deployed function "
        "invokes it (backends/aws/lambda_invoke.py); the example's steps are in FunctionsModule",
        "sts:AssumeRole": "sqs/sns/aws-sdk service integrations run as the machine's roleArn; "
        "the example has none",
        "s3:GetObject": "a task message over the claim threshold arrives as a pointer and is "
        "read back (hosting/lambda_sqs.consume_batch); the example's task messages fit SQS",
        "sqs:SendMessage": "a worker sends what its commit leads to (next tasks, delayed "
        "events); a dedicated worker whose step ends the execution (pay_out) sends nothing",
        "sqs:GetQueueUrl": "SqsQueues resolves the URL of a queue it sends to (see sqs:SendMessage)",
        "dynamodb:Query": "a dedicated slot worker runs WorkerFunction's code under the same "
        "rules: it loads an execution whose task message carries no commit; the run's one step "
        "on it did not need to",
        "dynamodb:DeleteItem": "a slot worker's commit may cancel a timer (a heartbeat or a "
        "Wait's), as WorkerFunction's do; not on the run's one step there",
        "dynamodb:UpdateItem": "a slot worker keeps Powertools idempotency records of "
        "idempotent steps, as WorkerFunction does; the run's step there is not one",
        "ses:SendEmail": "MailFrom set: a human task's or process activity's e-mail goes "
        "through SES (backends/aws/ses_mailer.py); the claim run has no people in it",
    },
    "stepq-inbox": {
        "s3:GetObject": "a machine definition too large for an item is kept in the bucket and "
        "read back to start it (dynamodb_items.pack); the example's definition is small",
    },
    "stepq-scheduler": {
        "dynamodb:PutItem": "the dead-letter sweep fails the execution of a poison message "
        "with a commit (runtime/poison.py); nothing is poisoned in the run",
        "s3:PutObject": "a timer event over SQS's 256 KiB is claim-checked into the bucket when "
        "the scheduler sends it (backends/queue_wire.py); the run's timers are small",
        "dynamodb:UpdateItem": "the daily retention renewal re-stamps expires_at on the commits "
        "of executions open more than 15 days (runtime/renewal.py); the run's are younger",
        "sqs:DeleteMessage": "the dead-letter sweep removes the poison messages whose "
        "executions it failed (runtime/poison.py); nothing is poisoned in the run",
    },
    "stepq-api": {
        "sqs:CreateQueue": "CreateActivity creates the activity's queue (api/activities.py, "
        "SqsQueues.ensure); the example has no activity",
        "sqs:SetQueueAttributes": "CreateActivity on an existing queue updates its attributes",
        "sqs:ReceiveMessage": "GetActivityTask receives the activity's next task",
        "sqs:DeleteMessage": "GetActivityTask removes the task it hands out",
        "s3:PutObject": "StartExecution / SendTaskSuccess with an input or output over the "
        "claim threshold (the run's large claim starts through the inbox)",
        "dynamodb:DeleteItem": "DeleteStateMachine / DeleteStateMachineVersion / "
        "DeleteStateMachineAlias (the run deletes nothing)",
        "dynamodb:ConditionCheckItem": "RedriveExecution's transaction (not in the run)",
    },
}

# Mismatches of template.yaml still to fix. Only ever remove entries.
KNOWN_MISMATCHES: dict[str, set[str]] = {}


def mismatches(function: FunctionRecord) -> set[str]:
    used = {a.lower() for a in function.calls | function.event_source_calls}
    allowed = {
        **LAMBDA_PLATFORM,
        **(SQS_EVENT_SOURCE if function.has_sqs_source else {}),
        **DOCUMENTED_EXCEPTIONS.get(function.service, {}),
    }
    allowed_lower = {a.lower() for a in allowed}
    found = {f"missing {a}" for a in sorted(function.calls | function.event_source_calls)}
    found = {m for m in found if not function.granted.allows(m.split(" ", 1)[1])}
    for pattern in function.granted.patterns:
        if "*" in pattern or "?" in pattern:
            found.add(f"wildcard {pattern}")
        elif pattern.lower() not in used and pattern.lower() not in allowed_lower:
            found.add(f"extra {pattern}")
    return found


def _report(offline_run: OfflineRun) -> dict[str, set[str]]:
    return {
        logical_id: mismatches(function)
        for logical_id, function in sorted(offline_run.functions.items())
    }


def test_every_function_made_aws_calls_that_were_recorded(offline_run: OfflineRun) -> None:
    # The recording itself must work, or the comparison below proves nothing.
    for logical_id, function in offline_run.functions.items():
        assert function.calls, f"{logical_id}: no AWS call recorded"
        assert function.granted.grants, f"{logical_id}: its role allows nothing"
    orchestrator = offline_run.functions["OrchestratorFunction"]
    assert {"dynamodb:GetItem", "dynamodb:PutItem", "sqs:SendMessage"} <= orchestrator.calls
    assert {"sqs:ReceiveMessage", "sqs:DeleteMessage"} <= orchestrator.event_source_calls


def test_each_role_allows_exactly_the_calls_its_function_makes(offline_run: OfflineRun) -> None:
    report = _report(offline_run)
    new = {f: sorted(m - KNOWN_MISMATCHES.get(f, set())) for f, m in report.items()}
    gone = {f: sorted(known - report.get(f, set())) for f, known in KNOWN_MISMATCHES.items()}
    lines = [f"{f}: {', '.join(m)}" for f, m in new.items() if m]
    fixed = [f"{f}: {', '.join(m)}" for f, m in gone.items() if m]
    message = ""
    if lines:
        message += "IAM differs from the calls made (missing = AccessDenied in AWS):\n  "
        message += "\n  ".join(lines)
    if fixed:
        message += "\nno longer mismatched -- remove from KNOWN_MISMATCHES:\n  " + "\n  ".join(
            fixed
        )
    assert not message, message


@pytest.mark.parametrize(
    "exceptions", [LAMBDA_PLATFORM, SQS_EVENT_SOURCE, *DOCUMENTED_EXCEPTIONS.values()]
)
def test_every_documented_exception_gives_its_reason(exceptions: dict[str, str]) -> None:
    for action, reason in exceptions.items():
        assert ":" in action and "*" not in action, action
        assert len(reason) > 20, f"{action}: say why"

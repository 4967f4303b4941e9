"""Least privilege on resources: every call a function makes is allowed on the resource it touched.

The recorded calls carry their resources (queue, table or index, object,
function ARNs: ``aws_calls.resource_arns``); each must be allowed by the
role's statements naming it (Deny statements win; conditions are not
evaluated). Reported per function:

- ``denied A on R``: AccessDenied in AWS -- the role names other resources;
- ``any-resource A``: an inline statement allows A on ``*`` where the
  resource could be named (SQS, DynamoDB and S3 actions).

Generated names are shown as their logical ids (``table/{Table}``).
``KNOWN_FAILURES`` lists today's; it can only shrink.
"""

from __future__ import annotations

from deploy.conftest import FunctionRecord, OfflineRun

NAMEABLE = ("sqs:", "dynamodb:", "s3:")
KNOWN_FAILURES: dict[str, set[str]] = {}  # calls denied on their resource; only ever shrinks


def failures(function: FunctionRecord, physical_names: dict[str, str]) -> set[str]:
    def stable(arn: str) -> str:
        for name, logical_id in physical_names.items():
            arn = arn.replace(name, "{" + logical_id + "}")
        return arn

    found = {
        f"denied {action} on {stable(arn)}"
        for action, arn in function.resource_calls
        if not function.granted.allows(action, arn)
    }
    used = {a.lower() for a in function.calls}
    for grant in function.granted.grants:
        if grant.source.endswith("(managed)") or "*" not in grant.resources:
            continue
        if grant.pattern.lower().startswith(NAMEABLE) and any(grant.covers(a) for a in used):
            found.add(f"any-resource {grant.pattern}")
    return found


def test_the_recorded_calls_name_their_resources(offline_run: OfflineRun) -> None:
    orchestrator = offline_run.functions["OrchestratorFunction"]
    arns = {arn for _, arn in orchestrator.resource_calls}
    assert any(":table/" in a for a in arns), arns
    assert any(a.endswith(":stepq-events") for a in arns), arns


def test_every_call_is_allowed_on_its_resource(offline_run: OfflineRun) -> None:
    report = {
        logical_id: failures(function, offline_run.physical_names)
        for logical_id, function in sorted(offline_run.functions.items())
    }
    new = {f: sorted(m - KNOWN_FAILURES.get(f, set())) for f, m in report.items()}
    gone = {f: sorted(k - report.get(f, set())) for f, k in KNOWN_FAILURES.items()}
    message = "\n  ".join(f"{f}: {', '.join(m)}" for f, m in new.items() if m)
    fixed = "\n  ".join(f"{f}: {', '.join(m)}" for f, m in gone.items() if m)
    text = f"resource-level IAM:\n  {message}" if message else ""
    if fixed:
        text += f"\nholding now -- remove from KNOWN_FAILURES:\n  {fixed}"
    assert not text, text


def test_the_people_pool_client_and_mail_sender_are_deployed(offline_run: OfflineRun) -> None:
    from deploy.claim_run import OFFLINE_SENDER

    types = offline_run.resource_types
    assert types["UserPool"] == "AWS::Cognito::UserPool"
    assert types["UserPoolClient"] == "AWS::Cognito::UserPoolClient"
    workers = [f for f in offline_run.functions.values() if f.service == "stepq-worker"]
    assert workers
    for worker in workers:
        assert worker.environment["STEPQ_MAIL_FROM"] == OFFLINE_SENDER
        assert worker.granted.allows("ses:SendEmail"), worker.logical_id


def test_browsers_of_the_attachment_origins_may_put_and_get_attachments_only(
    offline_run: OfflineRun,
) -> None:
    from deploy.claim_run import ATTACHMENT_ORIGIN

    (rule,) = offline_run.bucket_cors["ClaimCheckBucket"]
    assert rule["AllowedOrigins"] == [ATTACHMENT_ORIGIN]
    assert sorted(rule["AllowedMethods"]) == ["GET", "PUT"]
    assert rule["AllowedHeaders"] == ["Content-Type"]
    others = {k: v for k, v in offline_run.bucket_cors.items() if k != "ClaimCheckBucket"}
    assert others and not any(others.values())  # the access-log bucket has none


def test_a_person_signed_in_to_the_pool_reaches_the_people_operations_only(
    offline_run: OfflineRun,
) -> None:
    from deploy.people_run import GROUP, PERSON

    people = offline_run.people
    assert people.signed_in == PERSON  # a token of the stack's pool and app client
    assert people.answers["CreateGroup"][0] == 200  # the operator, over IAM
    status, me = people.answers["WhoAmI"]
    assert status == 200 and me == {"id": PERSON, "kind": "person", "groups": [GROUP]}
    assert people.answers["ListMyTasks"] == (200, {"tasks": []})
    for refused in ("ListStateMachines", "CreateGroup as a person"):
        status, body = people.answers[refused]
        assert (status, body["__type"]) == (403, "AccessDeniedException"), refused

"""The offline run, done once per session and kept as plain data for the tests to read.

The moto mock, the call recorder and the moved clock are active only while
the run happens (inside the fixture), never while other tests run.
Without aws-sam-translator the tests skip with the install command, except
under CI=true, where they fail.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from deploy.claim_run import ROOT, ClaimRun, parameters_for, run_claims
from deploy.outcomes_run import OutcomesRun, run_outcomes
from deploy.people_run import PeopleRun, run_people

# Another template (e.g. a branch's) can be run with STEPQ_OFFLINE_TEMPLATE=path.
TEMPLATE = Path(os.environ.get("STEPQ_OFFLINE_TEMPLATE") or ROOT / "template.yaml")
INSTALL = "pip install 'aws-sam-translator>=1.106'  (the dev extra)"


def need_translator() -> None:
    try:
        import samtranslator  # noqa: F401
    except ImportError:
        if os.environ.get("CI") == "true":
            pytest.fail(f"aws-sam-translator is missing; {INSTALL}")
        pytest.skip(f"aws-sam-translator is not installed; {INSTALL}")


@dataclass
class FunctionRecord:
    logical_id: str
    service: str  # POWERTOOLS_SERVICE_NAME
    environment: dict[str, str]
    invocations: int
    stdout: list[str]
    granted: Any  # iam_policies.RoleActions
    calls: set[str]  # IAM actions of the calls its code made
    event_source_calls: set[str]  # ... and of Lambda's polling on its behalf
    has_sqs_source: bool
    resource_calls: set[tuple[str, str]]  # (action, ARN) of its calls and its polling


@dataclass
class OfflineRun:
    claims: ClaimRun
    # Then executions that fail, stop, time out, retry and race (outcomes_run.py).
    outcomes: OutcomesRun = field(default_factory=OutcomesRun)
    # Then a person of the stack's user pool through POST /people (people_run.py).
    people: PeopleRun = field(default_factory=PeopleRun)
    functions: dict[str, FunctionRecord] = field(default_factory=dict)
    template: dict[str, Any] = field(default_factory=dict)  # translated
    api_present: bool = False
    resource_types: dict[str, str] = field(default_factory=dict)
    alarms: dict[str, dict[str, Any]] = field(default_factory=dict)  # logical id -> as deployed
    bucket_cors: dict[str, list[dict[str, Any]]] = field(
        default_factory=dict
    )  # logical id -> rules
    # Generated physical names (table, bucket, functions) -> logical ids, for stable reports.
    physical_names: dict[str, str] = field(default_factory=dict)
    # `stepq ops ...` run against the stack after the claims, as an operator would:
    # the arguments after `ops` -> (exit code, output).
    ops: dict[str, tuple[int, str]] = field(default_factory=dict)


@pytest.fixture(scope="session")
def offline_run() -> OfflineRun:
    need_translator()
    from moto import mock_aws
    from moto.core import DEFAULT_ACCOUNT_ID

    from deploy.aws_calls import Recorder
    from deploy.iam_policies import role_actions
    from deploy.lambda_emulator import TimeTravel
    from deploy.offline_stack import EVENT_SOURCE, OfflineStack
    from deploy.sam_template import load_yaml

    recorder, clock = Recorder(account=DEFAULT_ACCOUNT_ID), TimeTravel()
    # moto attaches AWS managed policies (the ones SAM adds) only when told to load them.
    with mock_aws(config={"iam": {"load_aws_managed_policies": True}}):
        with recorder.installed(), clock.installed():
            stack = OfflineStack(TEMPLATE, parameters_for(load_yaml(TEMPLATE)), recorder, clock)
            stack.deploy()
            claims = run_claims(stack)
            outcomes = run_outcomes(stack)
            people = run_people(stack)
        iam = stack.deployer_client("iam")
        assert stack.translated is not None
        run = OfflineRun(
            claims=claims,
            outcomes=outcomes,
            people=people,
            template=stack.translated.template,
            api_present=stack.api is not None,
            resource_types=dict(stack.types),
        )
        cloudwatch = stack.deployer_client("cloudwatch")
        for path, type_ in stack.types.items():
            if type_ == "AWS::CloudWatch::Alarm":  # in template.yaml or a nested infra/ stack
                name = stack.resources[path].ref
                (alarm,) = cloudwatch.describe_alarms(AlarmNames=[name])["MetricAlarms"]
                run.alarms[path.rsplit("/", 1)[-1]] = alarm
        s3 = stack.deployer_client("s3")
        for path, type_ in stack.types.items():
            if type_ == "AWS::S3::Bucket":
                try:
                    rules = s3.get_bucket_cors(Bucket=stack.resources[path].ref)["CORSRules"]
                except s3.exceptions.ClientError:  # NoSuchCORSConfiguration
                    rules = []
                run.bucket_cors[path.rsplit("/", 1)[-1]] = rules
        sources = {s.function.logical_id for s in stack.sources}
        for logical_id, function in stack.functions.items():
            run.functions[logical_id] = FunctionRecord(
                logical_id=logical_id,
                service=function.environment.get("POWERTOOLS_SERVICE_NAME", ""),
                environment=dict(function.environment),
                invocations=function.invocations,
                stdout=list(function.stdout),
                granted=role_actions(iam, function.role_arn),
                calls=set(recorder.calls.get(logical_id, ())),
                event_source_calls=set(recorder.calls.get(logical_id + EVENT_SOURCE, ())),
                has_sqs_source=logical_id in sources,
                resource_calls=set(recorder.resources.get(logical_id, ()))
                | set(recorder.resources.get(logical_id + EVENT_SOURCE, ())),
            )
        run.ops = _operator_commands(stack.outputs)
        named = ("AWS::DynamoDB::Table", "AWS::S3::Bucket", "AWS::Lambda::Function")
        run.physical_names = {
            stack.resources[path].ref: path for path, type_ in stack.types.items() if type_ in named
        }
    return run


OPS_COMMANDS = (
    "stuck --older-than 0",
    "dlq list",
    "dlq redrive inbox --all --dry-run",
    "reconcile --quiet-minutes 0",
)


def _operator_commands(outputs: dict[str, Any]) -> dict[str, tuple[int, str]]:
    """The operator tools on the deployed stack: the settings path, named by its outputs."""
    from stepq.cli import app
    from typer.testing import CliRunner

    where = ["--table", outputs["TableName"], "--queue-prefix", outputs["QueuePrefix"]]
    env = {"AWS_DEFAULT_REGION": "us-east-1", "AWS_REGION": "us-east-1", "STEPQ_API_URL": ""}
    done = {}
    for command in OPS_COMMANDS:
        result = CliRunner().invoke(app, ["ops", *command.split(), *where], env=env)
        done[command] = (result.exit_code, result.output)
    return done

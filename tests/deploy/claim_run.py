"""The insurance-claim example, run on the offline stack the way people would run it deployed.

The operator creates the machine (through the API function when the
template has one, else with the same API code run by the deployer, as a
post-deploy command would). Three claims start: claim-a through the API
(else an inbox message), claim-b as an EventBridge event the InboxRule
routes to the inbox, claim-c through the inbox with scanned documents too
large for a table item or a queue message (claim-checked in S3). Their
verification -- the human step, a task token -- is answered through the
inbox, and for claim-b through the API's SendTaskSuccess (else the inbox).
Then a day passes for the CoolingOff Wait, the scheduler fires the timers,
and every claim is paid. A malformed inbox message is dead-lettered on the way.
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from stepq.api.handler import ApiHandler
from stepq.api.protocol import ApiRequest
from stepq.backends.aws.settings import Settings
from stepq.hosting.lambda_api import build_context

from deploy.offline_stack import REGION, STEPFUNCTIONS_TARGET, OfflineStack

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "state_machine" / "insurance_claim.asl.json"
EXAMPLE_STEPS = ROOT / "state_machine" / "insurance_claim.py"
MACHINE = "insurance_claim"
COOLING_OFF_S = 86_400
OWN_QUEUE = (
    "pay_out"  # the step function given its own task queue (and worker, if the template has one)
)


OFFLINE_SENDER = "stepq@example.com"
ATTACHMENT_ORIGIN = "http://127.0.0.1:8084"


def parameters_for(template: dict[str, Any]) -> dict[str, str]:
    """The stack parameters of the run: the example's steps, pay_out on a queue of its own."""
    declared = template.get("Parameters", {})
    chosen = {"FunctionsModule": str(EXAMPLE_STEPS)}
    for name in ("ExampleFunctionName", "DedicatedStepFunctions"):  # before / after issue 11
        if name in declared:
            chosen[name] = OWN_QUEUE
    if "MailFrom" in declared:  # the workers' SES grant and sender, as deployed with e-mail
        chosen["MailFrom"] = OFFLINE_SENDER
    if "AttachmentOrigins" in declared:  # a people inbox page that uploads attachments
        chosen["AttachmentOrigins"] = ATTACHMENT_ORIGIN
    return chosen


class Operator:
    """Someone with the Step Functions API: through the deployed API, or the same code locally."""

    def __init__(self, stack: OfflineStack) -> None:
        self.stack = stack
        self._local: ApiHandler | None = None

    @property
    def through_api_function(self) -> bool:
        return self.stack.api is not None

    def call(self, operation: str, payload: dict[str, Any]) -> Any:
        if self.stack.api is not None:
            status, body = self.stack.call_api(operation, payload)
        else:
            status, body = self._call_locally(operation, payload)
        if status != 200:
            raise AssertionError(f"{operation} answered {status}: {body}")
        return body

    def _call_locally(self, operation: str, payload: dict[str, Any]) -> tuple[int, Any]:
        if self._local is None:  # the deployer's `stepq` configured from the stack's outputs
            outputs = self.stack.outputs
            settings = Settings.from_env(
                {
                    "STEPQ_TABLE": outputs["TableName"],
                    "STEPQ_QUEUE_PREFIX": outputs["QueuePrefix"],
                    "STEPQ_BUCKET": outputs["BucketName"],
                    "STEPQ_ACCOUNT": self.stack.account_id,
                    "AWS_REGION": REGION,
                }
            )
            self._local = ApiHandler(build_context(settings))
        request = ApiRequest(
            method="POST",
            path="/",
            headers={
                "content-type": "application/x-amz-json-1.0",
                "x-amz-target": STEPFUNCTIONS_TARGET + operation,
            },
            body=json.dumps(payload).encode(),
        )
        response = self._local.handle(request)
        return response.status, json.loads(response.body or b"null")

    def send_to_inbox(self, message: Any) -> None:
        body = message if isinstance(message, str) else json.dumps(message)
        self.stack.deployer_client("sqs").send_message(
            QueueUrl=self.stack.outputs["InboxQueueUrl"], MessageBody=body
        )

    def put_event(self, detail: dict[str, Any]) -> None:
        source = self.stack.parameter("InboxEventSource")
        entries = [{"Source": source, "DetailType": "stepq inbox", "Detail": json.dumps(detail)}]
        result = self.stack.deployer_client("events").put_events(Entries=entries)
        assert result["FailedEntryCount"] == 0, result

    def task_token(self, execution_arn: str) -> str:
        history = self.call("GetExecutionHistory", {"executionArn": execution_arn})
        for event in history["events"]:
            details = event.get("taskScheduledEventDetails")
            if details and details["resource"].endswith(".waitForTaskToken"):
                return str(json.loads(details["parameters"])["Payload"]["token"])
        raise AssertionError(f"{execution_arn} waits for no task token")


@dataclass
class ClaimRun:
    machine_arn: str = ""
    executions: dict[str, str] = field(default_factory=dict)  # claim -> execution ARN
    outcomes: dict[str, dict[str, Any]] = field(default_factory=dict)  # claim -> DescribeExecution
    dead_lettered: list[dict[str, Any]] = field(default_factory=list)  # InboxDLQ's messages
    statuses_before_wait: dict[str, str] = field(default_factory=dict)
    outputs: dict[str, Any] = field(default_factory=dict)  # the stack's


def run_claims(stack: OfflineStack) -> ClaimRun:
    run = ClaimRun(outputs=dict(stack.outputs))
    operator = Operator(stack)
    stack.tick()  # the schedule fires every minute, whether or not there is work
    created = operator.call(
        "CreateStateMachine",
        {
            "name": MACHINE,
            "definition": EXAMPLE.read_text(),
            "roleArn": f"arn:aws:iam::{stack.account_id}:role/insurance-claim",
        },
    )
    run.machine_arn = created["stateMachineArn"]
    claim = {"policy": "p-1", "amount": 800, "verdict": "silent"}  # a person answers, below
    start = {"stateMachineArn": run.machine_arn, "name": "claim-a", "input": json.dumps(claim)}
    if operator.through_api_function:
        run.executions["claim-a"] = operator.call("StartExecution", start)["executionArn"]
    else:
        operator.send_to_inbox({"action": "StartExecution", **start})
    operator.put_event(
        {
            "action": "StartExecution",
            "stateMachineName": MACHINE,
            "name": "claim-b",
            "input": {**claim, "policy": "p-2"},
        }
    )
    # Scanned documents too large for a table item or a queue message: claim-checked in S3.
    operator.send_to_inbox(
        {
            "action": "StartExecution",
            "stateMachineName": MACHINE,
            "name": "claim-c",
            "input": {**claim, "policy": "p-3", "documents": _scans(150 * 1024)},
        }
    )
    operator.send_to_inbox("this is not an inbox message")  # dead-lettered with its reason
    stack.drain()
    for name in ("claim-a", "claim-b", "claim-c"):
        run.executions.setdefault(
            name, f"{run.machine_arn.replace(':stateMachine:', ':execution:')}:{name}"
        )

    verdict = {"score": 0.97, "verifier": "a person"}
    operator.send_to_inbox(
        {
            "action": "SendTaskSuccess",
            "taskToken": operator.task_token(run.executions["claim-a"]),
            "output": verdict,
        }
    )
    operator.send_to_inbox(
        {
            "action": "SendTaskSuccess",
            "taskToken": operator.task_token(run.executions["claim-c"]),
            "output": verdict,
        }
    )
    token_b = operator.task_token(run.executions["claim-b"])
    if operator.through_api_function:
        operator.call("SendTaskSuccess", {"taskToken": token_b, "output": json.dumps(verdict)})
    else:
        operator.send_to_inbox(
            {"action": "SendTaskSuccess", "taskToken": token_b, "output": verdict}
        )
    stack.drain()
    stack.tick()
    stack.drain()
    for name, arn in run.executions.items():
        run.statuses_before_wait[name] = operator.call("DescribeExecution", {"executionArn": arn})[
            "status"
        ]

    stack.clock.advance(COOLING_OFF_S + 60)  # a day later: the scheduler's next run fires the Waits
    stack.tick()
    stack.drain()
    for name, arn in run.executions.items():
        run.outcomes[name] = operator.call("DescribeExecution", {"executionArn": arn})
    sqs = stack.deployer_client("sqs")
    run.dead_lettered = sqs.receive_message(
        QueueUrl=stack.outputs["InboxDLQUrl"],
        MaxNumberOfMessages=10,
        MessageAttributeNames=["All"],
    ).get("Messages", [])
    for message in run.dead_lettered:  # a look, not a take: the operator's tools see it next
        sqs.change_message_visibility(
            QueueUrl=stack.outputs["InboxDLQUrl"],
            ReceiptHandle=message["ReceiptHandle"],
            VisibilityTimeout=0,
        )
    return run


def _scans(size: int) -> str:
    """``size`` characters that do not compress (as scanned images would not)."""
    chunks, seed = [], b"scan"
    while sum(map(len, chunks)) < size:
        seed = hashlib.sha512(seed).digest()
        chunks.append(base64.b64encode(seed).decode())
    return "".join(chunks)[:size]

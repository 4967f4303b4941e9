"""After the claims: the ways an execution ends other than paid, and a race, on the same stack.

Four executions start through the API function (as in claim_run, the
operator's API), on three small machines defined here:

- ``retried``: a claim registered without its amount. The example's
  ``register_claim`` fails with ``KeyError``; its state's Retry tries once
  more an hour later (a durable timer the scheduler fires), it fails again,
  and the execution FAILS on the unhandled error.
- ``stopped``: StopExecution through the API function ABORTS it in its Wait.
- ``raced``: its Wait's timer fires, and SQS delivers that event twice, the
  way at-least-once delivery does when a message's visibility lease runs
  out while the first receiver still works on it: a second orchestrator
  instance gets it again (ApproximateReceiveCount 2) and commits first,
  between the first instance's read and its conditional write, which the
  table refuses. The first then reads again and finds nothing left to do.
- ``timed-out``: the machine's TimeoutSeconds (an hour) passes during its
  two-hour Wait; the scheduler fires the timeout timer and it TIMES OUT.

Each ends terminal, so the operator tools that run after it find nothing
stuck and nothing to reconcile.
"""

from __future__ import annotations

import dataclasses
import json
import threading
from dataclasses import dataclass, field
from typing import Any

from deploy.claim_run import Operator
from deploy.lambda_emulator import LambdaFunction, SqsEventSource
from deploy.offline_stack import OfflineStack

STEP = "arn:aws:lambda:us-east-1:111111111111:function:register_claim"  # the example's
RETRY_AFTER_S = 3600
RACED_WAIT_S = 1800
DEADLINE_S = 3600

MACHINES: dict[str, dict[str, Any]] = {
    "retried_claim": {
        "Comment": "register_claim without an amount: KeyError, retried once, then failed.",
        "StartAt": "Register",
        "States": {
            "Register": {
                "Type": "Task",
                "Resource": STEP,
                "Retry": [
                    {
                        "ErrorEquals": ["KeyError"],
                        "IntervalSeconds": RETRY_AFTER_S,
                        "MaxAttempts": 1,
                    }
                ],
                "End": True,
            }
        },
    },
    "hold": {
        "Comment": "Half an hour's Wait (a durable timer), then done.",
        "StartAt": "Hold",
        "States": {"Hold": {"Type": "Wait", "Seconds": RACED_WAIT_S, "End": True}},
    },
    "deadline": {
        "Comment": "A two-hour Wait in a machine that may run one hour.",
        "TimeoutSeconds": DEADLINE_S,
        "StartAt": "Hold",
        "States": {"Hold": {"Type": "Wait", "Seconds": 2 * DEADLINE_S, "End": True}},
    },
}
# execution name -> (machine, input)
EXECUTIONS = {
    "retried": ("retried_claim", {"policy": "p-9"}),
    "stopped": ("deadline", {}),
    "raced": ("hold", {}),
    "timed-out": ("deadline", {}),
}


@dataclass
class Race:
    """The duplicated delivery: what each orchestrator instance was given."""

    first: list[dict[str, Any]] = field(default_factory=list)  # SQS messages, as received
    second: list[dict[str, Any]] = field(default_factory=list)
    second_ran_inside_first: bool = False


@dataclass
class OutcomesRun:
    executions: dict[str, str] = field(default_factory=dict)  # name -> execution ARN
    outcomes: dict[str, dict[str, Any]] = field(default_factory=dict)  # name -> DescribeExecution
    race: Race = field(default_factory=Race)


def run_outcomes(stack: OfflineStack) -> OutcomesRun:
    run = OutcomesRun()
    operator = Operator(stack)
    for name, definition in MACHINES.items():
        created = operator.call(
            "CreateStateMachine",
            {
                "name": name,
                "definition": json.dumps(definition),
                "roleArn": f"arn:aws:iam::{stack.account_id}:role/{name}",
            },
        )
        for execution, (machine, input_) in EXECUTIONS.items():
            if machine == name:
                start = {
                    "stateMachineArn": created["stateMachineArn"],
                    "name": execution,
                    "input": json.dumps(input_),
                }
                run.executions[execution] = operator.call("StartExecution", start)["executionArn"]
    stack.drain()  # retried: the first attempt fails, its retry is an hour away

    operator.call("StopExecution", {"executionArn": run.executions["stopped"]})
    stack.drain()

    stack.clock.advance(RACED_WAIT_S + 60)
    stack.tick()  # raced's Wait ends: its event is on the events queue
    run.race = _deliver_twice_at_once(stack)
    stack.drain()

    stack.clock.advance(DEADLINE_S - RACED_WAIT_S)  # an hour after the starts
    stack.tick()  # the retry and the deadline are due
    stack.drain()
    for name, arn in run.executions.items():
        run.outcomes[name] = operator.call("DescribeExecution", {"executionArn": arn})
    return run


def _deliver_twice_at_once(stack: OfflineStack) -> Race:
    """The events queue's batch received, its lease run out, received again, and
    the two deliveries handled by two orchestrator instances at once: the second
    one's whole invocation happens between the first one's read and its commit."""
    source = _source_of(stack, "stepq-orchestrator")
    race = Race(first=source.receive())
    assert race.first, "the tick sent no event"
    # Its visibility timeout runs out before any delete: time passing, not a call of
    # the function's (so the harness's client, not the poller's).
    sqs = stack.deployer_client("sqs")
    for message in race.first:
        sqs.change_message_visibility(
            QueueUrl=source.queue_url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
        )
    race.second = source.receive()
    # Lambda scales out: the second delivery goes to a new instance (its own cold start).
    other = dataclasses.replace(source.function, stdout=[], invocations=0, _module=None)

    def second_delivery() -> None:
        # On a thread of its own (the first waits for it): an instance's own
        # thread-local state, such as the X-Ray Tracer's segment, stays its own.
        failed: list[BaseException] = []

        def deliver() -> None:
            try:
                source.deliver(race.second, other)
            except BaseException as exc:  # re-raised in the first instance's thread
                failed.append(exc)

        thread = threading.Thread(target=deliver, name="second orchestrator instance")
        thread.start()
        thread.join()
        if failed:
            raise failed[0]
        race.second_ran_inside_first = True

    stack.recorder.before_call(source.function.logical_id, "PutItem", second_delivery)
    source.deliver(race.first)
    stack.recorder.staged.clear()  # (had the first instance never written)
    # CloudWatch Logs files both instances' output under the one function.
    source.function.stdout += other.stdout
    source.function.invocations += other.invocations
    return race


def _source_of(stack: OfflineStack, service: str) -> SqsEventSource:
    function: LambdaFunction | None = stack.function_with_service(service)
    return next(s for s in stack.sources if s.function is function)

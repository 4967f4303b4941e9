"""Which AWS calls each function makes, recorded with botocore event hooks.

The handlers build their own clients from fresh ``boto3.session.Session``
objects (``stepq.backends.aws.settings``), so the hook goes in where every
client is born: ``botocore.session.Session.create_client`` is wrapped to
register a ``before-parameter-build`` handler on each new client. The
client is attributed to whoever is *acting* when it is created (a function's
logical id while its handler runs, the harness otherwise); invocations run
one at a time, as each of Lambda's execution environments does.
"""

from __future__ import annotations

import contextlib
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import botocore.session

HARNESS = "harness"  # the deployer, the operator and Lambda's own pollers


@dataclass
class Recorder:
    acting: str = HARNESS
    calls: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))  # who -> actions
    # who -> (action, resource ARN) for the services whose resources are modelled
    resources: dict[str, set[tuple[str, str]]] = field(default_factory=lambda: defaultdict(set))
    account: str = "123456789012"
    # (who, operation, callback): run once just before who's next such call is sent.
    staged: list[tuple[str, str, Callable[[], None]]] = field(default_factory=list)

    def before_call(self, who: str, operation: str, callback: Callable[[], None]) -> None:
        """Run ``callback`` once, just before ``who``'s next ``operation`` (``PutItem``)
        request goes out: what another writer does between its read and its write."""
        self.staged.append((who, operation, callback))

    @contextlib.contextmanager
    def acting_as(self, who: str) -> Iterator[None]:
        before, self.acting = self.acting, who
        try:
            yield
        finally:
            self.acting = before

    @contextlib.contextmanager
    def installed(self) -> Iterator[None]:
        original = botocore.session.Session.create_client
        recorder = self

        def create_client(session: Any, *args: Any, **kwargs: Any) -> Any:
            client = original(session, *args, **kwargs)
            owner = recorder.acting
            prefix = client.meta.service_model.signing_name
            region = client.meta.region_name

            def record(params: dict[str, Any], model: Any, **_: Any) -> None:
                actions = iam_actions(prefix, model.name, params)
                recorder.calls[owner].update(actions)
                arns = resource_arns(prefix, params, region, recorder.account)
                recorder.resources[owner].update((a, r) for a in actions for r in arns)
                for staged in list(recorder.staged):
                    if staged[:2] == (owner, model.name):
                        recorder.staged.remove(staged)
                        staged[2]()

            client.meta.events.register("before-parameter-build", record)
            return client

        botocore.session.Session.create_client = create_client  # type: ignore[method-assign]
        try:
            yield
        finally:
            botocore.session.Session.create_client = original  # type: ignore[method-assign]


# Operations whose IAM action is not "<prefix>:<operation>".
_RENAMED = {
    ("sqs", "SendMessageBatch"): ("sqs:SendMessage",),
    ("sqs", "DeleteMessageBatch"): ("sqs:DeleteMessage",),
    ("sqs", "ChangeMessageVisibilityBatch"): ("sqs:ChangeMessageVisibility",),
    ("s3", "HeadObject"): ("s3:GetObject",),
    ("s3", "HeadBucket"): ("s3:ListBucket",),
    ("s3", "ListObjectsV2"): ("s3:ListBucket",),
    ("s3", "ListObjects"): ("s3:ListBucket",),
    ("s3", "DeleteObjects"): ("s3:DeleteObject",),
    ("s3", "CopyObject"): ("s3:GetObject", "s3:PutObject"),
    ("dynamodb", "TransactGetItems"): ("dynamodb:GetItem",),
}
# TransactWriteItems is authorised per item: each needs its own action.
_TRANSACT_ITEM = {
    "Put": "dynamodb:PutItem",
    "Update": "dynamodb:UpdateItem",
    "Delete": "dynamodb:DeleteItem",
    "ConditionCheck": "dynamodb:ConditionCheckItem",
}


def iam_actions(prefix: str, operation: str, params: dict[str, Any]) -> set[str]:
    """The IAM actions one API call needs (``SendMessageBatch`` -> ``sqs:SendMessage``)."""
    if prefix == "dynamodb" and operation == "TransactWriteItems":
        return {
            _TRANSACT_ITEM[kind]
            for item in params.get("TransactItems", [])
            for kind in item
            if kind in _TRANSACT_ITEM
        }
    if prefix == "s3" and operation == "GetObject" and params.get("VersionId"):
        return {"s3:GetObjectVersion"}
    return set(_RENAMED.get((prefix, operation), (f"{prefix}:{operation}",)))


def resource_arns(prefix: str, params: dict[str, Any], region: str, account: str) -> set[str]:
    """The ARNs one call acts on (SQS, DynamoDB, S3, Lambda); empty for other services."""
    if prefix == "sqs":
        url = params.get("QueueUrl")
        if url:  # https://sqs.<region>.amazonaws.com/<account>/<name>
            owner, name = url.rstrip("/").rsplit("/", 2)[-2:]
        else:
            owner, name = params.get("QueueOwnerAWSAccountId", account), params.get("QueueName")
        return {f"arn:aws:sqs:{region}:{owner}:{name}"} if name else set()
    if prefix == "dynamodb":
        table = f"arn:aws:dynamodb:{region}:{account}:table/"
        arns = set()
        if "TableName" in params:
            index = params.get("IndexName")
            arns.add(table + params["TableName"] + (f"/index/{index}" if index else ""))
        for item in params.get("TransactItems", []):
            arns.update(table + body["TableName"] for body in item.values())
        arns.update(table + name for name in params.get("RequestItems", {}))
        return arns
    if prefix == "s3" and params.get("Bucket"):
        key = params.get("Key")
        return {f"arn:aws:s3:::{params['Bucket']}" + (f"/{key}" if key else "")}
    if prefix == "lambda" and params.get("FunctionName"):
        name = params["FunctionName"]
        return {
            name
            if name.startswith("arn:")
            else f"arn:aws:lambda:{region}:{account}:function:{name}"
        }
    return set()

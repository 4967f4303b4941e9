"""Activities: Create/Describe/Delete/ListActivities and GetActivityTask.

An activity is a catalog document (kind ``activity``, ``catalog.ActivityDoc``)
and a queue, ``messages.activity_queue(name)``, made when the activity is
created. A Task whose Resource is the activity's ARN is a callback task: the
outbox sends its task message (signed, as every task message) to that queue
instead of a worker's, and GetActivityTask hands its token and input to
whoever polls; SendTaskSuccess/Failure with the token finish it.

GetActivityTask long-polls for up to ``POLL_SECONDS`` (and ``ctx.receive_wait``)
in short receives, so a server thread is never held past that; a message that
does not verify, does not parse, or whose task has closed meanwhile (timed
out, execution stopped) is dropped and the poll goes on.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
import logging
from typing import Any

from stepq.api import arns as arn_rules
from stepq.api.callbacks import OpenTask, open_task
from stepq.api.catalog import ActivityDoc
from stepq.api.context import ApiContext
from stepq.api.protocol import ApiError, epoch
from stepq.api.registry import operation
from stepq.api.tags import check_tags, set_tags
from stepq.clock import SystemClock, monotonic
from stepq.core import events as ev
from stepq.errors import (
    AlreadyExistsError,
    MalformedMessageError,
    NotFoundError,
    QueueError,
    QueueNotFoundError,
)
from stepq.runtime.messages import EVENTS_QUEUE, activity_queue, event_message, parse_task
from stepq.runtime.ports import Received
from stepq.runtime.signing import keys_of, signed

log = logging.getLogger(__name__)

# Step Functions holds a poll up to 60 s; a little less keeps it under the 60 s
# read timeout botocore's clients have by default.
POLL_SECONDS = 55.0
DEFAULT_PAGE = 100
_SLEEP = SystemClock()  # real pauses between short receives, whatever the runtime's clock


# --- catalog ------------------------------------------------------------------


def _parse_activity(ctx: ApiContext, arn: object) -> str:
    """The activity name of an activity ARN of this deployment; InvalidArn else."""
    parsed = arn_rules.parse(arn, "activity")
    ctx.arns.own(parsed, str(arn))
    if len(parsed.parts) != 1:
        raise ApiError("InvalidArn", f"Invalid Arn: '{arn}'")
    return parsed.parts[0]


def _activity(ctx: ApiContext, arn: object) -> tuple[str, ActivityDoc]:
    name = _parse_activity(ctx, arn)
    doc = ctx.store.get_doc("activity", name)
    if doc is None:
        raise ApiError("ActivityDoesNotExist", f"Activity Does Not Exist: '{arn}'")
    return name, ActivityDoc.model_validate(doc.body)


def _ensure_queue(ctx: ApiContext, name: str) -> None:
    ensure = getattr(ctx.queues, "ensure", None)
    if ensure is not None:  # queues made elsewhere (a deployed stack) have no ensure
        # Tasks are deleted as they are handed out: no dead-letter queue needed.
        ensure(activity_queue(name), dlq=False, visibility_timeout=30)


@operation("CreateActivity")
def create_activity(ctx: ApiContext, params: dict[str, Any]) -> dict[str, Any]:
    name = params["name"]
    arn_rules.check_name(name, "an activity name")
    tags = check_tags(params.get("tags") or [])  # before anything is written
    encryption = params.get("encryptionConfiguration")
    arn = ctx.arns.activity(name)
    _ensure_queue(ctx, name)
    doc = ActivityDoc(creationDate=ctx.clock.now().isoformat())
    if encryption:
        doc.encryptionConfiguration = dict(encryption)
    try:
        ctx.store.put_doc("activity", name, doc.model_dump(), None)
    except AlreadyExistsError:
        # Idempotent on the name, as Step Functions is (its tags stay as they were).
        found = ctx.store.get_doc("activity", name)
        if found is None:  # deleted meanwhile: the caller may try again
            raise ApiError("ConflictException", f"activity {name!r} changed meanwhile") from None
        existing = ActivityDoc.model_validate(found.body)
        if encryption and dict(encryption) != existing.encryptionConfiguration:
            raise ApiError(
                "ActivityAlreadyExists",
                f"Activity already exists with another encryption configuration: '{arn}'",
            ) from None
        return {"activityArn": arn, "creationDate": epoch(existing.creationDate)}
    set_tags(ctx, arn, tags)  # exactly these: none left by a deleted namesake
    return {"activityArn": arn, "creationDate": epoch(doc.creationDate)}


@operation("DescribeActivity")
def describe_activity(ctx: ApiContext, params: dict[str, Any]) -> dict[str, Any]:
    arn = params["activityArn"]
    name, doc = _activity(ctx, arn)
    return {
        "activityArn": ctx.arns.activity(name),
        "name": name,
        "creationDate": epoch(doc.creationDate),
        "encryptionConfiguration": doc.encryptionConfiguration,
    }


@operation("DeleteActivity")
def delete_activity(ctx: ApiContext, params: dict[str, Any]) -> dict[str, Any]:
    arn = params["activityArn"]
    name = _parse_activity(ctx, arn)
    # Deleting what is not there succeeds, as in Step Functions. The queue stays:
    # tasks already scheduled on the activity are still handed out by its name.
    for kind, key in (("activity", name), ("tags", ctx.arns.activity(name))):
        with contextlib.suppress(NotFoundError):
            ctx.store.delete_doc(kind, key)
    return {}


def _page_token(name: str) -> str:
    return base64.urlsafe_b64encode(json.dumps({"after": name}).encode()).decode()


def _after(token: str) -> str:
    try:
        data = json.loads(base64.urlsafe_b64decode(token.encode()))
    except (ValueError, binascii.Error):
        data = None
    if not isinstance(data, dict) or not isinstance(data.get("after"), str):
        raise ApiError("InvalidToken", "Invalid Token: not a nextToken this operation returned")
    return data["after"]


@operation("ListActivities")
def list_activities(ctx: ApiContext, params: dict[str, Any]) -> dict[str, Any]:
    size = params.get("maxResults") or DEFAULT_PAGE
    after = _after(params["nextToken"]) if params.get("nextToken") else None
    docs = [d for d in ctx.store.list_docs("activity") if after is None or d.key > after]
    page = docs[:size]
    reply: dict[str, Any] = {
        "activities": [
            {
                "activityArn": ctx.arns.activity(d.key),
                "name": d.key,
                "creationDate": epoch(ActivityDoc.model_validate(d.body).creationDate),
            }
            for d in page
        ]
    }
    if len(docs) > size:
        reply["nextToken"] = _page_token(page[-1].key)
    return reply


# --- GetActivityTask ------------------------------------------------------------------


@operation("GetActivityTask")
def get_activity_task(ctx: ApiContext, params: dict[str, Any]) -> dict[str, Any]:
    """The token and input of a task waiting on the activity, or ``{}`` after the poll."""
    name, _ = _activity(ctx, params["activityArn"])
    queue = activity_queue(name)
    worker = params.get("workerName")
    deadline = monotonic() + min(POLL_SECONDS, ctx.receive_wait)
    doorbell = getattr(ctx.queues, "doorbell", None)  # in one process: woken by the send
    while True:
        if doorbell is not None:
            doorbell.answer(queue)
        # In one process, receive at once and wait on the doorbell; across
        # processes, SQS's own long poll (whole seconds, at most 20).
        wait = 0 if doorbell is not None else int(max(0.0, min(deadline - monotonic(), 20)))
        for received in _receive(ctx, name, wait):
            task = _hand_out(ctx, queue, received, worker)
            if task is not None:
                log.info("activity task handed out", extra={"activity": name, "worker": worker})
                return task
        left = deadline - monotonic()
        if left <= 0:
            return {}
        if doorbell is not None:
            doorbell.wait([queue], min(left, 1.0))
        elif wait == 0:  # a backend that does not block (memory stand-ins)
            _SLEEP.sleep(min(left, 0.1))


def _taken(ctx: ApiContext, task: OpenTask, token: str, worker: str | None) -> None:
    """Tell the execution a worker took its task (its history's ActivityStarted)."""
    arn, task_id = task.execution_arn, task.task_id
    event = ev.ActivityTaken(task_id, ctx.clock.now(), token, worker)
    try:
        signed(ctx.queues, ctx.store).send(
            EVENTS_QUEUE, [event_message(arn, event, f"taken|{arn}|{task_id}")]
        )
    except QueueError as exc:  # the task is the worker's anyway; its answer records the start
        log.warning("could not record that an activity task was taken: %s", exc)
    ctx.wake()


def _receive(ctx: ApiContext, name: str, wait: int) -> list[Received]:
    try:
        return ctx.queues.receive(activity_queue(name), 1, wait)
    except QueueNotFoundError:  # an activity made before activities had queues
        _ensure_queue(ctx, name)
        return []


def _hand_out(
    ctx: ApiContext, queue: str, received: Received, worker: str | None
) -> dict[str, Any] | None:
    """The task's token and input, once taken off the queue; None if it is not one to give."""
    ctx.queues.delete(queue, [received.receipt])
    if not keys_of(ctx.queues, ctx.store).authentic(queue, received):
        log.warning("dropped an activity task that does not verify", extra={"queue": queue})
        return None
    try:
        task = parse_task(received.body)
    except MalformedMessageError as exc:
        log.warning("dropped a malformed activity task: %s", exc, extra={"queue": queue})
        return None
    token = task.command.token
    if token is None:
        return None
    try:
        task_open = open_task(ctx, token)
    except ApiError:  # closed while it waited (timed out, stopped): nobody waits for it
        return None
    _taken(ctx, task_open, token, worker)
    text = json.dumps(task.command.input, separators=(",", ":"), ensure_ascii=False)
    return {"taskToken": token, "input": text}

"""The inbox's operations: people create requests and act on human tasks.

``X-Amz-Target: Stepq.<Name>``, each acting as the caller (``api/identity.py``;
none: AccessDeniedException). docs/PEOPLE.md's "Requests and tasks" table:

- ``CreateRequest``     {stateMachineArn, name?, input?, stakeholders?} -> {executionArn, startDate}
- ``DescribeRequest``   {executionArn} -> {executionArn, requester, stakeholders, notes, ...}
- ``ListMyTasks``       {status?: OPEN|ALL, maxResults?, nextToken?} -> {tasks, nextToken?}
- ``ListRequestTasks``  {executionArn} -> {tasks}
- ``DescribeTask``      {taskId} -> TaskDetail
- ``ActOnTask``         {taskId, action, comment?, onBehalfOf?} -> {status, transition?}
- ``ClaimTask``, ``UnclaimTask`` {taskId}; ``DelegateTask`` {taskId, to, onBehalfOf?};
  ``ReassignTask`` {taskId, to} -> TaskSummary
- ``AddNote``           {executionArn, text, taskId?} -> {noteId}
- ``AttachFile``        {executionArn, name, contentType, size?} -> {attachmentId, uploadUrl, expires, headers?}
- ``ConfirmAttachment`` {executionArn, attachmentId} -> the attachment (after the upload)
- ``GetAttachment``     {executionArn, attachmentId} -> {downloadUrl, expires, ...}

A refusal of the rules is AccessDeniedException (403), recorded as refused;
an unknown task is ResourceNotFound. No response carries a task token.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, Literal, TypeVar

from pydantic import Field, StringConstraints

from stepq.api import catalog, executions, paging
from stepq.api.context import ApiContext
from stepq.api.identity import Identity, required
from stepq.api.protocol import ApiError, epoch
from stepq.api.registry import operation
from stepq.api.stepq_requests import StepqRequest, parse_request
from stepq.errors import (
    ActionRefusedError,
    ExecutionAlreadyExistsError,
    HumanTaskNotFoundError,
    NotFoundError,
)
from stepq.runtime.people.attachments import Attachments
from stepq.runtime.people.service import PeopleService

T = TypeVar("T")
Person = Annotated[str, StringConstraints(min_length=1, max_length=128)]
TaskId = Annotated[str, StringConstraints(min_length=1, max_length=80)]


class CreateRequestRequest(StepqRequest):
    stateMachineArn: str
    name: str | None = None
    input: str | None = None
    stakeholders: Annotated[list[Person], Field(max_length=100)] = []


class ExecutionRequest(StepqRequest):
    executionArn: str


class ListMyTasksRequest(StepqRequest):
    status: Literal["OPEN", "ALL"] = "OPEN"
    maxResults: int | None = None
    nextToken: str | None = None


class TaskRequest(StepqRequest):
    taskId: TaskId


class ActRequest(TaskRequest):
    action: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    comment: Annotated[str, StringConstraints(max_length=4000)] | None = None
    onBehalfOf: Person | None = None


class DelegateRequest(TaskRequest):
    to: Person
    onBehalfOf: Person | None = None


class ReassignRequest(TaskRequest):
    to: Person


class NoteRequest(StepqRequest):
    executionArn: str
    text: Annotated[str, StringConstraints(min_length=1, max_length=4000)]
    taskId: TaskId | None = None


def people_service(ctx: ApiContext) -> PeopleService:
    """The inbox over this API's table and (signed) queues."""
    return PeopleService(ctx.store, ctx.queues, ctx.clock)


def _answer(ctx: ApiContext, call: Callable[[], T]) -> T:
    """Run a service call; its errors as the API's."""
    try:
        result = call()
    except ActionRefusedError as exc:
        raise ApiError("AccessDeniedException", exc.reason, 403) from None
    except HumanTaskNotFoundError as exc:
        raise ApiError("ResourceNotFound", str(exc)) from None
    except ValueError as exc:  # a person's id that is not one (check_person)
        raise ApiError("ValidationException", str(exc)) from None
    ctx.wake()  # a completion was sent: the embedded runtime's pumps look now
    return result


def _execution(ctx: ApiContext, arn: str) -> str:
    executions.load_execution(ctx, arn)  # InvalidArn, ExecutionDoesNotExist
    return arn


@operation("CreateRequest", stepq=True, identity=True)
def create_request(
    ctx: ApiContext, params: dict[str, Any], identity: Identity | None
) -> dict[str, Any]:
    caller = required(identity)
    request = parse_request(CreateRequestRequest, params)
    start_params = request.model_dump(exclude_none=True, exclude={"stakeholders"})
    start_params["name"] = executions.execution_name(start_params)
    executions.parse_input(start_params)  # a bad input refused before anything is written
    target = catalog.resolve(ctx, request.stateMachineArn)
    arn = ctx.arns.execution(target.name, start_params["name"])
    try:
        arn, started = _answer(
            ctx,
            lambda: people_service(ctx).create_request(
                caller.id, arn, request.stakeholders, lambda: executions.start(ctx, start_params)
            ),
        )
    except ExecutionAlreadyExistsError:
        raise ApiError("ExecutionAlreadyExists", f"Execution Already Exists: '{arn}'") from None
    return {"executionArn": arn, "startDate": epoch(started)}


@operation("DescribeRequest", stepq=True, identity=True)
def describe_request(
    ctx: ApiContext, params: dict[str, Any], identity: Identity | None
) -> dict[str, Any]:
    caller = required(identity)
    arn = _execution(ctx, parse_request(ExecutionRequest, params).executionArn)
    return _answer(ctx, lambda: people_service(ctx).describe_request(arn, caller.id))


@operation("ListMyTasks", stepq=True, identity=True)
def list_my_tasks(
    ctx: ApiContext, params: dict[str, Any], identity: Identity | None
) -> dict[str, Any]:
    caller = required(identity)
    request = parse_request(ListMyTasksRequest, params)
    size = paging.page_size(request.maxResults)
    query = paging.fingerprint("ListMyTasks", caller.id, request.status)
    position = paging.read_token(request.nextToken, query)
    tasks = _answer(ctx, lambda: people_service(ctx).my_tasks(caller.id, request.status))
    start = int(position.get("i", 0)) if position else 0
    page = tasks[start : start + size]
    result: dict[str, Any] = {"tasks": page}
    if start + size < len(tasks):
        result["nextToken"] = paging.make_token(query, {"i": start + size})
    return result


Body = Callable[[PeopleService, str, Any], Any]


def _inbox_operation(name: str, model: type[StepqRequest]) -> Callable[[Body], Any]:
    """Register ``body(service, caller, request)`` as ``Stepq.<name>``: the request
    parsed as ``model``, the caller required, the service's errors as the API's."""

    def register(body: Body) -> Any:
        def handle(ctx: ApiContext, params: dict[str, Any], identity: Identity | None) -> Any:
            caller = required(identity)
            request = parse_request(model, params)
            return _answer(ctx, lambda: body(people_service(ctx), caller.id, request))

        handle.__name__, handle.__doc__ = body.__name__, body.__doc__
        return operation(name, stepq=True, identity=True)(handle)

    return register


@operation("ListRequestTasks", stepq=True, identity=True)
def list_request_tasks(
    ctx: ApiContext, params: dict[str, Any], identity: Identity | None
) -> dict[str, Any]:
    caller = required(identity)
    arn = _execution(ctx, parse_request(ExecutionRequest, params).executionArn)
    return {"tasks": _answer(ctx, lambda: people_service(ctx).request_tasks(arn, caller.id))}


@_inbox_operation("DescribeTask", TaskRequest)
def describe_task(service: PeopleService, caller: str, r: TaskRequest) -> dict[str, Any]:
    return service.describe_task(r.taskId, caller)


@_inbox_operation("ActOnTask", ActRequest)
def act_on_task(service: PeopleService, caller: str, r: ActRequest) -> dict[str, Any]:
    return service.act(caller, r.taskId, r.action, r.comment, r.onBehalfOf)


@_inbox_operation("ClaimTask", TaskRequest)
def claim_task(service: PeopleService, caller: str, r: TaskRequest) -> dict[str, Any]:
    return service.claim(caller, r.taskId)


@_inbox_operation("UnclaimTask", TaskRequest)
def unclaim_task(service: PeopleService, caller: str, r: TaskRequest) -> dict[str, Any]:
    return service.unclaim(caller, r.taskId)


@_inbox_operation("DelegateTask", DelegateRequest)
def delegate_task(service: PeopleService, caller: str, r: DelegateRequest) -> dict[str, Any]:
    return service.delegate(caller, r.taskId, r.to, r.onBehalfOf)


@_inbox_operation("ReassignTask", ReassignRequest)
def reassign_task(service: PeopleService, caller: str, r: ReassignRequest) -> dict[str, Any]:
    return service.reassign(caller, r.taskId, r.to)


@operation("AddNote", stepq=True, identity=True)
def add_note(ctx: ApiContext, params: dict[str, Any], identity: Identity | None) -> dict[str, Any]:
    caller = required(identity)
    r = parse_request(NoteRequest, params)
    arn = _execution(ctx, r.executionArn)
    note_id = _on_request(
        ctx, arn, lambda: people_service(ctx).add_note(caller.id, arn, r.text, r.taskId)
    )
    return {"noteId": note_id}


class AttachRequest(StepqRequest):
    executionArn: str
    name: Annotated[str, StringConstraints(min_length=1, max_length=255)]
    contentType: Annotated[
        str, StringConstraints(min_length=1, max_length=255, pattern=r"^[\w.+-]+/[\w.+-]+$")
    ]
    size: Annotated[int, Field(ge=0)] | None = None


class AttachmentRequest(StepqRequest):
    executionArn: str
    attachmentId: Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{32}$")]


def _attachments(ctx: ApiContext) -> Attachments:
    if ctx.attachments is None:
        raise ApiError("ValidationException", "attachments are not available on this API")
    return Attachments(people_service(ctx), ctx.attachments)


def _on_request(ctx: ApiContext, arn: str, call: Callable[[], T]) -> T:
    try:
        return _answer(ctx, call)
    except NotFoundError:
        raise ApiError("ExecutionDoesNotExist", f"Execution Does Not Exist: '{arn}'") from None


FileBody = Callable[[Attachments, str, str, Any], Any]


def _attachment_operation(name: str, model: type[StepqRequest]) -> Callable[[FileBody], Any]:
    """Register ``body(files, caller, executionArn, request)`` as ``Stepq.<name>``."""

    def register(body: FileBody) -> Any:
        def handle(ctx: ApiContext, params: dict[str, Any], identity: Identity | None) -> Any:
            caller = required(identity)
            request = parse_request(model, params)
            arn = _execution(ctx, request.executionArn)  # type: ignore[attr-defined]
            files = _attachments(ctx)
            return _on_request(ctx, arn, lambda: body(files, caller.id, arn, request))

        handle.__name__, handle.__doc__ = body.__name__, body.__doc__
        return operation(name, stepq=True, identity=True)(handle)

    return register


@_attachment_operation("AttachFile", AttachRequest)
def attach_file(files: Attachments, caller: str, arn: str, r: AttachRequest) -> dict[str, Any]:
    """A PENDING attachment and where to PUT its bytes (docs/PEOPLE.md "Attachments")."""
    return files.attach(caller, arn, r.name, r.contentType, r.size)


@_attachment_operation("ConfirmAttachment", AttachmentRequest)
def confirm_attachment(
    files: Attachments, caller: str, arn: str, r: AttachmentRequest
) -> dict[str, Any]:
    return files.confirm(caller, arn, r.attachmentId)


@_attachment_operation("GetAttachment", AttachmentRequest)
def get_attachment(
    files: Attachments, caller: str, arn: str, r: AttachmentRequest
) -> dict[str, Any]:
    return files.download(caller, arn, r.attachmentId)

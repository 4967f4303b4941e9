"""Files attached to a request (docs/PEOPLE.md "Attachments").

The bytes never pass through the API (API Gateway caps a body at 10 MB):
``attach`` records a PENDING attachment in the request document and answers
a short-lived upload URL on the blob store (a presigned S3 PUT in AWS, a
signed URL on the dev server locally); the client PUTs the bytes there;
``confirm`` checks the object is in the blob store and marks it ATTACHED
(and writes the audit line ``FileAttached``). A crash anywhere leaves at
worst a PENDING record (never shown) or an unconfirmed object: confirming
again finishes it. Only a participant of the request may attach or download.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from stepq.errors import (
    ActionRefusedError,
    AlreadyExistsError,
    ConflictError,
    HumanTaskNotFoundError,
)
from stepq.runtime.people.documents import REQUEST, RequestDoc, load_request, tasks_of

if TYPE_CHECKING:  # the service imports this module (its views list attachments)
    from stepq.runtime.people.service import PeopleService

PENDING, ATTACHED = "PENDING", "ATTACHED"
DEFAULT_EXPIRES_S = 15 * 60  # a URL is a bearer capability: keep it short
MAX_ATTACHMENTS = 200
RETRIES = 50  # lost conditional writes in a row before the caller is told to retry


class AttachmentUrls(Protocol):
    """Where attachment bytes go: a blob store that hands out signed URLs."""

    def upload_url(self, key: str, content_type: str, expires_s: int) -> tuple[str, dict[str, str]]:
        """A URL to PUT ``key``'s bytes to, and the headers the PUT must carry."""
        ...

    def download_url(self, key: str, expires_s: int) -> str: ...

    def size(self, key: str) -> int | None:
        """The stored object's size (None: not uploaded)."""
        ...


def attachment_key(execution_arn: str, attachment_id: str) -> str:
    """``attachments/<execution id>/<attachment id>``; the execution id is the ARN's
    last two parts (machine:name), with ':' kept (valid in an S3 key)."""
    execution_id = ":".join(execution_arn.split(":")[-2:])
    return f"attachments/{execution_id}/{attachment_id}"


class Attachments:
    """Attach, confirm and download files of a request, as a participant."""

    def __init__(self, people: PeopleService, urls: AttachmentUrls) -> None:
        self.people = people  # the store, its participant check and its audit trail
        self.urls = urls

    def attach(
        self,
        person: str,
        execution_arn: str,
        name: str,
        content_type: str,
        size: int | None = None,
        expires_s: int = DEFAULT_EXPIRES_S,
    ) -> dict[str, Any]:
        attachment_id = uuid.uuid4().hex
        record: dict[str, Any] = {
            "attachmentId": attachment_id,
            "name": name,
            "contentType": content_type,
            "by": person,
            "at": self.people._now(),
            "status": PENDING,
        }
        if size is not None:
            record["size"] = size

        def add(attachments: list[dict[str, Any]]) -> list[dict[str, Any]]:
            if len(attachments) >= MAX_ATTACHMENTS:
                raise ActionRefusedError(f"a request holds at most {MAX_ATTACHMENTS} attachments")
            return [*attachments, record]

        self._change(person, execution_arn, "AttachFile", add)
        key = attachment_key(execution_arn, attachment_id)
        url, headers = self.urls.upload_url(key, content_type, expires_s)
        expires = self.people.clock.now().timestamp() + expires_s
        answer: dict[str, Any] = {"attachmentId": attachment_id, "uploadUrl": url}
        answer["expires"] = expires
        if headers:
            answer["headers"] = headers
        return answer

    def confirm(self, person: str, execution_arn: str, attachment_id: str) -> dict[str, Any]:
        """Mark an uploaded attachment ATTACHED (again: the same answer)."""
        request, _ = load_request(self.people.store, execution_arn)
        self._check(person, execution_arn, request)  # before the blob store is asked
        _find(request.attachments, attachment_id)
        size = self.urls.size(attachment_key(execution_arn, attachment_id))
        if size is None:
            raise ActionRefusedError(f"attachment {attachment_id} has not been uploaded")
        done: dict[str, Any] = {}

        def mark(attachments: list[dict[str, Any]]) -> list[dict[str, Any]]:
            found = _find(attachments, attachment_id)
            done["before"] = found["status"]
            changed = found | {"status": ATTACHED, "size": size}
            done["record"] = changed
            return [changed if a is found else a for a in attachments]

        self._change(person, execution_arn, "ConfirmAttachment", mark)
        record = done["record"]
        detail = {"attachmentId": attachment_id, "name": record["name"], "size": size}
        # Keyed by the id: a confirm retried after a crash is one line.
        self.people._audit(execution_arn, person, "FileAttached", None, detail, attachment_id)
        return _shown(record)

    def download(
        self,
        person: str,
        execution_arn: str,
        attachment_id: str,
        expires_s: int = DEFAULT_EXPIRES_S,
    ) -> dict[str, Any]:
        request, _ = load_request(self.people.store, execution_arn)
        self._check(person, execution_arn, request)
        found = _find(request.attachments, attachment_id)
        if found["status"] != ATTACHED:
            raise HumanTaskNotFoundError(f"attachment {attachment_id} is not attached yet")
        url = self.urls.download_url(attachment_key(execution_arn, attachment_id), expires_s)
        expires = self.people.clock.now().timestamp() + expires_s
        return {"downloadUrl": url, "expires": expires, **_shown(found)}

    def _check(self, person: str, execution_arn: str, request: RequestDoc) -> None:
        loaded = [self.people._decided(t) for t in tasks_of(self.people.store, execution_arn)]
        if not self.people._involved_in_request(person, request, loaded):
            raise ActionRefusedError(f"{person} takes no part in {execution_arn}")

    def _change(
        self,
        person: str,
        execution_arn: str,
        what: str,
        change: Callable[[list[dict[str, Any]]], list[dict[str, Any]]],
    ) -> None:
        """``change`` the request's attachments with one conditional write (retried)."""
        self.people.store.get_execution(execution_arn)  # NotFoundError: no such request
        for _ in range(RETRIES):
            request, rev = load_request(self.people.store, execution_arn)
            try:
                self._check(person, execution_arn, request)
            except ActionRefusedError as refused:
                detail = {"reason": str(refused)}
                self.people._audit(execution_arn, person, f"refused {what}", None, detail)
                raise
            request.attachments = change(list(request.attachments))
            try:
                self.people.store.put_doc(REQUEST, execution_arn, request.body(), rev)
            except (ConflictError, AlreadyExistsError):
                continue
            return
        raise ConflictError(f"the request {execution_arn} kept changing; try again")


def _find(attachments: list[dict[str, Any]], attachment_id: str) -> dict[str, Any]:
    for a in attachments:
        if a.get("attachmentId") == attachment_id:
            return a
    raise HumanTaskNotFoundError(f"no attachment {attachment_id!r}")


def _shown(record: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in record.items() if k != "status"}


def shown(attachments: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The attachments a view lists: the ATTACHED ones (PENDING: not uploaded yet)."""
    return [_shown(a) for a in attachments if a.get("status", ATTACHED) == ATTACHED]

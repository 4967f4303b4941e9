"""Service integrations run as the state machine's role (``roleArn``), as in Step Functions.

Step Functions calls SQS, SNS and the AWS SDK integrations with credentials of
the machine's execution role, not its own; stepq's worker does the same, so
its own IAM policy needs only ``sts:AssumeRole`` on the roles it may take
(template.yaml: ``IntegrationRolePattern``) and each machine's role holds
exactly what that machine's tasks call.

- ``execution_of(context)``: which execution a task belongs to (the worker's
  ``context.extra["execution_arn"]``, else the head of its idempotency key,
  which the core builds as ``<execution ARN>:<frame>:...``).
- ``default_role(execution)``: ``arn:aws:iam::ACCOUNT:role/stepq-MACHINE``,
  the role ``$$.Execution.RoleArn`` names and ``stepq create`` defaults to.
- ``CatalogRoles(store)``: the ``roleArn`` of the machine revision the
  execution started on (the API's ``revision`` documents), else the machine's,
  else ``default_role``; kept per execution.
- ``RoleSessions``: STS AssumeRole per (role, session name), the credentials
  kept until ``refresh_before`` ahead of their expiry. The session name is
  derived from the execution (``scope="execution"``: CloudTrail shows which
  execution made each call, one AssumeRole per execution that calls a
  service) or from the machine (``scope="machine"``: one per role per hour,
  for high rates: STS throttles around a few hundred calls a second).
"""

from __future__ import annotations

import hashlib
import re
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from stepq.clock import Clock, SystemClock
from stepq.errors import NotFoundError, StepqError
from stepq.runtime.ports import Store

__all__ = [
    "AssumeRoleError",
    "CatalogRoles",
    "RoleCredentials",
    "RoleSessions",
    "default_role",
    "execution_of",
    "session_name",
]

# arn:PARTITION:states:REGION:ACCOUNT:execution:MACHINE[/map run]:NAME (no ':' in names)
_EXECUTION = re.compile(
    r"^arn:(?P<partition>[^:]+):states:[^:]*:(?P<account>\d*):(?:execution|express):"
    r"(?P<machine>[^:/]+)(?:/[^:]*)?:(?P<name>[^:]+)"
)
_SESSION_CHARACTERS = re.compile(r"[^\w+=,.@-]")  # what RoleSessionName allows
_SESSION_MAX = 64
SCOPES = ("execution", "machine")


class AssumeRoleError(StepqError):
    """STS refused the role or did not answer; the message names the role, never secrets."""


def execution_of(context: Any) -> str | None:
    """The ARN of the execution a task's ``StepContext`` belongs to (None if unknown)."""
    extra = getattr(context, "extra", None) or {}
    if extra.get("execution_arn"):
        return str(extra["execution_arn"])
    match = _EXECUTION.match(str(getattr(context, "idempotency_key", "") or ""))
    return match.group(0) if match else None


def _parts(execution_arn: str) -> re.Match[str]:
    match = _EXECUTION.match(execution_arn)
    if match is None:
        raise ValueError(f"not an execution ARN: {execution_arn!r}")
    return match


def default_role(execution_arn: str) -> str:
    """``arn:aws:iam::ACCOUNT:role/stepq-MACHINE`` for an execution of MACHINE."""
    parts = _parts(execution_arn)
    return f"arn:{parts['partition']}:iam::{parts['account']}:role/stepq-{parts['machine']}"


def session_name(execution_arn: str, scope: str = "execution") -> str:
    """A RoleSessionName (2-64 of ``[\\w+=,.@-]``) for the execution, or for its machine."""
    parts = _parts(execution_arn)
    if scope == "machine":
        wanted = f"stepq-{parts['machine']}"
    else:
        wanted = f"{parts['machine']}.{parts['name']}"
    clean = _SESSION_CHARACTERS.sub("-", wanted)
    if len(clean) <= _SESSION_MAX:
        return clean
    # Too long: a prefix and a digest of the whole, so two long names stay apart.
    digest = hashlib.sha256(wanted.encode()).hexdigest()[:10]
    return f"{clean[: _SESSION_MAX - len(digest) - 1]}-{digest}"


class CatalogRoles:
    """execution ARN -> the role of the machine revision it runs on (the API's catalog)."""

    def __init__(self, store: Store, *, keep: int = 4096) -> None:
        self._store = store
        self._keep = keep
        self._known: OrderedDict[str, str] = OrderedDict()
        self._lock = threading.Lock()

    def __call__(self, execution_arn: str) -> str:
        with self._lock:
            if execution_arn in self._known:
                self._known.move_to_end(execution_arn)
                return self._known[execution_arn]
        role = self._look_up(execution_arn)
        with self._lock:
            self._known[execution_arn] = role
            while len(self._known) > self._keep:
                self._known.popitem(last=False)
        return role

    def _look_up(self, execution_arn: str) -> str:
        try:
            header = self._store.get_execution(execution_arn)
        except NotFoundError:  # not started through the store (a child of a map run)
            return default_role(execution_arn)
        for kind, key in (
            ("revision", f"{header.machine}:{header.machine_version}"),
            ("machine", header.machine),
        ):
            doc = self._store.get_doc(kind, key)
            role = (doc.body.get("roleArn") if doc is not None else None) or ""
            if role:
                return str(role)
        return default_role(execution_arn)


@dataclass(frozen=True, slots=True)
class RoleCredentials:
    access_key: str
    secret_key: str = field(default="", repr=False)  # never in a log line
    token: str = field(default="", repr=False)
    expires: datetime | None = None


class RoleSessions:
    """AssumeRole with a cache: one STS call per (role, session) until near expiry."""

    def __init__(
        self,
        sts: Callable[[], Any],
        *,
        clock: Clock | None = None,
        duration_seconds: int = 3600,
        refresh_before: timedelta = timedelta(minutes=5),
        keep: int = 1024,
    ) -> None:
        """``sts``: makes the STS client (called once, on first use)."""
        self._make_sts = sts
        self._sts: Any = None
        self._clock = clock or SystemClock()
        self._duration = duration_seconds
        self._refresh_before = refresh_before
        self._keep = keep
        self._cached: OrderedDict[tuple[str, str], RoleCredentials] = OrderedDict()
        self._locks: dict[tuple[str, str], threading.Lock] = {}
        self._lock = threading.Lock()

    def credentials(self, role_arn: str, session: str) -> RoleCredentials:
        key = (role_arn, session)
        fresh = self._fresh(key)
        if fresh is not None:
            return fresh
        with self._lock:
            lock = self._locks.setdefault(key, threading.Lock())
        with lock:  # one AssumeRole per key at a time; the others wait for its answer
            fresh = self._fresh(key)
            if fresh is None:
                fresh = self._assume(role_arn, session)
                with self._lock:
                    self._cached[key] = fresh
                    while len(self._cached) > self._keep:
                        old, _ = self._cached.popitem(last=False)
                        self._locks.pop(old, None)
            return fresh

    def _fresh(self, key: tuple[str, str]) -> RoleCredentials | None:
        with self._lock:
            found = self._cached.get(key)
            if found is None:
                return None
            self._cached.move_to_end(key)
        if found.expires is not None and found.expires - self._refresh_before <= self._clock.now():
            return None
        return found

    def _assume(self, role_arn: str, session: str) -> RoleCredentials:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            if self._sts is None:
                self._sts = self._make_sts()
            reply = self._sts.assume_role(
                RoleArn=role_arn, RoleSessionName=session, DurationSeconds=self._duration
            )
        except ClientError as exc:
            error = exc.response.get("Error", {})
            reason = f"{error.get('Code') or 'Error'}: {error.get('Message') or ''}".rstrip(": ")
            raise AssumeRoleError(self._refusal(role_arn, session, reason)) from None
        except BotoCoreError as exc:
            raise AssumeRoleError(self._refusal(role_arn, session, str(exc))) from None
        found = reply["Credentials"]
        return RoleCredentials(
            access_key=found["AccessKeyId"],
            secret_key=found["SecretAccessKey"],
            token=found.get("SessionToken") or "",
            expires=found.get("Expiration"),
        )

    @staticmethod
    def _refusal(role_arn: str, session: str, reason: str) -> str:
        return (
            f"stepq could not assume the state machine's role {role_arn} "
            f"(session {session}) to call the service: {' '.join(reason.split())}"
        )

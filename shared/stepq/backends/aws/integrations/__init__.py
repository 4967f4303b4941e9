"""Service integrations: the Task resources a worker runs through AWS services.

``AwsIntegrations`` is what the worker is given (``Worker(integrations=...)``)
to run a Task whose resource is an ``arn:aws:states:::`` integration other
than ``lambda:invoke``: ``sqs:sendMessage`` and ``sns:publish`` (optimised,
see ``optimised``) and ``aws-sdk:<service>:<action>`` (see ``sdk``), each
also as ``.waitForTaskToken``: then the token is wherever the definition's
Parameters put it (``$$.Task.Token``) and the call's result is only an
acknowledgement (the core waits for the callback).

Services are reached as boto3 reaches them: region from the environment,
endpoints from boto3's standard settings (``AWS_ENDPOINT_URL``,
``AWS_ENDPOINT_URL_SQS``, ...) unless ``endpoint_url`` is given (``stepq
dev`` points it at its own moto server). These clients are the user's, not
stepq's: stepq's own table and queues are never reached through them.

Credentials: with ``assume_roles`` on, each call is made as the state
machine's role (``roles.py``): STS AssumeRole of ``roles(execution ARN)``
(default ``arn:aws:iam::ACCOUNT:role/stepq-MACHINE``; ``CatalogRoles(store)``
reads the ``roleArn`` the machine was created with), cached per role and
session until near expiry; a role that cannot be assumed fails the task with
``States.TaskFailed`` and a cause naming the role. Off, boto3's own chain
(the worker's). ``assume_roles=None`` reads ``STEPQ_ASSUME_ROLE`` (``1``/``0``),
and without it is on in Lambda (``AWS_LAMBDA_FUNCTION_NAME`` set) and off
elsewhere (``stepq dev``, the embedded runtime, ``stepq worker``).
``STEPQ_ROLE_SESSION`` (``execution``, the default, or ``machine``) picks the
session names (see ``roles.py``).
"""

from __future__ import annotations

import functools
import os
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping
from typing import Any

from stepq.clock import Clock
from stepq.core.definition.resources import WAIT_FOR_TOKEN, optimised_name
from stepq.runtime.steps import Outcome

from . import optimised, sdk
from .roles import (
    SCOPES,
    AssumeRoleError,
    CatalogRoles,
    RoleCredentials,
    RoleSessions,
    default_role,
    execution_of,
    session_name,
)

__all__ = ["AwsIntegrations", "CatalogRoles", "assume_roles_setting"]

_AWS_SDK = ":states:::aws-sdk:"
_ON = {"1", "true", "yes", "on"}
_ROLE_CLIENTS = 256  # clients of role sessions kept (each a few hundred KB)
_OFF = {"0", "false", "no", "off", ""}
ROLE_FAILURE = "States.TaskFailed"


def assume_roles_setting(environ: Mapping[str, str] | None = None) -> bool:
    """``STEPQ_ASSUME_ROLE`` if set (1/0), else on in Lambda and off elsewhere."""
    env = os.environ if environ is None else environ
    value = env.get("STEPQ_ASSUME_ROLE")
    if value is None:
        return bool(env.get("AWS_LAMBDA_FUNCTION_NAME"))
    if value.strip().lower() in _ON:
        return True
    if value.strip().lower() in _OFF:
        return False
    raise ValueError(f"STEPQ_ASSUME_ROLE must be 1 or 0, not {value!r}")


class AwsIntegrations:
    """Runs a service integration: ``integrations(resource, parameters, context) -> Outcome``."""

    def __init__(
        self,
        *,
        endpoint_url: str | None = None,
        region: str | None = None,
        session: Any = None,
        environ: Mapping[str, str] | None = None,
        config: Any = None,
        assume_roles: bool | None = None,
        roles: Callable[[str], str] | None = None,
        role_session: str | None = None,
        clock: Clock | None = None,
    ) -> None:
        """``config``: a botocore ``Config`` for every client (default: 3 attempts).
        ``assume_roles``: call as the machine's role (None: ``assume_roles_setting``).
        ``roles``: execution ARN -> role ARN (default ``default_role``; the worker
        passes ``CatalogRoles(store)``). ``role_session``: ``execution`` or ``machine``
        (None: ``STEPQ_ROLE_SESSION``, else ``execution``)."""
        self.endpoint_url = endpoint_url
        self._config = config
        self._region = region
        self._environ = environ
        self._session = session
        self._clients: dict[str, Any] = {}
        self._lock = threading.Lock()
        self._catalog: sdk.ServiceCatalog | None = None
        env = os.environ if environ is None else environ
        self.assume_roles = assume_roles_setting(environ) if assume_roles is None else assume_roles
        self.roles = roles or default_role
        self.role_session = role_session or env.get("STEPQ_ROLE_SESSION") or "execution"
        if self.role_session not in SCOPES:
            raise ValueError(f"role_session must be one of {SCOPES}, not {self.role_session!r}")
        self.sessions = RoleSessions(lambda: self.client("sts"), clock=clock)
        # (service, access key) -> client; a refreshed role session gets new ones.
        self._role_clients: OrderedDict[tuple[str, str], Any] = OrderedDict()

    def __call__(self, resource: str, parameters: Any, context: Any = None) -> Outcome:
        base = resource.removesuffix(WAIT_FOR_TOKEN)
        name = optimised_name(resource)
        known = name in optimised.CALLS or _AWS_SDK in base
        if not known:
            return optimised.bad_parameters(resource, "stepq does not run this resource")
        client_for: Callable[[str], Any] = self.client
        if self.assume_roles:
            try:
                credentials = self._role_credentials(context)
            except AssumeRoleError as exc:
                return Outcome(error=ROLE_FAILURE, cause=str(exc))
            client_for = functools.partial(self.client_as, credentials=credentials)
        if name in optimised.CALLS:
            return optimised.call(name, parameters, client_for, resource)
        service, _, action = base.split(_AWS_SDK, 1)[1].partition(":")
        return sdk.call(service, action, parameters, client_for, self.catalog(), resource)

    # --- the machine's role ---------------------------------------------------------------

    def _role_credentials(self, context: Any) -> RoleCredentials:
        execution = execution_of(context)
        if execution is None:
            raise AssumeRoleError(
                "stepq could not tell which execution this task belongs to, "
                "so not which role to assume"
            )
        role = self.roles(execution)
        return self.sessions.credentials(role, session_name(execution, self.role_session))

    def client_as(self, service: str, credentials: RoleCredentials) -> Any:
        """A client of ``service`` signing with ``credentials`` (kept while they are used)."""
        key = (service, credentials.access_key)
        session = self.session()
        with self._lock:  # a boto3 session makes one client at a time
            client = self._role_clients.get(key)
            if client is not None:
                self._role_clients.move_to_end(key)
                return client
            client = self._role_clients[key] = session.client(
                service,
                aws_access_key_id=credentials.access_key,
                aws_secret_access_key=credentials.secret_key,
                aws_session_token=credentials.token or None,
                **self._options(),
            )
            while len(self._role_clients) > _ROLE_CLIENTS:
                self._role_clients.popitem(last=False)
            return client

    # --- clients ---------------------------------------------------------------------------

    def session(self) -> Any:
        with self._lock:
            if self._session is None:
                import boto3

                self._session = boto3.session.Session()  # not the default one: not thread-safe
            return self._session

    def catalog(self) -> sdk.ServiceCatalog:
        if self._catalog is None:
            self._catalog = sdk.ServiceCatalog(self.session())
        return self._catalog

    def client(self, service: str) -> Any:
        """One client per service (botocore clients are thread-safe once made)."""
        client = self._clients.get(service)
        if client is not None:
            return client
        session = self.session()
        with self._lock:
            client = self._clients.get(service)
            if client is None:
                client = self._clients[service] = session.client(service, **self._options())
            return client

    def _options(self) -> dict[str, Any]:
        from botocore.config import Config

        env = os.environ if self._environ is None else self._environ
        region = self._region or env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION")
        options: dict[str, Any] = {
            "region_name": region or "us-east-1",
            # A task's call: a few retries of throttling, then the Retry fields decide.
            "config": self._config or Config(retries={"mode": "standard", "max_attempts": 3}),
        }
        if self.endpoint_url:
            options["endpoint_url"] = self.endpoint_url
        return options

"""Service integrations: the Task resources a worker runs through AWS services.

``AwsIntegrations`` is what the worker is given (``Worker(integrations=...)``)
to run a Task whose resource is an ``arn:aws:states:::`` integration other
than ``lambda:invoke``: ``sqs:sendMessage`` and ``sns:publish`` (optimised,
see ``optimised``) and ``aws-sdk:<service>:<action>`` (see ``sdk``), each
also as ``.waitForTaskToken``: then the token is wherever the definition's
Parameters put it (``$$.Task.Token``) and the call's result is only an
acknowledgement (the core waits for the callback).

Services are reached as boto3 reaches them: credentials and region from the
environment, endpoints from boto3's standard settings (``AWS_ENDPOINT_URL``,
``AWS_ENDPOINT_URL_SQS``, ...) unless ``endpoint_url`` is given (``stepq
dev`` points it at its own moto server). These clients are the user's, not
stepq's: stepq's own table and queues are never reached through them.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

from stepq.core.definition.resources import WAIT_FOR_TOKEN, optimised_name
from stepq.runtime.steps import Outcome

from . import optimised, sdk

__all__ = ["AwsIntegrations"]

_AWS_SDK = ":states:::aws-sdk:"


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
    ) -> None:
        """``config``: a botocore ``Config`` for every client (default: 3 attempts)."""
        self.endpoint_url = endpoint_url
        self._config = config
        self._region = region
        self._environ = environ
        self._session = session
        self._clients: dict[str, Any] = {}
        self._lock = threading.Lock()
        self._catalog: sdk.ServiceCatalog | None = None

    def __call__(self, resource: str, parameters: Any, context: Any = None) -> Outcome:
        base = resource.removesuffix(WAIT_FOR_TOKEN)
        name = optimised_name(resource)
        if name in optimised.CALLS:
            return optimised.call(name, parameters, self.client, resource)
        if _AWS_SDK in base:
            service, _, action = base.split(_AWS_SDK, 1)[1].partition(":")
            return sdk.call(service, action, parameters, self.client, self.catalog(), resource)
        return optimised.bad_parameters(resource, "stepq does not run this resource")

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
        import os

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

"""``stepq dev``: the API on the embedded runtime, every loop running, until stopped.

``DevServer`` is also what the integration suite and the load benchmark start:
an ``EmbeddedRuntime`` (moto in-process, state in memory, lost on exit) and an
``ApiServer`` in front of it on loopback.

The machines' service integrations (sqs:sendMessage, sns:publish, aws-sdk:*)
go where boto3's endpoint settings say (``AWS_ENDPOINT_URL``,
``AWS_ENDPOINT_URL_<SERVICE>``); when none is set, DevServer serves a moto
server on loopback for them (``services_url``), in an account of its own so
stepq's table and queues stay private. ``services=False`` turns it off.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from stepq.api.context import ApiContext
from stepq.api.handler import ApiHandler
from stepq.api.protocol import ApiRequest, ApiResponse
from stepq.hosting.api_server import DEFAULT_HOST, DEFAULT_PORT, ApiServer
from stepq.hosting.attachment_links import LocalAttachmentUrls
from stepq.hosting.embedded import EmbeddedRuntime
from stepq.runtime.steps import StepFunction


def arn_settings(environ: Mapping[str, str] | None = None) -> tuple[str, str]:
    """(region, account) for ARNs: ``AWS_REGION``/``AWS_DEFAULT_REGION``, ``STEPQ_ACCOUNT``."""
    env = os.environ if environ is None else environ
    region = env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or "us-east-1"
    account = env.get("STEPQ_ACCOUNT") or "111111111111"
    return region, account


def endpoint_configured(environ: Mapping[str, str]) -> bool:
    """Whether boto3 is told where services are (``AWS_ENDPOINT_URL[_<SERVICE>]``)."""
    return any(
        (key == "AWS_ENDPOINT_URL" or key.startswith("AWS_ENDPOINT_URL_")) and value.strip()
        for key, value in environ.items()
    )


def api_context(runtime: EmbeddedRuntime) -> ApiContext:
    return ApiContext.build(
        runtime.orchestrator, runtime.client, runtime.queues, functions=runtime.functions
    )


class DevServer:
    """The embedded runtime and the API in one process (a context manager)."""

    def __init__(
        self,
        functions: Mapping[str, StepFunction] | None = None,
        *,
        host: str = DEFAULT_HOST,
        port: int = DEFAULT_PORT,
        skip_time: bool = False,
        backend: str = "moto",
        environ: Mapping[str, str] | None = None,
        services: bool = True,
        dev_identities: bool = False,
        **runtime_options: Any,
    ) -> None:
        """``dev_identities``: trust the ``X-Stepq-Dev-User`` header as the caller of
        people operations (``stepq dev --dev-identities``; unsafe beyond development:
        anyone who reaches the port can claim any name)."""
        region, account = arn_settings(environ)
        env = os.environ if environ is None else environ
        self.services: Any = None
        if services and not endpoint_configured(env) and "integrations" not in runtime_options:
            from stepq.backends.aws.integrations import AwsIntegrations
            from stepq.backends.moto.server import ServicesServer

            self.services = ServicesServer(account=account)
            url = self.services.start()
            runtime_options["integrations"] = AwsIntegrations(endpoint_url=url, region=region)
        try:
            self.runtime = EmbeddedRuntime(
                functions or {},
                skip_time=skip_time,
                backend=backend,
                region=region,
                account=account,
                **runtime_options,
            )
        except BaseException:
            self._close_services()
            raise
        try:
            self.context = api_context(self.runtime)
            # Unsafe outside development: the X-Stepq-Dev-User header names the caller.
            self.context.dev_identities = dev_identities
            self.server = ApiServer(_DevHandler(self.context, self.runtime), host, port)
            links = LocalAttachmentUrls(
                self.runtime.orchestrator.store, self.runtime.orchestrator.clock, self._url
            )
            self.server.attachments = links
            self.context.attachments = links
        except BaseException:
            self.runtime.close()
            self._close_services()
            raise

    @property
    def url(self) -> str:
        return self.server.url

    def _url(self) -> str:
        return self.server.url

    @property
    def services_url(self) -> str | None:
        """Where the machines' integrations reach their services (None: boto3's settings)."""
        return self.services.url if self.services is not None else None

    def start(self) -> DevServer:
        self.runtime.start_loops()
        self.server.start()
        return self

    def close(self) -> None:
        self.server.close()
        self.runtime.close()
        self._close_services()

    def _close_services(self) -> None:
        if self.services is not None:
            self.services.close()

    def __enter__(self) -> DevServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()


class _DevHandler(ApiHandler):
    """The API on the embedded runtime: with skipped time, the clock stands still
    while a request is handled (``EmbeddedRuntime.working``), so a start's timeout
    cannot fire before its task is sent. GetActivityTask's long poll is left out:
    it only waits, and holding time for it would stall every Wait meanwhile."""

    def __init__(self, ctx: ApiContext, runtime: EmbeddedRuntime) -> None:
        super().__init__(ctx)
        self._runtime = runtime

    def handle(self, request: ApiRequest) -> ApiResponse:
        if request.header("x-amz-target").endswith(".GetActivityTask"):
            return super().handle(request)
        with self._runtime.working():
            return super().handle(request)

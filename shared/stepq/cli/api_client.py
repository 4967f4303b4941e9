"""The CLI's client of the stepq API: boto3's ``stepfunctions`` client, unchanged.

Pointed at ``--api-url``/``--endpoint-url`` (``STEPQ_API_URL``, default
``http://127.0.0.1:8083``) with a short connect timeout and no retries, so an
unreachable API is one line at once. A loopback API (``stepq dev``) does not
check signatures: it gets dummy credentials and the credential chain is never
searched (no instance metadata lookups). Any other URL is a deployed API
behind API Gateway's IAM auth: requests are signed for ``execute-api`` with
boto3's credential chain (``stepq.backends.aws.connect``), in the URL's region
when it is an ``execute-api`` host. stepq's own operations (``Stepq.Ping``,
``Stepq.SearchExecutions``) are not in botocore's model: they are plain
SigV4-signed JSON 1.0 requests, signed the same way. Credentials only sign;
no message shows them.

Every failure is a ``CliError`` with one line: ``Code: message`` for an API
error, ``cannot reach the stepq API at URL: ...`` when nothing answers.
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from functools import cache
from typing import Any
from urllib.parse import urlparse

from stepq.backends.aws.connect import EXECUTE_API, client, region_of
from stepq.cli.app import CliError

DEFAULT_API_URL = "http://127.0.0.1:8083"
DEV_USER_HEADER = "X-Stepq-Dev-User"  # as api/identity.py reads it
CONNECT_TIMEOUT = 3.0
READ_TIMEOUT = 70.0  # above GetActivityTask's 60 s long poll
_LOOPBACK = {"127.0.0.1", "localhost", "::1"}
# API Gateway's answers when IAM auth refuses a request (x-amzn-ErrorType).
_REFUSALS = {
    "AccessDeniedException",
    "ExpiredTokenException",
    "IncompleteSignatureException",
    "InvalidSignatureException",
    "MissingAuthenticationTokenException",
    "UnrecognizedClientException",
}


def is_loopback(url: str) -> bool:
    host = (urlparse(url).hostname or "").lower()
    return host in _LOOPBACK or host.startswith("127.")


class ApiClient:
    """One API endpoint; the boto3 client is built on first use."""

    def __init__(self, url: str | None = None, *, dev_user: str | None = None) -> None:
        self.url = (url or os.environ.get("STEPQ_API_URL") or DEFAULT_API_URL).rstrip("/")
        # ``--as USER``: sent as X-Stepq-Dev-User, which only `stepq dev --dev-identities` reads.
        self.dev_user = dev_user
        parsed = urlparse(self.url)
        if parsed.scheme not in ("http", "https") or not parsed.hostname:
            raise CliError(f"--api-url must be an http(s) URL, not {self.url!r}", 2)
        self.local = is_loopback(self.url)
        # stepq dev checks no signature; API Gateway's IAM auth wants execute-api's.
        self.signing_name = "states" if self.local else EXECUTE_API
        # A deployed API: the caller's boto3 session (profile, credentials, region), once.
        self._aws: Any = None if self.local else _caller_session()
        self.region = (
            region_of(self.url)
            or os.environ.get("AWS_REGION")
            or os.environ.get("AWS_DEFAULT_REGION")
            or (self._aws.region_name if self._aws is not None else None)
            or "us-east-1"
        )
        self._client: Any = None
        self._credentials: Any = None
        self._where: tuple[str, str] | None = None

    # --- boto3 ------------------------------------------------------------------

    def _session_credentials(self) -> Any:
        if self._credentials is None:
            from botocore.credentials import Credentials

            if self._aws is None:  # loopback: stepq dev checks no signature
                self._credentials = Credentials("stepq", "stepq")
            else:
                self._credentials = self._aws.get_credentials()
                if self._credentials is None:
                    raise CliError(
                        f"no AWS credentials found to sign requests to {self.url} "
                        "(its IAM auth needs them): set AWS_PROFILE or run aws configure",
                        2,
                    )
        return self._credentials

    @property
    def sfn(self) -> Any:
        if self._client is None:
            from botocore.config import Config

            config = Config(
                connect_timeout=CONNECT_TIMEOUT,
                read_timeout=READ_TIMEOUT,
                retries={"mode": "standard", "max_attempts": 1},
                # No sync- host prefix: neither stepq dev nor API Gateway has that host.
                inject_host_prefix=False,
            )
            credentials = self._session_credentials()  # none: one clear line, no request
            if self._aws is not None:  # a deployed API: stepq.client, signed for execute-api
                self._client = client(
                    self.url + "/", session=self._aws, region=self.region, config=config
                )
            else:
                frozen = credentials.get_frozen_credentials()
                self._client = _session().client(
                    "stepfunctions",
                    region_name=self.region,
                    aws_access_key_id=frozen.access_key,
                    aws_secret_access_key=frozen.secret_key,
                    aws_session_token=frozen.token,
                    endpoint_url=self.url,
                    config=config,
                )
        return self._client

    def call(self, operation: str, **params: Any) -> dict[str, Any]:
        """``client.<operation>(**params)`` without ``ResponseMetadata``; CliError on failure
        (ApiCallError, with the error's code, when the API answered with one)."""
        from botocore.exceptions import (
            BotoCoreError,
            ClientError,
            ConnectionClosedError,
            EndpointConnectionError,
            ParamValidationError,
            ReadTimeoutError,
        )
        from botocore.exceptions import (
            ConnectTimeoutError as BotoConnectTimeout,
        )

        try:
            reply = dict(getattr(self.sfn, operation)(**params))
        except ClientError as exc:
            error = exc.response.get("Error", {})
            code = error.get("Code") or "Error"
            if code.isdigit():  # API Gateway's own refusals name themselves in a header
                headers = exc.response.get("ResponseMetadata", {}).get("HTTPHeaders", {})
                code = str(headers.get("x-amzn-errortype") or f"HTTP {code}").split(":")[0]
            raise ApiCallError(code, str(error.get("Message") or exc)) from None
        except (
            EndpointConnectionError,
            BotoConnectTimeout,
            ConnectionClosedError,
            ReadTimeoutError,
        ) as exc:
            raise UnreachableError(self.unreachable(exc)) from None
        except ParamValidationError as exc:
            raise CliError(f"invalid request: {' '.join(str(exc).split())}", 2) from None
        except BotoCoreError as exc:
            raise CliError(f"{operation} failed: {exc}") from None
        reply.pop("ResponseMetadata", None)
        return reply

    def pages(self, operation: str, key: str, **params: Any) -> list[dict[str, Any]]:
        """Every item under ``key`` across the pages of ``operation``."""
        items: list[dict[str, Any]] = []
        while True:
            reply = self.call(operation, **params)
            items += reply.get(key, [])
            token = reply.get("nextToken")
            if not token:
                return items
            params["nextToken"] = token

    def unreachable(self, exc: BaseException) -> str:
        return f"cannot reach the stepq API at {self.url}: {' '.join(str(exc).split())}"

    # --- stepq's own operations ------------------------------------------------------

    def stepq(self, operation: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        """POST ``Stepq.<operation>``; CliError with the API's code on failure."""
        from botocore.auth import SigV4Auth
        from botocore.awsrequest import AWSRequest

        body = json.dumps(params or {}).encode()
        request = AWSRequest(
            method="POST",
            url=self.url + "/",
            data=body,
            headers={
                "Content-Type": "application/x-amz-json-1.0",
                "X-Amz-Target": f"Stepq.{operation}",
                **({DEV_USER_HEADER: self.dev_user} if self.dev_user else {}),
            },
        )
        SigV4Auth(self._session_credentials(), self.signing_name, self.region).add_auth(request)
        sent = urllib.request.Request(
            self.url + "/", data=body, headers=dict(request.headers.items()), method="POST"
        )
        # A loopback API is reached directly, whatever HTTP(S)_PROXY says.
        handlers = [urllib.request.ProxyHandler({})] if self.local else []
        opener = urllib.request.build_opener(*handlers)
        try:
            with opener.open(sent, timeout=CONNECT_TIMEOUT + READ_TIMEOUT) as reply:
                return _json_object(reply.read())
        except urllib.error.HTTPError as exc:
            data = _json_object(exc.read())
            named = data.get("__type") or exc.headers.get("x-amzn-ErrorType")  # API Gateway's
            code = str(named or f"HTTP {exc.code}").rsplit("#", 1)[-1].split(":")[0]
            raise ApiCallError(
                code, str(data.get("message") or data.get("Message") or "")
            ) from None
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise UnreachableError(self.unreachable(reason)) from None

    def where(self, instead: str = "give a full ARN") -> tuple[str, str]:
        """(region, account) of the API's ARNs, asked once (``Stepq.Ping``)."""
        if self._where is None:
            try:
                reply = self.stepq("Ping")
            except ApiCallError as exc:
                if exc.error_code in _REFUSALS:
                    raise  # the API is there, the caller may not use it
                raise CliError(
                    f"{self.url} is not a stepq API (Stepq.Ping: {exc.error_code}): {instead}", 2
                ) from None
            self._where = (str(reply["region"]), str(reply["account"]))
        return self._where

    # --- names where ARNs are expected ----------------------------------------------

    def machine_arn(self, value: str) -> str:
        """A state machine ARN from an ARN or a name (``name`` or ``name:version|alias``)."""
        if value.startswith("arn:"):
            return value
        region, account = self.where()
        return f"arn:aws:states:{region}:{account}:stateMachine:{value}"

    def execution_arn(self, value: str) -> str:
        """An execution ARN from an ARN or ``MACHINE:EXECUTION``."""
        if value.startswith("arn:"):
            return value
        machine, sep, name = value.partition(":")
        if not sep or not machine or not name:
            raise CliError(f"give an execution ARN or MACHINE:EXECUTION, not {value!r}", 2)
        region, account = self.where()
        return f"arn:aws:states:{region}:{account}:execution:{machine}:{name}"


@cache
def _session() -> Any:
    """One boto3 session per process: the service model is loaded once."""
    import boto3

    return boto3.session.Session()


def _caller_session() -> Any:
    """A new session each time: the caller's credentials and region as they are now
    (the shared ``_session`` would keep the first ones it found)."""
    import boto3
    from botocore.exceptions import BotoCoreError

    try:
        return boto3.session.Session()
    except BotoCoreError as exc:  # e.g. AWS_PROFILE names no profile
        raise CliError(f"AWS settings: {exc}", 2) from None


class ApiCallError(CliError):
    """The API (or API Gateway in front of it) answered with an error; ``error_code`` names it."""

    def __init__(self, error_code: str, message: str) -> None:
        super().__init__(f"{error_code}: {message}")  # exit status 1 (``code``)
        self.error_code = error_code


class UnreachableError(CliError):
    """Nothing answered at the API's URL."""


def _json_object(raw: bytes) -> dict[str, Any]:
    try:
        data = json.loads(raw or b"{}")
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}

"""SigV4 signatures for ``execute-api``: how a local process speaks for its user to a
deployed API (API Gateway's IAM auth), without handing the credentials to anyone.

``ExecuteApiSigner`` reads boto3's credential chain (profile, environment, SSO,
instance role) once and signs each request with the credentials as they are
then (refreshable ones are refreshed by botocore). It returns only the headers
to add: ``Authorization``, ``X-Amz-Date`` and, for temporary credentials,
``X-Amz-Security-Token``; callers send them upstream and never echo them.
The console proxy (``hosting/console_proxy.py``) signs with it;
``connect.py`` does the same for boto3's client through a signing hook.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from stepq.backends.aws.connect import EXECUTE_API, region_of
from stepq.errors import SigningError

__all__ = ["ExecuteApiSigner"]


class ExecuteApiSigner:
    """Signs requests to the API at ``api_url`` for ``execute-api`` in its region."""

    def __init__(self, api_url: str, region: str | None = None, session: Any = None) -> None:
        import boto3
        from botocore.exceptions import BotoCoreError

        try:
            self._session = session or boto3.session.Session()
        except BotoCoreError as exc:  # e.g. AWS_PROFILE names no profile
            raise SigningError(f"AWS settings: {exc}") from None
        self.region = (
            region
            or region_of(api_url)
            or os.environ.get("AWS_REGION")
            or os.environ.get("AWS_DEFAULT_REGION")
            or self._session.region_name
            or "us-east-1"
        )
        self._credentials = self._session.get_credentials()
        if self._credentials is None:
            raise SigningError(
                f"no AWS credentials found to sign requests to {api_url} "
                "(its IAM auth needs them): set AWS_PROFILE or run aws configure"
            )

    def sign(self, url: str, body: bytes, headers: Mapping[str, str]) -> dict[str, str]:
        """``headers`` plus the signature headers of a POST of ``body`` to ``url``."""
        from botocore.auth import SigV4Auth
        from botocore.awsrequest import AWSRequest
        from botocore.exceptions import BotoCoreError

        request = AWSRequest(method="POST", url=url, data=body, headers=dict(headers))
        try:
            frozen = self._credentials.get_frozen_credentials()
            SigV4Auth(frozen, EXECUTE_API, self.region).add_auth(request)
        except BotoCoreError as exc:  # an expired SSO session, a failing credential process
            raise SigningError(f"cannot read AWS credentials to sign: {exc}") from None
        return dict(request.headers.items())

"""boto3's ``stepfunctions`` client for a deployed stepq API (API Gateway, IAM auth).

API Gateway's IAM authorizer accepts only SigV4 signatures scoped to the
service ``execute-api``; an unchanged ``stepfunctions`` client signs for
``states`` and gets a 403. botocore lets a ``before-sign`` hook change the
signing name of a request (``request.context["signing"]``, which the signer
reads after the hook ran), so the client stays boto3's own: same methods,
paginators, waiters and errors. ``client`` builds one with that hook;
``sign_for_execute_api`` is the hook, for a client you build yourself::

    sfn = stepq.client("https://abc123.execute-api.eu-west-1.amazonaws.com/Prod")

    sfn = boto3.client("stepfunctions", endpoint_url=API_URL)
    sfn.meta.events.register("before-sign.sfn", stepq.sign_for_execute_api)

Credentials come from the session (boto3's usual chain); they are only
used to sign, never logged or put in a URL.
"""

from __future__ import annotations

import os
import re
from typing import Any
from urllib.parse import urlparse

__all__ = ["EXECUTE_API", "client", "region_of", "sign_for_execute_api"]

EXECUTE_API = "execute-api"
# https://{api-id}.execute-api.{region}.amazonaws.com[.cn]/{stage}
_GATEWAY_HOST = re.compile(r"^[a-z0-9]+\.execute-api\.([a-z0-9-]+)\.amazonaws\.com(\.cn)?$")
# ``before-sign.<service id>``: Step Functions' service id is ``SFN``.
HOOK_EVENT = "before-sign.sfn"


def sign_for_execute_api(request: Any, **_: Any) -> None:
    """botocore ``before-sign`` hook: sign this request for ``execute-api``."""
    signing = dict(request.context.get("signing") or {})
    signing["signing_name"] = EXECUTE_API
    request.context["signing"] = signing


def region_of(api_url: str) -> str | None:
    """The region in an ``execute-api`` URL; None for any other host (a custom domain)."""
    match = _GATEWAY_HOST.match((urlparse(api_url).hostname or "").lower())
    return match.group(1) if match else None


def client(
    api_url: str,
    session: Any = None,
    region: str | None = None,
    *,
    config: Any = None,
) -> Any:
    """A ``stepfunctions`` client for the stepq API at ``api_url``, signed for execute-api.

    ``api_url``: the stack's ``ApiUrl`` output (stage path included).
    ``session``: a ``boto3.Session`` (default: a new one, boto3's credential chain).
    ``region``: the signing region; default: the URL's (``*.execute-api.REGION...``),
    then the session's, then ``AWS_REGION``/``AWS_DEFAULT_REGION``.
    ``config``: a botocore ``Config`` merged over stepq's (no ``sync-`` host prefix:
    API Gateway serves StartSyncExecution on the API's own host).
    """
    import boto3
    from botocore.config import Config

    parsed = urlparse(api_url)
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        raise ValueError(f"api_url must be an http(s) URL, not {api_url!r}")
    session = session or boto3.session.Session()
    chosen = (
        region
        or region_of(api_url)
        or session.region_name
        or os.environ.get("AWS_REGION")
        or os.environ.get("AWS_DEFAULT_REGION")
    )
    if not chosen:
        raise ValueError("give region=: the API URL and the session name none")
    base = Config(inject_host_prefix=False)
    sfn = session.client(
        "stepfunctions",
        endpoint_url=api_url,
        region_name=chosen,
        config=base.merge(config) if config is not None else base,
    )
    sfn.meta.events.register(HOOK_EVENT, sign_for_execute_api)
    return sfn

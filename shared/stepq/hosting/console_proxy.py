"""``stepq console --api-url URL``: the web console against a deployed API, from this machine.

A small HTTP server on loopback (127.0.0.1:8084 by default) that serves the
console's files (``hosting/console_assets.py``, as ``stepq dev`` does) and
forwards the page's API calls to the deployed API, signed here with the
user's AWS credentials (``backends/aws/request_signing.py``, SigV4 for
``execute-api``). The browser holds no secret: it talks only to this
process, which adds the signature upstream and hands back the API's status
and body with a few harmless headers (never the request's signature).

What is forwarded: ``POST /`` with the JSON content type (Step Functions'
JSON 1.0, or ``application/json``) and an ``X-Amz-Target`` naming an API
operation, at most 1 MB. What is refused first (``hosting/browser_guard.py``):
a Host that is not a loopback name (DNS rebinding), a request another page
made the browser send (``Origin``, ``Sec-Fetch-Site``). Anything else is a
JSON error in Step Functions' shape; an API that does not answer is a 502
whose message says so, never a traceback.

A loopback ``--api-url`` (``stepq dev``, ``stepq worker --role api``) checks
no signature: requests go unsigned, the credential chain is not searched, and
``X-Stepq-Dev-User`` (``stepq dev --dev-identities``) is passed on; it is
never sent to a deployed API. Requests to a loopback API ignore
``HTTP(S)_PROXY``; others honour it.
"""

from __future__ import annotations

import json
import logging
import threading
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Protocol
from urllib.parse import urlparse

from stepq.api.identity import DEV_USER_HEADER
from stepq.api.protocol import (
    CONTENT_TYPE,
    MAX_BODY_BYTES,
    STEPQ_PREFIX,
    TARGET_PREFIX,
    ApiError,
    ApiResponse,
    error_response,
)
from stepq.errors import SigningError
from stepq.hosting.browser_guard import cross_site, host_name, is_loopback
from stepq.hosting.console_assets import console_response, is_console_path

log = logging.getLogger(__name__)

DEFAULT_PORT = 8084
UPSTREAM_TIMEOUT = 75.0  # above GetActivityTask's long poll (API Gateway ends at 29 s)
_JSON_TYPES = {CONTENT_TYPE, "application/json"}
# The API's answer headers a page may see; the rest (cookies, tracing) stays here.
_PASSED_HEADERS = ("content-type", "x-amzn-errortype", "x-amzn-requestid")


class Signer(Protocol):
    def sign(self, url: str, body: bytes, headers: dict[str, str]) -> dict[str, str]: ...


class ConsoleProxy:
    """Serve the console on ``host:port`` (0: any free port); forward its calls to ``api_url``.

    ``signer``: signs each forwarded request (None: sent unsigned, for a loopback API).
    """

    def __init__(
        self,
        api_url: str,
        *,
        signer: Signer | None,
        host: str = "127.0.0.1",
        port: int = DEFAULT_PORT,
    ) -> None:
        parsed = urlparse(api_url)
        if parsed.scheme not in ("http", "https") or not parsed.hostname:
            raise ValueError(f"--api-url must be an http(s) URL, not {api_url!r}")
        self.api_url = api_url.rstrip("/") + "/"
        self.api_is_local = is_loopback(parsed.hostname.lower())
        self.signer = signer
        self.loopback_only = is_loopback(host)
        handlers = [urllib.request.ProxyHandler({})] if self.api_is_local else []
        self._opener = urllib.request.build_opener(*handlers)
        self._httpd = _Server((host, port), _Handler)
        self._httpd.proxy = self  # type: ignore[attr-defined]
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        shown = f"[{host}]" if ":" in str(host) else host
        return f"http://{shown}:{port}"

    def start(self) -> ConsoleProxy:
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, name="stepq-console", daemon=True
        )
        self._thread.start()
        return self

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def __enter__(self) -> ConsoleProxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- requests ------------------------------------------------------------------------

    def refused_host(self, headers: dict[str, str]) -> ApiResponse | None:
        if self.loopback_only and not is_loopback(host_name(headers.get("host", ""))):
            return _error("AccessDeniedException", "this server answers loopback hosts only", 403)
        return None

    def page(self, path: str, headers: dict[str, str]) -> ApiResponse:
        """A GET: one of the console's files."""
        refused = self.refused_host(headers)
        if refused is not None:
            return refused
        if is_console_path(path):
            return console_response(path)
        if path == "/health":
            body = {"service": "stepq console", "api": self.api_url}
            return ApiResponse(200, json.dumps(body).encode(), {"Content-Type": "application/json"})
        return _error("UnknownOperationException", "not found", 404)

    def forward(self, path: str, headers: dict[str, str], body: bytes) -> ApiResponse:
        """A POST: checked, signed, sent to the API; its status and body come back."""
        refused = self.refused_host(headers)
        if refused is not None:
            return refused
        if why := cross_site(headers):
            return _error("AccessDeniedException", why, 403)
        if path != "/":
            return _error("UnknownOperationException", "use POST / with an X-Amz-Target", 404)
        content_type = headers.get("content-type", "").split(";")[0].strip().lower()
        if content_type not in _JSON_TYPES:
            return _error("UnsupportedMediaType", f"Content-Type must be {CONTENT_TYPE}", 415)
        target = headers.get("x-amz-target", "").strip()
        if not target.startswith((TARGET_PREFIX, STEPQ_PREFIX)):
            return _error("UnknownOperationException", f"unknown operation {target[:100]!r}")
        sent = {"Content-Type": content_type, "X-Amz-Target": target}
        user = headers.get(DEV_USER_HEADER.lower(), "")
        if user and self.api_is_local:  # only stepq dev reads it; never sent further
            sent[DEV_USER_HEADER] = user
        try:
            if self.signer is not None:
                sent = self.signer.sign(self.api_url, body, sent)
        except SigningError as exc:
            return _error("SigningFailure", str(exc), 500)
        return self._send(sent, body)

    def _send(self, headers: dict[str, str], body: bytes) -> ApiResponse:
        request = urllib.request.Request(self.api_url, data=body, headers=headers, method="POST")
        try:
            with self._opener.open(request, timeout=UPSTREAM_TIMEOUT) as reply:
                return _passed(reply.status, reply.headers, reply.read())
        except urllib.error.HTTPError as exc:  # the API answered with an error: pass it on
            with exc:
                return _passed(exc.code, exc.headers, exc.read())
        except (urllib.error.URLError, OSError, ValueError) as exc:
            reason = getattr(exc, "reason", exc)
            message = (
                f"cannot reach the stepq API at {self.api_url}: {' '.join(str(reason).split())}"
            )
            return _error("ApiUnreachable", message, 502)


def _passed(status: int, headers: Any, body: bytes) -> ApiResponse:
    kept = {name: headers.get(name) for name in _PASSED_HEADERS if headers.get(name)}
    kept.setdefault("content-type", CONTENT_TYPE)
    return ApiResponse(status, body, {str(k): str(v) for k, v in kept.items()})


def _error(code: str, message: str, status: int = 400) -> ApiResponse:
    return error_response(ApiError(code, message, status))


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        log.debug("connection from %s dropped", client_address, exc_info=True)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "stepq"
    sys_version = ""
    timeout = 120

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s " + format, self.address_string(), *args)

    def _proxy(self) -> ConsoleProxy:
        return self.server.proxy  # type: ignore[attr-defined, no-any-return]

    def _headers(self) -> dict[str, str]:
        return {name.lower(): value for name, value in self.headers.items()}

    def do_GET(self) -> None:
        self._answer(self._proxy().page(self.path.split("?")[0], self._headers()))

    def do_POST(self) -> None:
        try:
            length = int(self.headers.get("Content-Length", "0"))
        except ValueError:
            length = -1
        if length < 0 or length > MAX_BODY_BYTES:
            self.close_connection = True
            self._answer(_error("ValidationException", "bad or too large body", 413))
            return
        body = self.rfile.read(length) if length else b""
        self._answer(self._proxy().forward(self.path.split("?")[0], self._headers(), body))

    def do_PUT(self) -> None:
        self.close_connection = True
        self._answer(_error("UnknownOperationException", "use POST /", 405))

    do_DELETE = do_PATCH = do_OPTIONS = do_PUT  # no CORS preflight is ever granted

    def do_HEAD(self) -> None:
        self.close_connection = True
        self._answer(_error("UnknownOperationException", "use GET or POST /", 405), body=False)

    def _answer(self, response: ApiResponse, body: bool = True) -> None:
        self.send_response(response.status)
        for name, value in response.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(response.body)))
        self.end_headers()
        if body:
            self.wfile.write(response.body)

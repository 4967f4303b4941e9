"""The API over HTTP on this machine: ``stepq dev`` and ``stepq worker --role api``.

A threading HTTP server in front of ``api.handler.ApiHandler``. Secure by
default: it binds to 127.0.0.1; bound to loopback it answers only requests
whose Host is a loopback name (a web page cannot reach it through DNS
rebinding); a state-changing request needs the JSON 1.0 content type and an
``X-Amz-Target`` header, which a cross-site form cannot send, and a POST a
browser marks as coming from another page (``Origin``, ``Sec-Fetch-Site``) is
refused (``hosting/browser_guard.py``). With
``ApiContext.dev_identities`` (``stepq dev --dev-identities``) the
``X-Stepq-Dev-User`` header names the caller of people operations: a warning
is logged when that is served beyond loopback. With ``attachments``
(``hosting/attachment_links.py``) it also serves the signed attachment URLs:
``PUT``/``GET /attachments/...``; a bad or expired signature is a 403.
``GET /`` and ``GET /console/...`` serve the web console's files
(``hosting/console_assets.py``), behind the same loopback Host check.
"""

from __future__ import annotations

import json
import logging
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from stepq.api.handler import ApiHandler
from stepq.api.protocol import MAX_BODY_BYTES, ApiError, ApiRequest, ApiResponse, error_response
from stepq.hosting.attachment_links import MAX_BYTES, PREFIX, LocalAttachmentUrls
from stepq.hosting.browser_guard import cross_site, host_name, is_loopback
from stepq.hosting.console_assets import console_response, is_console_path

log = logging.getLogger(__name__)

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8083


class ApiServer:
    """Serve ``handler`` on ``host:port`` (port 0: any free port) in background threads."""

    def __init__(
        self, handler: ApiHandler, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT
    ) -> None:
        self.handler = handler
        self.loopback_only = is_loopback(host)
        # Bound to loopback, a request without an identity is the operator at this
        # machine (who can read the table anyway): it may administer groups.
        handler.ctx.local_operator = self.loopback_only
        if handler.ctx.dev_identities and not self.loopback_only:
            # X-Stepq-Dev-User names the caller: off loopback anyone can act as anyone.
            log.warning(
                "dev identities on %s: whoever reaches this port can act as any person", host
            )
        self._httpd = _Server((host, port), _RequestHandler)
        self._httpd.api = self  # type: ignore[attr-defined]
        self._thread: threading.Thread | None = None
        self.attachments: LocalAttachmentUrls | None = None  # set by DevServer

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        shown = f"[{host}]" if ":" in str(host) else host
        return f"http://{shown}:{port}"

    def start(self) -> ApiServer:
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, name="stepq-api", daemon=True
        )
        self._thread.start()
        return self

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def __enter__(self) -> ApiServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def respond(self, request: ApiRequest) -> ApiResponse:
        if self.loopback_only and not is_loopback(host_name(request.header("host"))):
            refused = ApiError(
                "AccessDeniedException", "this server answers loopback hosts only", 403
            )
            return error_response(refused)
        if request.method == "POST" and (why := cross_site(request.headers)):
            return error_response(ApiError("AccessDeniedException", why, 403))
        return self.handler.handle(request)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        log.debug("connection from %s dropped", client_address, exc_info=True)


_DISCARD_LIMIT = 8 * MAX_BODY_BYTES  # beyond this a refused body is not worth reading
_MAX_HEADERS = 100  # as http.client allows
_MAX_LINE = 65536
_LINGER_SECONDS = 1.0  # how long a refused client may keep sending before the close


class _Headers(dict[str, str]):
    """Request headers by lower-cased name (what ``http.server`` reads from them)."""

    def get(self, name: str, default: Any = None) -> Any:  # type: ignore[override]
        return super().get(name.lower(), default)


class _BadHeaders(Exception):
    pass


def read_headers(rfile: Any) -> _Headers:
    """The header block up to its empty line, without ``email.parser``.

    ``http.server`` parses headers with the e-mail package, which costs as
    much as a small API call itself. HTTP/1.1 header lines are ``name:
    value``; a repeated name keeps its values joined by commas (RFC 9110
    5.3); obsolete line folding is refused, as RFC 9112 allows.
    """
    headers = _Headers()
    for _ in range(_MAX_HEADERS + 1):
        line = rfile.readline(_MAX_LINE + 1)
        if len(line) > _MAX_LINE:
            raise _BadHeaders("header line too long")
        if line in (b"\r\n", b"\n", b""):
            return headers
        name, sep, value = line.decode("iso-8859-1").partition(":")
        if not sep or not name or name != name.strip() or name[0] in " \t":
            raise _BadHeaders(f"malformed header line {line[:80]!r}")
        key, text = name.lower(), value.strip()
        headers[key] = f"{headers[key]}, {text}" if key in headers else text
    raise _BadHeaders("too many headers")


class _RequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "stepq"
    timeout = 120  # seconds a connection may sit silent mid-request or idle between requests
    # Small answers on keep-alive connections: without TCP_NODELAY, Nagle's
    # algorithm and the client's delayed ACK add ~40 ms to every call.
    disable_nagle_algorithm = True
    sys_version = ""

    def parse_request(self) -> bool:
        """``http.server``'s request line and keep-alive rules, with ``read_headers``."""
        self.command = None
        self.request_version = self.default_request_version
        self.close_connection = True
        self.requestline = str(self.raw_requestline, "iso-8859-1").rstrip("\r\n")
        words = self.requestline.split()
        if not words:
            return False
        if len(words) != 3 or words[2] not in ("HTTP/1.0", "HTTP/1.1"):
            return self._bad_head("expected a request line: METHOD PATH HTTP/1.1")
        self.command, self.path, self.request_version = words
        if self.path.startswith("//"):  # as http.server: never an absolute-URI lookalike
            self.path = "/" + self.path.lstrip("/")
        try:
            self.headers = read_headers(self.rfile)  # type: ignore[assignment]
        except _BadHeaders as exc:
            return self._bad_head(str(exc))
        connection = self.headers.get("Connection", "").lower()
        self.close_connection = connection == "close" or (
            self.request_version == "HTTP/1.0" and connection != "keep-alive"
        )
        if self.headers.get("Expect", "").lower() == "100-continue" and (
            self.request_version == "HTTP/1.1"
        ):
            return bool(self.handle_expect_100())
        return True

    def _bad_head(self, message: str) -> bool:
        """A 400 in Step Functions' error shape; nothing after it is read."""
        self.request_version = "HTTP/1.1"  # so the answer has a status line
        self._send(error_response(ApiError("SerializationException", message, 400)))
        self.close_connection = True
        self._linger = True
        return False

    _linger = False

    def finish(self) -> None:
        """Flush, and after a refused head close gracefully (a "lingering close").

        Closing a socket with unread input makes the kernel send a reset,
        which can destroy the 400 before the client reads it; so the write
        side is shut first and what the client still sends is drained briefly.
        """
        super().finish()
        if not self._linger:
            return
        try:
            self.connection.shutdown(socket.SHUT_WR)
            self.connection.settimeout(_LINGER_SECONDS)
            drained = 0
            while drained < _DISCARD_LIMIT and (chunk := self.connection.recv(65536)):
                drained += len(chunk)
        except OSError:
            pass  # the client went away first: nothing left to protect

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s " + format, self.address_string(), *args)

    def do_POST(self) -> None:
        length_text = self.headers.get("Content-Length", "0")
        try:
            length = int(length_text)
        except ValueError:
            length = -1
        if length < 0 or length > MAX_BODY_BYTES:
            self._discard(length)
            self._send(
                error_response(ApiError("ValidationException", "bad or too large body", 413))
            )
            self.close_connection = True
            return
        body = self.rfile.read(length) if length else b""
        self._send(self._api().respond(self._request("POST", body)))

    def _discard(self, length: int, limit: int = _DISCARD_LIMIT) -> None:
        """Read and drop a refused body (up to a bound), so the client reads our 413.

        Closing with the body unread resets the connection under a client
        that is still sending, which then sees a broken pipe instead of the answer.
        """
        left = min(length, limit)
        try:
            while left > 0:
                chunk = self.rfile.read(min(left, 64 * 1024))
                if not chunk:
                    return
                left -= len(chunk)
        except OSError:
            return

    def do_GET(self) -> None:
        request = self._request("GET", b"")
        api = self._api()
        if api.loopback_only and not is_loopback(host_name(request.header("host"))):
            self._send(api.respond(request))
            return
        if self.path.startswith(PREFIX):
            self._download(api)
            return
        if is_console_path(request.path):
            self._send(console_response(request.path))
            return
        if self.path == "/health":
            body = json.dumps({"service": "stepq", "api": "POST / (JSON 1.0)"}).encode()
            self._send(ApiResponse(200, body, {"Content-Type": "application/json"}))
            return
        self._send(api.respond(request))

    def do_PUT(self) -> None:
        api = self._api()
        if not self.path.startswith(PREFIX) or api.attachments is None:
            self._refuse()
            return
        if api.loopback_only and not is_loopback(host_name(self.headers.get("Host", ""))):
            self._discard(self._length())
            self._send(api.respond(self._request("PUT", b"")))
            self.close_connection = True
            return
        key = api.attachments.verify("PUT", self.path, self.headers.get("Content-Type", ""))
        length = self._length()
        problem = None
        if key is None:
            problem = ApiError("AccessDeniedException", "bad or expired signature", 403)
        elif length < 0 or length > MAX_BYTES:
            problem = ApiError("ValidationException", f"at most {MAX_BYTES} bytes", 413)
        if problem is not None or key is None:
            self._discard(length, 2 * MAX_BYTES)
            self._send(error_response(problem or ApiError("AccessDeniedException", "", 403)))
            self.close_connection = True
            return
        api.attachments.put(key, self.rfile.read(length) if length else b"")
        self._send(ApiResponse(200, b"", {}))

    def do_DELETE(self) -> None:
        self._refuse()

    do_PATCH = do_DELETE

    def _download(self, api: ApiServer) -> None:
        links = api.attachments
        key = links.verify("GET", self.path) if links is not None else None
        data = links.get(key) if links is not None and key is not None else None
        if data is None:
            refused = ApiError("AccessDeniedException", "bad or expired signature", 403)
            self._send(error_response(refused))
            return
        self._send(ApiResponse(200, data, {"Content-Type": "application/octet-stream"}))

    def _length(self) -> int:
        try:
            return int(self.headers.get("Content-Length", "-1"))
        except ValueError:
            return -1

    def _refuse(self) -> None:
        self._send(error_response(ApiError("UnknownOperationException", "use POST /", 405)))

    def _api(self) -> ApiServer:
        return self.server.api  # type: ignore[attr-defined, no-any-return]

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        # The request line of an attachment URL holds its signature: never logged.
        line = self.requestline.split("?")[0]
        log.debug("%s %s %s", self.address_string(), line, code)

    def _request(self, method: str, body: bytes) -> ApiRequest:
        return ApiRequest(method, self.path.split("?")[0], dict(self.headers), body)

    def _send(self, response: ApiResponse) -> None:
        self.send_response(response.status)
        for name, value in response.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(response.body)))
        # Head and body in one write: one segment for a small answer.
        self._headers_buffer.append(b"\r\n" + response.body)
        self.flush_headers()

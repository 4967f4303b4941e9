"""A moto server on loopback for the services a user's machines call (``stepq dev``).

The integrations (sqs:sendMessage, sns:publish, aws-sdk:*) of ``stepq dev``
reach their services here when no ``AWS_ENDPOINT_URL`` is set, so that the
user can look into the queues and topics their machines write to, with any
SDK or the AWS CLI pointed at ``url``.

moto keeps its state per account in the process, and the embedded runtime's
own table and queues live in moto's default account in this same process:
every request to this server is answered as account ``account`` instead
(moto's ``x-moto-account-id`` header, set on each request here), so those
stay private. moto's own ``ThreadedMotoServer`` has no hook for that, so the
server is made here from the same parts (werkzeug, moto's WSGI app).
"""

from __future__ import annotations

import threading
from typing import Any

DEFAULT_ACCOUNT = "111111111111"


class ServicesServer:
    """moto's services on ``127.0.0.1`` (a free port unless given); ``start`` -> URL."""

    def __init__(
        self, *, host: str = "127.0.0.1", port: int = 0, account: str = DEFAULT_ACCOUNT
    ) -> None:
        self.host = host
        self.port = port
        self.account = account
        self._server: Any = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("the services server is not started")
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> str:
        from moto.moto_server.werkzeug_app import (
            DomainDispatcherApplication,
            MotoRequestHandler,
            create_backend_app,
        )
        from werkzeug.serving import make_server

        class QuietHandler(MotoRequestHandler):  # type: ignore[misc, valid-type]
            def log_request(self, *args: Any, **kwargs: Any) -> None:
                pass  # one line per request would drown stepq dev's own output

        app = DomainDispatcherApplication(create_backend_app)
        account = self.account

        def as_account(environ: dict[str, Any], start_response: Any) -> Any:
            environ["HTTP_X_MOTO_ACCOUNT_ID"] = account
            return app(environ, start_response)

        self._server = make_server(
            self.host, self.port, as_account, threaded=True, request_handler=QuietHandler
        )
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="stepq-services", daemon=True
        )
        self._thread.start()
        return self.url

    def close(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = self._thread = None

"""``stepq console --api-url URL``: the web console against a deployed API (or any API).

Serves the console on loopback and forwards its calls to the API, signed
here with your AWS credentials (``hosting/console_proxy.py``); the browser
never sees them. docs/CONSOLE.md, "Serving and security".
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlparse

import typer

from stepq.cli.app import CliError, app, err, guarded, out


@app.command()
@guarded
def console(
    api_url: Annotated[
        str,
        typer.Option(
            "--api-url",
            envvar="STEPQ_API_URL",
            help="The stepq API, e.g. a stack's ApiUrl (signed for execute-api with your AWS "
            "credentials); a loopback URL (stepq dev) is not signed",
        ),
    ],
    port: Annotated[int, typer.Option(help="Port to serve the console on")] = 8084,
    host: Annotated[
        str, typer.Option(help="Address to bind (loopback unless told otherwise)")
    ] = "127.0.0.1",
    region: Annotated[
        str | None,
        typer.Option(help="Signing region (default: the URL's, then AWS_REGION, the profile's)"),
    ] = None,
) -> None:
    """Serve the web console on this machine, for the API at --api-url, until interrupted."""
    from stepq.backends.aws.request_signing import ExecuteApiSigner
    from stepq.cli.api_client import is_loopback as is_loopback_url
    from stepq.errors import SigningError
    from stepq.hosting.browser_guard import is_loopback
    from stepq.hosting.console_proxy import ConsoleProxy
    from stepq.hosting.serve import stop_on_signals

    if urlparse(api_url).scheme not in ("http", "https") or not urlparse(api_url).hostname:
        raise CliError(f"--api-url must be an http(s) URL, not {api_url!r}", 2)
    try:
        signer = None if is_loopback_url(api_url) else ExecuteApiSigner(api_url, region)
        proxy = ConsoleProxy(api_url, signer=signer, host=host, port=port)
    except SigningError as exc:
        raise CliError(str(exc), 2) from None
    except ValueError as exc:
        raise CliError(str(exc), 2) from None
    except OSError as exc:  # the port is taken, the address is not ours
        raise CliError(f"cannot serve on {host}:{port}: {exc.strerror or exc}", 2) from None
    stop = stop_on_signals()
    with proxy:
        out.print(f"stepq console: {proxy.url}/ for the API at {proxy.api_url}", highlight=False)
        if signer is not None:
            out.print(
                f"requests are signed here for execute-api ({signer.region})", highlight=False
            )
        if not is_loopback(host):
            err.print(
                f"warning: bound to {host}: whoever reaches this port acts with your AWS "
                "credentials",
                style="yellow",
                highlight=False,
            )
        out.print("Ctrl-C stops", highlight=False)
        while not stop.wait(0.5):
            pass

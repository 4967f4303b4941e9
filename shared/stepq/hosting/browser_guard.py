"""What a local server checks so that no other web page can use it through a browser.

The API server (``hosting/api_server.py``) and the console proxy
(``hosting/console_proxy.py``) both run on the user's machine, where a page
from anywhere can make the browser send requests to them. Three checks stop
that:

- the ``Host`` header must be a loopback name when the server is bound to
  loopback (``is_loopback``), so DNS rebinding (a foreign name resolving to
  127.0.0.1) reaches nothing;
- a state-changing request needs the JSON content type and ``X-Amz-Target``
  (the API handler's own rule): a cross-site form can send neither, and a
  script must ask CORS first, which these servers never grant;
- a browser marks a request from another page: ``Origin`` (sent on every
  cross-origin POST) must be this server's own origin, the ``Host`` it was
  reached at, and ``Sec-Fetch-Site`` must be ``same-origin`` or ``none`` (typed
  by the user) when present (``cross_site``). Clients that are not browsers
  (boto3, the CLI) send neither header and pass.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from urllib.parse import urlparse

LOOPBACK_NAMES = {"localhost", "127.0.0.1", "::1", "[::1]"}
_OWN_FETCH_SITES = {"same-origin", "none"}


def is_loopback(host: str) -> bool:
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def host_name(header: str) -> str:
    """The name in a Host header, without its port (``[::1]:8083`` -> ``[::1]``)."""
    header = header.strip().lower()
    if header.startswith("["):
        return header.split("]")[0] + "]"
    return header.rsplit(":", 1)[0] if header.count(":") == 1 else header


def cross_site(headers: Mapping[str, str]) -> str | None:
    """Why a browser sent this request from another site's page (None: it did not).

    ``headers`` by lower-cased name.
    """
    site = headers.get("sec-fetch-site", "").strip().lower()
    if site and site not in _OWN_FETCH_SITES:
        return f"a request from another site (Sec-Fetch-Site: {site}) is refused"
    origin = headers.get("origin", "").strip()
    if not origin:
        return None
    parsed = urlparse(origin.lower())
    own = headers.get("host", "").strip().lower()
    if parsed.scheme not in ("http", "https") or not own or parsed.netloc != own:
        return f"a request from another origin ({origin[:100]}) is refused"
    return None

"""The console's static files over HTTP: ``GET /`` is its page, ``GET /console/...`` its assets.

Files come only from the installed ``stepq/console/static`` folder: a path
with ``..``, a backslash, a percent sign or a NUL is refused before any file
is looked at, and what it names must still lie inside that folder once
resolved (no symlink leads out). Types come from a short fixed table rather
than the system's mime database, so a module is always ``text/javascript``
(browsers refuse to run a module of another type). The policy header lets
the page load only its own files and talk only to its own origin.
"""

from __future__ import annotations

from pathlib import Path

from stepq.api.protocol import ApiResponse

# The package data of ``stepq.console`` (found by path: hosting does not import it).
STATIC = Path(__file__).resolve().parents[1] / "console" / "static"

PREFIX = "/console/"
INDEX = "index.html"
TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".json": "application/json",
    ".txt": "text/plain; charset=utf-8",
}
POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)


def is_console_path(path: str) -> bool:
    return path == "/" or path == "/index.html" or path.startswith(PREFIX)


def console_response(path: str, root: Path = STATIC) -> ApiResponse:
    """The file ``path`` names (its query already removed), or a plain 404."""
    name = INDEX if path in ("/", "/index.html") else path[len(PREFIX) :]
    found = _resolve(name, root)
    if found is None:
        return ApiResponse(404, b"not found\n", {"Content-Type": "text/plain; charset=utf-8"})
    headers = {
        "Content-Type": TYPES[found.suffix],
        "Cache-Control": "no-cache",  # revalidate: an upgraded stepq serves new files at once
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": POLICY,
        "Referrer-Policy": "no-referrer",
    }
    return ApiResponse(200, found.read_bytes(), headers)


def _resolve(name: str, root: Path) -> Path | None:
    if not name or any(bad in name for bad in ("..", "\\", "%", "\x00")) or name.startswith("/"):
        return None
    base = root.resolve()
    candidate = (base / name).resolve()
    if not candidate.is_relative_to(base) or not candidate.is_file():
        return None
    return candidate if candidate.suffix in TYPES else None

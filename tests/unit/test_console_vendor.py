"""The console's vendored files are the ones ``scripts/vendor_console_assets.sh`` recorded."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

STATIC = Path(__file__).resolve().parents[2] / "shared" / "stepq" / "console" / "static"


def test_console_vendored_files_match_their_lock() -> None:
    lock = json.loads((STATIC / "vendor" / "lock.json").read_text(encoding="utf-8"))
    assert lock, "vendor/lock.json names no file"
    for name, entry in lock.items():
        data = (STATIC / "vendor" / name).read_bytes()
        assert hashlib.sha256(data).hexdigest() == entry["sha256"], (
            f"vendor/{name} differs from {entry['package']}@{entry['version']}: "
            "run scripts/vendor_console_assets.sh, never edit it by hand"
        )


def test_console_loads_nothing_from_another_origin() -> None:
    for path in STATIC.rglob("*"):
        if path.suffix in (".html", ".js", ".css") and path.parent.name != "vendor":
            text = path.read_text(encoding="utf-8")
            assert "http://" not in text.replace("http://www.w3.org/2000/svg", ""), path
            assert "https://" not in text, path


def test_console_files_are_all_package_data() -> None:
    """pyproject's package-data globs cover every file the console serves (pip ships them)."""
    import fnmatch
    import tomllib

    pyproject = tomllib.loads((STATIC.parents[3] / "pyproject.toml").read_text(encoding="utf-8"))
    patterns = pyproject["tool"]["setuptools"]["package-data"]["stepq.console"]
    for path in STATIC.rglob("*"):
        if path.is_file():
            relative = path.relative_to(STATIC.parent).as_posix()
            assert any(
                fnmatch.fnmatch(relative, p) and relative.count("/") == p.count("/")
                for p in patterns
            ), relative


def test_console_keeps_to_its_content_security_policy() -> None:
    """No inline script or style (the policy refuses them), no markup built from strings."""
    import re

    page = (STATIC / "index.html").read_text(encoding="utf-8")
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", page), "an inline script"
    assert "style=" not in page and "<style" not in page
    for path in STATIC.rglob("*.js"):
        if path.parent.name == "vendor":
            continue
        text = path.read_text(encoding="utf-8")
        for banned in ("innerHTML", "outerHTML", "insertAdjacentHTML", "eval(", "new Function"):
            assert banned not in text, f"{path.name} uses {banned}"

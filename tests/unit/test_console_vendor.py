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

"""The web console's files: plain HTML, CSS and ES modules under ``static/`` (docs/CONSOLE.md).

No build step: what is here is what the browser loads, shipped as package
data and served by ``hosting/console_assets.py``. ``static/vendor/`` holds
third-party files, vendored by ``scripts/vendor_console_assets.sh`` and
pinned by ``static/vendor/lock.json``.
"""

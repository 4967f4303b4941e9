"""Debian's Chromium as the browser tests and the console benchmark start it.

Headless, offline and quiet: without the background-networking flags Chromium
tries to reach Google's hosts at every start, and this machine's closed network
refuses them. ``STEPQ_CHROMIUM`` names another binary.
"""

from __future__ import annotations

import os

CHROMIUM = os.environ.get("STEPQ_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

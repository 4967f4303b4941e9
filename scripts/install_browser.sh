#!/usr/bin/env bash
# Installs Debian's Chromium (/usr/bin/chromium) for the console's browser tests
# (tests/browser, driven by the playwright package; never `playwright install`, which
# downloads a browser of its own). Idempotent: a Chromium already there is left as it is.
# Needs root or sudo for apt-get. Without them, or off Debian/Ubuntu, it says so and
# exits 0, so the browser tests skip with the reason; under CI=true it fails instead.
set -euo pipefail

BROWSER="${STEPQ_CHROMIUM:-/usr/bin/chromium}"
say() { echo "install_browser: $*"; }
give_up() {
    if [ "${CI:-}" = "true" ]; then
        say "$1 (CI=true: the browser tests need it)"
        exit 1
    fi
    say "$1; the browser tests will skip"
    exit 0
}

if [ -x "$BROWSER" ]; then
    say "$("$BROWSER" --version 2>/dev/null || echo chromium) already installed: $BROWSER"
    exit 0
fi
command -v apt-get >/dev/null || give_up "no apt-get here: install Chromium at $BROWSER (or set STEPQ_CHROMIUM)"
SUDO=""
if [ "$(id -u)" != "0" ]; then
    command -v sudo >/dev/null && sudo -n true 2>/dev/null || give_up "apt-get needs root (sudo apt-get install chromium)"
    SUDO="sudo -n"
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq || give_up "apt-get update failed"
$SUDO apt-get install -y -qq --no-install-recommends chromium || give_up "apt-get install chromium failed"
[ -x "$BROWSER" ] || give_up "chromium installed but $BROWSER is missing"
say "$("$BROWSER" --version 2>/dev/null) installed: $BROWSER"

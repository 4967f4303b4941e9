#!/usr/bin/env bash
# Vendors the console's third-party files into shared/stepq/console/static/vendor/:
# dagre (graph layout, MIT; graphlib bundled in its dist file) from npm, pinned.
# `npm pack` fetches the package tarball into a temp dir (no node_modules, no install
# scripts run); the dist file and its licence are copied, and the file's sha256 is
# recorded in vendor/lock.json, which tests/unit/test_console_vendor.py checks.
# Run it to update: STEPQ_DAGRE_VERSION=x.y.z bash scripts/vendor_console_assets.sh
# then commit the vendor folder (the package ships it; nothing loads from a CDN).
set -euo pipefail
cd "$(dirname "$0")/.."

VERSION="${STEPQ_DAGRE_VERSION:-3.1.3}"
VENDOR=shared/stepq/console/static/vendor
say() { echo "vendor_console_assets: $*"; }

command -v npm >/dev/null || { say "npm is needed to update vendored files (not to use them)"; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack --silent "@dagrejs/dagre@$VERSION" >/dev/null && tar xzf ./*.tgz)
mkdir -p "$VENDOR"
cp "$work/package/dist/dagre.min.js" "$VENDOR/dagre.min.js"
cp "$work/package/dist/dagre.min.js.LEGAL.txt" "$VENDOR/dagre.LICENSE.txt"
sha=$(sha256sum "$VENDOR/dagre.min.js" | cut -d' ' -f1)
cat > "$VENDOR/lock.json" <<JSON
{
  "dagre.min.js": {
    "package": "@dagrejs/dagre",
    "version": "$VERSION",
    "source": "dist/dagre.min.js",
    "sha256": "$sha"
  }
}
JSON
say "@dagrejs/dagre $VERSION -> $VENDOR/dagre.min.js (sha256 $sha)"

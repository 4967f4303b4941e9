#!/usr/bin/env bash
# `sam build` of template.yaml on this machine, without Docker.
#
#   scripts/sam_build.sh [BUILD_DIR]    build into BUILD_DIR (default: a new temp folder,
#                                       printed on the last line)
#
# The functions are Runtime python3.12, and SAM's python builder insists on a
# python3.12 on PATH whatever the machine's python3 is: scripts/find_python.sh
# finds one and only that interpreter is put first on PATH for the build. The
# layer is built by shared/Makefile (BuildMethod: makefile), which fetches the
# arm64 wheels with pip, so no container is needed. The repository's own
# .aws-sam/ is left alone.
#
#   SAM                  the sam executable (default: .cache/sam-venv/bin/sam from
#                        scripts/install_sam_cli.sh, else sam on PATH)
#   STEPQ_LAYER_WHEELS   a folder of the layer's wheels (install_sam_cli.sh fills
#                        .cache/layer-wheels): pip installs from it alone, offline
#
# Exit codes: 0 built; 2 no python3.12; 3 no sam; anything else: the build failed.
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD

say() { echo "sam_build: $*" >&2; }

PYTHON312=$(bash scripts/find_python.sh 3.12) || exit 2

SAM=${SAM:-$REPO/.cache/sam-venv/bin/sam}
[ -x "$SAM" ] || SAM=$(command -v sam 2>/dev/null || true)
if [ -z "$SAM" ]; then
    say "no sam CLI: run scripts/install_sam_cli.sh"
    exit 3
fi

BUILD_DIR=${1:-$(mktemp -d "${TMPDIR:-/tmp}/stepq-sam-build.XXXXXX")}
mkdir -p "$BUILD_DIR"
BUILD_DIR=$(cd "$BUILD_DIR" && pwd)

SCRATCH=$(mktemp -d "${TMPDIR:-/tmp}/stepq-sam-scratch.XXXXXX")
trap 'rm -rf "$SCRATCH"' EXIT
mkdir "$SCRATCH/bin" "$SCRATCH/sam-app"
ln -s "$PYTHON312" "$SCRATCH/bin/python3.12"
export PATH="$SCRATCH/bin:$PATH"

# SAM's own settings folder (the variable its test suite uses): telemetry off and
# its weekly version check marked done, so a build asks nothing of the network.
export SAM_CLI_TELEMETRY=0
export __SAM_CLI_APP_DIR="$SCRATCH/sam-app"
printf '{"telemetryEnabled": false, "lastVersionCheck": %s}\n' "$(date +%s)" \
    >"$SCRATCH/sam-app/metadata.json"

if [ -n "${STEPQ_LAYER_WHEELS:-}" ]; then
    export PIP_NO_INDEX=1 PIP_FIND_LINKS
    PIP_FIND_LINKS=$(cd "$STEPQ_LAYER_WHEELS" && pwd)
fi

say "python3.12: $PYTHON312; sam: $SAM; build dir: $BUILD_DIR"
"$SAM" build \
    --template-file "$REPO/template.yaml" \
    --base-dir "$REPO" \
    --build-dir "$BUILD_DIR" \
    --parallel >&2
echo "$BUILD_DIR"

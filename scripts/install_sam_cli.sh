#!/usr/bin/env bash
# Installs what scripts/sam_build.sh needs to build offline:
#   - the AWS SAM CLI in its own virtual environment, .cache/sam-venv (it pins
#     its own boto3, aws-sam-translator and Flask, so not the project's venv; a
#     link to a venv other clones reuse, see scripts/tool_venv.sh);
#   - the Lambda layer's wheels (shared/requirements.txt, arm64, CPython 3.12)
#     in .cache/layer-wheels, so the build's pip (shared/Makefile) needs no index.
# Idempotent: an install of the pinned SAM CLI is left as it is; the wheels are
# brought up to date with requirements.txt (kept as they are when the index is
# out of reach). Used by tests/deploy_tools/test_sam_build.py.
#   STEPQ_SAM_CLI_VERSION  the aws-sam-cli release (default below)
#   PYTHON                 the interpreter the venv is made from (3.9+; default python3)
set -euo pipefail
cd "$(dirname "$0")/.."

VERSION="${STEPQ_SAM_CLI_VERSION:-1.170.0}"
WHEELS=".cache/layer-wheels"
PYTHON="${PYTHON:-python3}"
. scripts/tool_venv.sh
tool_venv sam "sam-venv-$VERSION-py$("$PYTHON" -c 'import platform; print(platform.python_version())')"
tool_venv_lock
export PIP_DISABLE_PIP_VERSION_CHECK=1

say() { echo "install_sam_cli: $*"; }

# --- the SAM CLI -------------------------------------------------------------------
installed=$("$VENV/bin/python" -c 'from importlib.metadata import version; print(version("aws-sam-cli"))' 2>/dev/null || true)
if [ "$installed" = "$VERSION" ] && [ -x "$VENV/bin/sam" ]; then
    say "aws-sam-cli $VERSION already installed: $VENV/bin/sam"
else
    "$PYTHON" -m venv --clear "$VENV"
    tool_install "aws-sam-cli==$VERSION"
    say "aws-sam-cli $VERSION installed: $VENV/bin/sam"
fi

# --- the layer's wheels, as shared/Makefile asks pip for them ------------------------
mkdir -p "$WHEELS"
if "$PYTHON" -m pip download --quiet --dest "$WHEELS" \
    --requirement shared/requirements.txt \
    --implementation cp --python-version 3.12 --only-binary=:all: \
    --platform manylinux2014_aarch64 --platform manylinux_2_28_aarch64 2>"$WHEELS/pip.log"; then
    say "layer wheels up to date: $WHEELS"
elif ls "$WHEELS"/*.whl >/dev/null 2>&1; then
    say "could not refresh the layer wheels (see $WHEELS/pip.log); keeping those in $WHEELS"
else
    say "could not download the layer wheels (see $WHEELS/pip.log)"
    exit 1
fi

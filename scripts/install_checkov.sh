#!/usr/bin/env bash
# Installs checkov into its own virtual environment, .cache/checkov-venv (it pins
# its own boto3, networkx and friends, so not the project's venv; a link to a venv
# other clones reuse, see scripts/tool_venv.sh). Used by
# tests/unit/test_template_checks.py (`checkov --skip-download` on template.yaml
# and infra/*.yaml). Idempotent: an install of the pinned version is left as it is.
#   STEPQ_CHECKOV_VERSION  the checkov release (default below)
#   PYTHON                 the interpreter the venv is made from (3.9+; default python3)
set -euo pipefail
cd "$(dirname "$0")/.."

VERSION="${STEPQ_CHECKOV_VERSION:-3.3.30}"
PYTHON="${PYTHON:-python3}"
. scripts/tool_venv.sh
tool_venv checkov "checkov-venv-$VERSION-py$("$PYTHON" -c 'import platform; print(platform.python_version())')"
tool_venv_lock
export PIP_DISABLE_PIP_VERSION_CHECK=1

say() { echo "install_checkov: $*"; }

installed=$("$VENV/bin/python" -c 'from importlib.metadata import version; print(version("checkov"))' 2>/dev/null || true)
if [ "$installed" = "$VERSION" ] && [ -x "$VENV/bin/checkov" ]; then
    say "checkov $VERSION already installed: $VENV/bin/checkov"
    exit 0
fi
"$PYTHON" -m venv --clear "$VENV"
tool_install "checkov==$VERSION"
say "checkov $VERSION installed: $VENV/bin/checkov"

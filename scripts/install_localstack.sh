#!/usr/bin/env bash
# Installs LocalStack (localstack-core with its runtime extra) into its own
# virtual environment, .cache/localstack-venv: it pins boto3/botocore and ships
# its own moto fork, so it stays out of the project's venv (a link to a venv
# other clones reuse, see scripts/tool_venv.sh). No Docker: the
# tests start it as a plain process on a loopback port
# (tests/integration/localstack_server.py: `python -m localstack.runtime.main`).
#
# localstack-core's wheel names its dependencies with open ranges, and newer
# releases of some of them break it (cbor2 6 moved a module it imports, a
# newer pyOpenSSL dropped a call it makes): its Docker image pins them, a pip
# install does not. So the install takes every dependency as it was on PyPI
# when that release came out (pip's --uploaded-prior-to). Upload times come
# from PyPI only: local indexes or wheel folders in a machine's pip
# configuration have none and would slip newer releases in, so no pip
# configuration file is read here.
#
# Idempotent: a venv made with the same settings (its .stepq-install stamp) is kept.
#   STEPQ_LOCALSTACK_VERSION      the localstack-core release (default below)
#   STEPQ_LOCALSTACK_DEPS_BEFORE  the upload-time cutoff of its dependencies
#   PYTHON                        the interpreter of the venv (default: the Python 3.13
#                                 scripts/find_python.sh finds; localstack-core's code
#                                 needs 3.13 (warnings.deprecated) though its metadata
#                                 says 3.10+)
set -euo pipefail
cd "$(dirname "$0")/.."

VERSION="${STEPQ_LOCALSTACK_VERSION:-2026.3.0}"
BEFORE="${STEPQ_LOCALSTACK_DEPS_BEFORE:-2026-04-01T00:00:00Z}"
SPEC="localstack-core[runtime]==$VERSION"
PYTHON="${PYTHON:-$(bash scripts/find_python.sh 3.13)}"
. scripts/tool_venv.sh
tool_venv localstack "localstack-venv-$VERSION-before-${BEFORE%%T*}-py$("$PYTHON" -c 'import platform; print(platform.python_version())')"
tool_venv_lock
STAMP="$VENV/.stepq-install"

say() { echo "install_localstack: $*"; }

wanted="$SPEC uploaded before $BEFORE"
if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$wanted" ] && [ -x "$VENV/bin/python" ]; then
    say "$SPEC already installed: $VENV"
    exit 0
fi
export PIP_CONFIG_FILE=/dev/null PIP_DISABLE_PIP_VERSION_CHECK=1
if [ -z "${PIP_CERT:-}" ] && [ -f /etc/ssl/certs/ca-certificates.crt ]; then
    export PIP_CERT=/etc/ssl/certs/ca-certificates.crt # the system's CAs, as pip.conf gave them
fi
"$PYTHON" -m venv --clear "$VENV"
tool_install --before "$BEFORE" "$SPEC"
"$VENV/bin/python" -c 'import localstack.aws.components' # it loads: LocalStack's gateway and services
echo "$wanted" >"$STAMP"
say "$SPEC installed: $VENV"

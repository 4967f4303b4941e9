#!/usr/bin/env bash
# The offline checks of the deploy templates, as CI runs them in
# tests/unit/test_template_checks.py: cfn-lint, checkov and `sam validate --lint`
# on template.yaml and infra/*.yaml. Needs scripts/install_checkov.sh and
# scripts/install_sam_cli.sh first (their venvs under .cache/). No AWS access:
# dummy credentials, no metadata service, no telemetry.
#   VENV_BIN  the project's venv bin (cfn-lint), default .venv/bin
set -euo pipefail
cd "$(dirname "$0")/.."

VENV_BIN="${VENV_BIN:-.venv/bin}"
CHECKOV=.cache/checkov-venv/bin/checkov
SAM=.cache/sam-venv/bin/sam
export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_DEFAULT_REGION=us-east-1
export AWS_EC2_METADATA_DISABLED=true SAM_CLI_TELEMETRY=0 BC_SKIP_MAPPING=TRUE
unset AWS_PROFILE AWS_SESSION_TOKEN

templates=(template.yaml infra/*.yaml)

echo "check_templates: cfn-lint ${templates[*]}"
"$VENV_BIN/cfn-lint" "${templates[@]}"

[ -x "$CHECKOV" ] || { echo "check_templates: $CHECKOV missing: run scripts/install_checkov.sh" >&2; exit 3; }
echo "check_templates: checkov"
args=()
for t in "${templates[@]}"; do args+=(--file "$t"); done
"$CHECKOV" --skip-download --quiet --compact --framework cloudformation "${args[@]}"

[ -x "$SAM" ] || { echo "check_templates: $SAM missing: run scripts/install_sam_cli.sh" >&2; exit 3; }
echo "check_templates: sam validate --lint"
"$SAM" validate --lint --template-file template.yaml
echo "check_templates: all clean"

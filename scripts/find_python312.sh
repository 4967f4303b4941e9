#!/usr/bin/env bash
# Prints the path of a working Python 3.12, or says none was found and exits 2.
# Looks at STEPQ_PYTHON312, python3.12 on PATH, pyenv's versions, uv's
# installed Pythons and the usual prefixes; each candidate is run, since a
# pyenv shim named python3.12 is on PATH even where 3.12 is not selected.
# Used by scripts/sam_build.sh (the functions' runtime is python3.12) and
# scripts/install_localstack.sh (localstack-core's code needs 3.12).
set -uo pipefail

is_312() { [ -n "$1" ] && [ -x "$1" ] && "$1" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 12))' 2>/dev/null; }

candidates=()
[ -n "${STEPQ_PYTHON312:-}" ] && candidates+=("$STEPQ_PYTHON312")
found=$(command -v python3.12 2>/dev/null) && candidates+=("$found")
roots=("${PYENV_ROOT:-$HOME/.pyenv}" /root/.pyenv)
if command -v pyenv >/dev/null 2>&1; then
    found=$(pyenv root 2>/dev/null) && roots=("$found" "${roots[@]}")
fi
for root in "${roots[@]}"; do
    while IFS= read -r found; do
        candidates+=("$found")
    done < <(ls -d "$root"/versions/3.12*/bin/python3.12 2>/dev/null | sort -rV)
done
if command -v uv >/dev/null 2>&1; then
    found=$(uv python find --no-python-downloads 3.12 2>/dev/null) && candidates+=("$found")
fi
candidates+=(/usr/local/bin/python3.12 /usr/bin/python3.12)

for candidate in "${candidates[@]}"; do
    if is_312 "$candidate"; then
        echo "$candidate"
        exit 0
    fi
done
echo "find_python312: no Python 3.12 found (tried STEPQ_PYTHON312, PATH, pyenv, uv, /usr/local/bin, /usr/bin): install one (e.g. 'pyenv install 3.12') or set STEPQ_PYTHON312" >&2
exit 2

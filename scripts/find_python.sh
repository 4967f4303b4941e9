#!/usr/bin/env bash
# scripts/find_python.sh X.Y: prints the path of a working Python X.Y, or says
# none was found and exits 2. Looks at STEPQ_PYTHON<XY> (e.g. STEPQ_PYTHON312),
# pythonX.Y on PATH, pyenv's versions, uv's installed Pythons and the usual
# prefixes; each candidate is run, since a pyenv shim named pythonX.Y is on
# PATH even where that version is not selected.
# Used by scripts/sam_build.sh (3.12: the functions' runtime) and
# scripts/install_localstack.sh (3.13: localstack-core's code needs it).
set -uo pipefail

want=${1:?usage: find_python.sh X.Y}
override="STEPQ_PYTHON${want//./}"

is_wanted() {
    [ -n "$1" ] && [ -x "$1" ] &&
        [ "$("$1" -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null)" = "$want" ]
}

candidates=()
[ -n "${!override:-}" ] && candidates+=("${!override}")
found=$(command -v "python$want" 2>/dev/null) && candidates+=("$found")
roots=("${PYENV_ROOT:-$HOME/.pyenv}" /root/.pyenv)
if command -v pyenv >/dev/null 2>&1; then
    found=$(pyenv root 2>/dev/null) && roots=("$found" "${roots[@]}")
fi
for root in "${roots[@]}"; do
    while IFS= read -r found; do
        candidates+=("$found")
    done < <(ls -d "$root/versions/$want".*/bin/"python$want" 2>/dev/null | sort -rV)
done
if command -v uv >/dev/null 2>&1; then
    found=$(uv python find --no-python-downloads "$want" 2>/dev/null) && candidates+=("$found")
fi
candidates+=("/usr/local/bin/python$want" "/usr/bin/python$want")

for candidate in "${candidates[@]}"; do
    if is_wanted "$candidate"; then
        echo "$candidate"
        exit 0
    fi
done
echo "find_python: no Python $want found (tried $override, PATH, pyenv, uv, /usr/local/bin, /usr/bin): install one (e.g. 'pyenv install $want') or set $override" >&2
exit 2

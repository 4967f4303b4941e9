# Sourced by the install scripts: where a tool's virtual environment lives.
#
# tool_venv NAME KEY sets VENV to a venv kept in the user's cache under KEY (what
# it holds: tool, version, Python) and makes .cache/NAME-venv a link to it, so
# that another clone of the repository on this machine (CI's is a fresh one each
# run) reuses the install instead of spending minutes on it again. A venv cannot
# be moved once made, hence a link rather than a copy.
# STEPQ_TOOLS_CACHE: that cache (default ~/.cache/stepq-tools); "off" keeps the
# venv in .cache/NAME-venv itself.
# tool_venv_lock holds a lock on VENV until the script exits (two installs at once).
tool_venv() {
    local name=$1 key=$2
    local link=".cache/$name-venv"
    local store=${STEPQ_TOOLS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/stepq-tools}
    mkdir -p .cache
    if [ "$store" = off ]; then
        [ -L "$link" ] && rm -f "$link"
        VENV=$link
        return
    fi
    mkdir -p "$store"
    VENV="$store/$key"
    if [ -e "$link" ] && [ ! -L "$link" ]; then
        rm -rf "$link" # a venv made in place by an earlier version of the script
    fi
    ln -sfn "$VENV" "$link"
}

tool_venv_lock() {
    exec 9>"$VENV.lock"
    flock 9
}

# tool_install [--before ISO-INSTANT] REQUIREMENT...: install into VENV. With uv
# (the project's venv has it: `make install`), which downloads and unpacks in
# parallel: a cold LocalStack install took 44 s instead of pip's 171 s. uv reads
# no pip configuration, as these installs want (PyPI only, upload times exist
# there). If uv is missing or fails (an old one, a proxy it cannot pass), pip does it.
# --before: only releases uploaded before that instant (pip's --uploaded-prior-to).
tool_install() {
    local before=""
    if [ "${1:-}" = --before ]; then
        before=$2
        shift 2
    fi
    local uv=${UV:-.venv/bin/uv}
    if [ -x "$uv" ]; then
        local uv_args=(pip install --quiet --python "$VENV/bin/python" --index-url https://pypi.org/simple)
        [ -n "$before" ] && uv_args+=(--exclude-newer "$before")
        if [ -f /etc/ssl/certs/ca-certificates.crt ] && [ -z "${SSL_CERT_FILE:-}" ]; then
            SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt "$uv" "${uv_args[@]}" "$@" && return 0
        else
            "$uv" "${uv_args[@]}" "$@" && return 0
        fi
        echo "tool_install: uv could not install $*; trying pip" >&2
    fi
    local pip_args=(install --quiet)
    if [ -n "$before" ]; then
        "$VENV/bin/python" -m pip install --quiet "pip>=26.3" # the first with --uploaded-prior-to
        pip_args+=(--uploaded-prior-to "$before")
    fi
    "$VENV/bin/python" -m pip "${pip_args[@]}" "$@"
}

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

# shellcheck shell=bash
# Sourced by scripts/run and scripts/test (from the repository root): is the package
# installed into .venv from THIS checkout, and installing it.
#
# Installed means: the console scripts exist, the venv's interpreter, started outside the
# checkout (so the source tree itself is not on sys.path), imports watchdog_agent from
# this checkout, and pyproject.toml has not changed since that install (a stamp in .venv
# holds its hash). A .venv copied from elsewhere, an install that stopped half-way or a
# new dependency all fail the check, and the caller installs again.

VENV_STAMP=.venv/.watchdog-agent-installed

venv_pyproject_hash() {
    sha256sum pyproject.toml | cut -d' ' -f1
}

venv_ready() {
    local here found
    here=$(pwd -P)
    [ -x .venv/bin/watchdog-agent ] && [ -x .venv/bin/dstats ] || return 1
    [ "$(cat "$VENV_STAMP" 2>/dev/null)" = "$(venv_pyproject_hash)" ] || return 1
    found=$(cd / && "$here/.venv/bin/python" -I -c \
        'import os, watchdog_agent; print(os.path.realpath(watchdog_agent.__file__))' \
        2>/dev/null) || return 1
    [ "$found" = "$here/watchdog_agent/__init__.py" ]
}

# venv_install SPEC: pip install -e SPEC ('.' or '.[test]') into .venv, then check it
# took. pip's output goes to stderr; returns non-zero with a message when it failed.
venv_install() {
    rm -f "$VENV_STAMP"
    .venv/bin/pip install -q -e "$1" >&2 || return 1
    venv_pyproject_hash >"$VENV_STAMP"
    if ! venv_ready; then
        echo "error: the install into .venv did not take (no .venv/bin/watchdog-agent, or" \
            "watchdog_agent does not import from $(pwd -P)); remove .venv and retry" >&2
        return 1
    fi
}

# shellcheck shell=bash
# Sourced by scripts/test, scripts/mailtls and scripts/lock: the project's own Python
# environment, a venv inside the checkout. Never the system interpreter's site-packages: a
# distribution Python refuses that anyway (PEP 668, "externally-managed-environment"), and it
# would mix our pins with the system's packages.

MAILTLS_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
MAILTLS_CONSTRAINTS="$MAILTLS_ROOT/constraints.txt"

say() { echo "mailtls: $*" >&2; }
die() { say "$*"; exit 3; }

# The interpreter the venv is made from: $PYTHON, else the first python3.x >= 3.11 on PATH.
mailtls_python() {
    local candidate
    for candidate in ${PYTHON:-python3 python3.13 python3.12 python3.11}; do
        if command -v "$candidate" >/dev/null 2>&1 \
            && "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
            command -v "$candidate"
            return 0
        fi
    done
    die "needs Python 3.11 or newer (python3 on PATH, or PYTHON=/path/to/python3.11)"
}

_make_venv() {  # DIR
    local dir=$1 python
    python=$(mailtls_python)
    say "creating the virtual environment ${dir#"$MAILTLS_ROOT"/} (from $python)"
    if "$python" -m venv "$dir" 2>/dev/null; then
        return 0
    fi
    rm -rf "$dir"
    # Debian/Ubuntu ship venv's pip bootstrap (ensurepip) in a separate package.
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        bash "$MAILTLS_ROOT/scripts/install/python-venv.sh" "$python"
        "$python" -m venv "$dir" && return 0
        rm -rf "$dir"
    fi
    die "'$python -m venv' failed; on Debian/Ubuntu install python3-venv" \
        "(as root: apt-get install python3-venv) and run this again"
}

# ensure_venv DIR MODE EXTRAS: a venv at DIR with mailtls installed (editable) and
#   MODE   locked: every package at the version pinned in constraints.txt (the default)
#          latest: the newest release of every dependency allowed by pyproject.toml
#   EXTRAS core: what `mailtls` needs; test: also the test suite's tools (a superset)
# Reinstalls only when pyproject.toml or constraints.txt changed (a stamp file in the venv),
# so a second run costs nothing; "latest" always asks the index again.
ensure_venv() {
    local dir=$1 mode=$2 extras=$3 key stamp spec
    stamp="$dir/.mailtls-installed"
    key=$( { cat "$MAILTLS_ROOT/pyproject.toml"
             if [ "$mode" = locked ]; then cat "$MAILTLS_CONSTRAINTS"; fi
             echo "$mode"; } | sha256sum | cut -c1-16)
    if [ "$mode" = locked ] && [ -x "$dir/bin/python" ] && [ -r "$stamp" ] \
        && { grep -qx "$key test" "$stamp" || grep -qx "$key $extras" "$stamp"; }; then
        return 0
    fi
    [ -x "$dir/bin/python" ] || _make_venv "$dir"
    spec="$MAILTLS_ROOT"
    [ "$extras" = test ] && spec="$MAILTLS_ROOT[test]"
    local what="mailtls"
    [ "$extras" = test ] && what="mailtls and the test tools (pytest, ruff, mypy, ...)"
    if [ "$mode" = locked ]; then
        say "installing $what into ${dir#"$MAILTLS_ROOT"/}, every package at the version pinned" \
            "in constraints.txt"
        # PIP_CONSTRAINT (not -c) also pins the build backend in pip's isolated build env.
        PIP_CONSTRAINT="$MAILTLS_CONSTRAINTS" "$dir/bin/python" -m pip install --quiet \
            --disable-pip-version-check -e "$spec" \
            || die "pip could not install from constraints.txt (see above)"
    else
        say "installing $what into ${dir#"$MAILTLS_ROOT"/}, the NEWEST release of every" \
            "dependency (no constraints.txt)"
        "$dir/bin/python" -m pip install --quiet --disable-pip-version-check \
            --upgrade --upgrade-strategy eager -e "$spec" \
            || die "pip could not install the newest releases (see above)"
    fi
    echo "$key $extras" > "$stamp"
}

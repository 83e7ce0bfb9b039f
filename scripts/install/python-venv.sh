#!/usr/bin/env bash
# Python's venv module with its pip bootstrap (ensurepip), which Debian and Ubuntu ship apart
# from python3: scripts/test and scripts/mailtls make the project's .venv with it.
#
# Idempotent: installs python3-venv (and python3.X-venv for the given interpreter) only when
# `python -m venv` cannot bootstrap pip. Needs root and apt; anywhere else it says why and
# exits 0. Starts, stops and reconfigures no service.
# Usage: scripts/install/python-venv.sh [PYTHON]
set -euo pipefail

python=${1:-python3}
say() { echo "install/python-venv: $*"; }

if ! command -v "$python" >/dev/null 2>&1; then
    say "no $python here: nothing to do"
    exit 0
fi
if ! command -v dpkg-query >/dev/null 2>&1; then
    exit 0  # not Debian/Ubuntu: venv comes with Python
fi
installed() { dpkg-query -W -f='${db:Status-Abbrev}' "$1" 2>/dev/null | grep -q '^ii'; }
# Only a distribution interpreter lacks its venv part; a pyenv/uv/self-built one has it.
real=$(readlink -f "$(command -v "$python")")
if ! dpkg-query -S "$real" >/dev/null 2>&1; then
    exit 0
fi
version=$("$python" -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')
packages=()
for pkg in python3-venv "python$version-venv"; do
    installed "$pkg" || packages+=("$pkg")
done
if [ "${#packages[@]}" = 0 ]; then
    exit 0
fi
if ! command -v apt-get >/dev/null 2>&1 || [ "$(id -u)" != 0 ]; then
    say "$python cannot make a venv with pip without ${packages[*]} (as root: apt-get install ${packages[*]})"
    exit 0
fi
say "installing ${packages[*]} (apt-get)"
export DEBIAN_FRONTEND=noninteractive
if ! apt-get install -y -q --no-install-recommends "${packages[@]}"; then
    say "install failed; refreshing the package lists once and retrying"
    apt-get update -q
    apt-get install -y -q --no-install-recommends "${packages[@]}"
fi

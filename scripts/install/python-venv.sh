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
source "$(dirname "$0")/../lib/apt.sh"
APT_WHO=install/python-venv
say() { apt_say "$@"; }

if ! command -v "$python" >/dev/null 2>&1; then
    say "no $python here: nothing to do"
    exit 0
fi
if ! command -v dpkg-query >/dev/null 2>&1; then
    exit 0  # not Debian/Ubuntu: venv comes with Python
fi
# Only a distribution interpreter lacks its venv part; a pyenv/uv/self-built one has it.
real=$(readlink -f "$(command -v "$python")")
if ! dpkg-query -S "$real" >/dev/null 2>&1; then
    exit 0
fi
version=$("$python" -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')
packages=()
for pkg in python3-venv "python$version-venv"; do
    deb_installed "$pkg" || packages+=("$pkg")
done
if [ "${#packages[@]}" = 0 ]; then
    exit 0
fi
if ! command -v apt-get >/dev/null 2>&1 || [ "$(id -u)" != 0 ]; then
    say "$python cannot make a venv with pip without ${packages[*]} (as root: apt install ${packages[*]})"
    exit 0
fi
apt_say "installing ${packages[*]} (apt-get)"
apt_install "${packages[@]}"

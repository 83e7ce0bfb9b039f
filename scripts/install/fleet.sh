#!/usr/bin/env bash
# Install redis-server and PostgreSQL (Debian packages) for tests/fleet and
# benchmarks/fleet.py. The tests start PRIVATE instances (their own temp directory,
# configuration and loopback port; PostgreSQL: initdb as the postgres user); they never use,
# start or stop the system's services.
#
# Idempotent: installs only what is missing. While it installs, a temporary
# /usr/sbin/policy-rc.d (only if none exists) keeps the packages' maintainer scripts from
# starting the services. It never stops, disables or reconfigures a service. Needs root and
# apt; anywhere else it says why and exits 0 (tests/fleet then skip what they cannot start).
set -euo pipefail

PACKAGES=(redis-server postgresql)

say() { echo "install/fleet: $*"; }

installed() {
    dpkg-query -W -f='${db:Status-Abbrev}' "$1" 2>/dev/null | grep -q '^ii'
}

if ! command -v apt-get >/dev/null 2>&1 || ! command -v dpkg-query >/dev/null 2>&1; then
    say "no apt/dpkg here: not installing ${PACKAGES[*]}"
    exit 0
fi

missing=()
for pkg in "${PACKAGES[@]}"; do
    installed "$pkg" || missing+=("$pkg")
done
if [ "${#missing[@]}" -eq 0 ]; then
    say "already installed: ${PACKAGES[*]}"
    exit 0
fi
if [ "$(id -u)" != 0 ]; then
    say "not root: cannot install ${missing[*]}"
    exit 0
fi

policy=/usr/sbin/policy-rc.d
ours=""
if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' > "$policy"
    chmod 755 "$policy"
    ours=1
fi
cleanup() { if [ -n "$ours" ]; then rm -f "$policy"; fi; }
trap cleanup EXIT

say "installing ${missing[*]} (services not started)"
export DEBIAN_FRONTEND=noninteractive
apt-get -o DPkg::Lock::Timeout=900 update -qq
apt-get -o DPkg::Lock::Timeout=900 install -y -qq --no-install-recommends "${missing[@]}"
say "done"

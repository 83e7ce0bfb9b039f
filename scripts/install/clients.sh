#!/usr/bin/env bash
# Install the real mail clients that tests/serve runs against 'mailtls serve': curl (IMAP,
# POP3, SMTP), msmtp (SMTP with GnuTLS) and isync's mbsync (IMAP with OpenSSL).
#
# Idempotent: installs only what is missing; starts, stops and configures no service (these are
# plain programs; a temporary policy-rc.d is used anyway while installing). Needs root and apt
# (Debian/Ubuntu); anywhere else it says why and exits 0, and the tests of a missing client skip.
set -euo pipefail

PACKAGES=(curl msmtp isync)

say() { echo "install/clients: $*"; }

installed() {
    dpkg-query -W -f='${db:Status-Abbrev}' "$1" 2>/dev/null | grep -q '^ii'
}

if ! command -v apt-get >/dev/null 2>&1 || ! command -v dpkg-query >/dev/null 2>&1; then
    say "no apt/dpkg here: not installing ${PACKAGES[*]} (their tests will skip)"
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
    say "not root: cannot install ${missing[*]} (their tests will skip)"
    exit 0
fi

say "installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
own_policy=""
if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\n# installed by mailtls scripts/install/clients.sh\nexit 101\n' \
        > /usr/sbin/policy-rc.d
    chmod 755 /usr/sbin/policy-rc.d
    own_policy=1
fi
cleanup() { if [ -n "$own_policy" ]; then rm -f /usr/sbin/policy-rc.d; fi; }
trap cleanup EXIT

apt_install() {
    apt-get -o DPkg::Lock::Timeout=900 install -y -q --no-install-recommends "${missing[@]}"
}
if ! apt_install; then
    say "install failed; refreshing the package lists once and retrying"
    apt-get -o DPkg::Lock::Timeout=900 update -q
    apt_install
fi
say "done"

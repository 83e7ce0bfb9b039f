#!/usr/bin/env bash
# Real Postfix and Dovecot (Debian packages) for the interoperability suite in tests/interop.
# The tests start PRIVATE instances (own configuration, own temp directory, own loopback
# addresses 127.0.0.11-17) and stop them again; the system's instances and their
# configuration are never used, started, stopped, disabled, masked or changed by this script.
#
# Idempotent: installs only the packages that are missing and says which. While it installs,
# a temporary /usr/sbin/policy-rc.d (only if there is none) keeps the maintainer scripts from
# starting the services now. Needs root and apt (Debian/Ubuntu); anywhere else it says why and
# exits 0, and tests/interop skips itself with a clear message.
set -euo pipefail

PACKAGES=(postfix dovecot-core dovecot-imapd dovecot-pop3d dovecot-lmtpd)

say() { echo "install/interop: $*"; }

installed() {
    dpkg-query -W -f='${db:Status-Abbrev}' "$1" 2>/dev/null | grep -q '^ii'
}

if ! command -v apt-get >/dev/null 2>&1 || ! command -v dpkg-query >/dev/null 2>&1; then
    say "no apt/dpkg here: not installing Postfix/Dovecot (tests/interop will skip)"
    exit 0
fi
missing=()
for pkg in "${PACKAGES[@]}"; do
    installed "$pkg" || missing+=("$pkg")
done
if [ "${#missing[@]}" -gt 0 ] && [ "$(id -u)" != 0 ]; then
    say "not root: not installing ${missing[*]} (tests/interop will skip)"
    exit 0
fi

if [ "${#missing[@]}" -gt 0 ]; then
    say "installing ${missing[*]} (apt-get; their services are not started now)"
    export DEBIAN_FRONTEND=noninteractive
    if [[ " ${missing[*]} " == *" postfix "* ]]; then
        # A first install of Postfix asks what kind of mail system this is: "No configuration"
        # writes no main.cf. The tests never read /etc/postfix.
        echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
    fi

    # Keep maintainer scripts from starting the services (Debian's policy-rc.d convention);
    # only our own temporary one is removed again.
    own_policy=""
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        printf '#!/bin/sh\n# temporary, from mailtls scripts/install/interop.sh\nexit 101\n' \
            > /usr/sbin/policy-rc.d
        chmod 755 /usr/sbin/policy-rc.d
        own_policy=1
    fi
    cleanup() { if [ -n "$own_policy" ]; then rm -f /usr/sbin/policy-rc.d; fi; }
    trap cleanup EXIT

    apt_install() {
        apt-get install -y -q --no-install-recommends \
            -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold \
            "${missing[@]}"
    }
    if ! apt_install; then
        say "install failed; refreshing the package lists once and retrying"
        apt-get update -q
        apt_install
    fi
    cleanup
    trap - EXIT
fi

for bin in /usr/sbin/postfix /usr/sbin/postconf /usr/sbin/dovecot; do
    [ -x "$bin" ] || { say "missing $bin after install" >&2; exit 1; }
done

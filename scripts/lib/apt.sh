# shellcheck shell=bash
# Sourced by every scripts/install/*.sh: the one way this project installs Debian packages.
#
#   source "$(dirname "$0")/../lib/apt.sh"
#   APT_WHO=install/NAME        # prefix of every message
#   install_missing "WHAT SKIPS WITHOUT THEM" PKG...
#
# install_missing installs only the packages that are missing, and says which. While apt runs,
# a temporary /usr/sbin/policy-rc.d (only if there is none; only ours is removed again) keeps the
# maintainer scripts from starting any service now. It never starts, stops, disables, masks or
# reconfigures a service, and keeps every existing configuration file (--force-confold).
# Without apt/dpkg, or without root, it says why and returns 0: the tests that need the
# packages then skip (or fail where a MAILTLS_*=require asks for them).

APT_WHO=${APT_WHO:-install}
apt_say() { echo "$APT_WHO: $*"; }

deb_installed() {  # PKG
    dpkg-query -W -f='${db:Status-Abbrev}' "$1" 2>/dev/null | grep -q '^ii'
}

_apt_policy_ours=""
_apt_policy_remove() {
    if [ -n "$_apt_policy_ours" ]; then rm -f /usr/sbin/policy-rc.d; _apt_policy_ours=""; fi
}
_apt_policy_add() {
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        printf '#!/bin/sh\n# temporary, from mailtls scripts/lib/apt.sh\nexit 101\n' \
            > /usr/sbin/policy-rc.d
        chmod 755 /usr/sbin/policy-rc.d
        _apt_policy_ours=1
        trap _apt_policy_remove EXIT
    fi
}

_apt_get() {  # ARGS...: another apt (or another helper's install) may hold the lock a while
    apt-get -o DPkg::Lock::Timeout=900 "$@"
}

# Install PKG... now (all assumed missing); refresh the package lists once if apt cannot find
# them (a fresh machine may have none, or old ones).
apt_install() {  # PKG...
    export DEBIAN_FRONTEND=noninteractive
    _apt_policy_add
    local options=(-y -q --no-install-recommends
                   -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold)
    if ! _apt_get install "${options[@]}" "$@"; then
        apt_say "install failed; refreshing the package lists once and retrying"
        _apt_get update -q
        _apt_get install "${options[@]}" "$@"
    fi
    _apt_policy_remove
}

# Can this run install anything? Says why not (naming WHAT skips) and returns 1 when not.
apt_usable() {  # WHAT
    if ! command -v apt-get >/dev/null 2>&1 || ! command -v dpkg-query >/dev/null 2>&1; then
        apt_say "no apt/dpkg here: not installing anything (${1} will skip)"
        return 1
    fi
    if [ "$(id -u)" != 0 ]; then
        apt_say "not root: not installing anything (${1} will skip unless installed)"
        return 1
    fi
}

install_missing() {  # WHAT PKG...
    local what=$1
    shift
    command -v dpkg-query >/dev/null 2>&1 || { apt_usable "$what" || true; return 0; }
    local missing=() pkg
    for pkg in "$@"; do
        deb_installed "$pkg" || missing+=("$pkg")
    done
    if [ "${#missing[@]}" -eq 0 ]; then
        apt_say "already installed: $*"
        return 0
    fi
    apt_usable "$what" || return 0
    apt_say "installing ${missing[*]} (apt-get, no recommends; no service is started)"
    apt_install "${missing[@]}"
}

#!/usr/bin/env bash
# Chromium (Debian's package) for the HTML report's browser test (tests/report/test_html_browser.py):
# the test opens a report in headless Chromium, takes a screenshot and reads the DOM and the
# console. Chromium runs there with a fresh --user-data-dir, without network, and is never
# started as a service; this script installs nothing else and configures nothing.
#
# Idempotent: installs chromium only when it is missing, and says so. While it installs, a
# temporary /usr/sbin/policy-rc.d (only if there is none) keeps maintainer scripts from starting
# any service. Needs root and apt (Debian/Ubuntu); anywhere else it says why and exits 0, and
# the browser test skips with a message (it fails instead when MAILTLS_BROWSER=require).
set -euo pipefail

PACKAGES=(chromium)

say() { echo "install/chromium: $*"; }

installed() {
    dpkg-query -W -f='${db:Status-Abbrev}' "$1" 2>/dev/null | grep -q '^ii'
}

if ! command -v apt-get >/dev/null 2>&1 || ! command -v dpkg-query >/dev/null 2>&1; then
    say "no apt/dpkg here: not installing Chromium (the HTML browser test will skip)"
    exit 0
fi

missing=()
for pkg in "${PACKAGES[@]}"; do
    installed "$pkg" || missing+=("$pkg")
done
if [ "${#missing[@]}" -eq 0 ]; then
    say "chromium is installed"
    exit 0
fi
if [ "$(id -u)" != 0 ]; then
    say "not root: not installing ${missing[*]} (the HTML browser test will skip)"
    exit 0
fi

say "installing ${missing[*]} (apt-get, no recommends; no service is started)"
export DEBIAN_FRONTEND=noninteractive
own_policy=""
if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\n# temporary, from mailtls scripts/install/chromium.sh\nexit 101\n' \
        > /usr/sbin/policy-rc.d
    chmod 755 /usr/sbin/policy-rc.d
    own_policy=1
fi
cleanup() { if [ -n "$own_policy" ]; then rm -f /usr/sbin/policy-rc.d; fi; }
trap cleanup EXIT

if ! apt-get -o DPkg::Lock::Timeout=900 install -y -q --no-install-recommends "${missing[@]}"; then
    say "apt-get install failed; updating the package lists once and trying again"
    apt-get -o DPkg::Lock::Timeout=900 update -q
    apt-get -o DPkg::Lock::Timeout=900 install -y -q --no-install-recommends "${missing[@]}"
fi
say "installed ${missing[*]}"

#!/usr/bin/env bash
# Real servers for the other secure ports of a mail host (tests/interop/test_interop_ports.py):
# slapd + ldap-utils (LDAP 389/636), vsftpd (FTP 21/990), nginx-light (HTTP 80/443) and INN's
# nnrpd (NNTP 119/563). The tests run private instances with their own configuration under a
# temp directory; this script only installs what is missing.
#
# It never starts, stops, disables or reconfigures a system service, and writes no file in /etc
# that configures one. Maintainer scripts are kept from starting services with a temporary
# /usr/sbin/policy-rc.d (exit 101), only when none exists, removed again afterwards.
#
# INN (inn2) is the exception to "install the package": its maintainer script fails unless the
# machine's host name has a domain in /etc/news/inn.conf, and fixing that means configuring a
# system service. So when inn2 is not (at least) unpacked already, its .deb and inn2-inews' are
# downloaded with apt-get and extracted with dpkg-deb into $INN_ROOT (default /opt/mailtls-inn2),
# outside dpkg's database; their shared libraries are installed as packages (no services).
# The tests find nnrpd there.
#
# Idempotent. Needs root and apt (Debian/Ubuntu); anywhere else it says why and exits 0 (the
# tests then skip, or fail under MAILTLS_INTEROP=require).
set -euo pipefail

source "$(dirname "$0")/../lib/apt.sh"
APT_WHO=install/ports
INN_ROOT=${INN_ROOT:-/opt/mailtls-inn2}

install_missing "the other ports' interop tests" slapd ldap-utils vsftpd nginx-light
apt_usable "the NNTP interop tests" || exit 0

if [ -x /usr/lib/news/bin/nnrpd ]; then
    apt_say "inn2 already unpacked (/usr/lib/news/bin/nnrpd): nothing to do"
elif [ -x "$INN_ROOT/usr/lib/news/bin/nnrpd" ]; then
    apt_say "inn2 already extracted to $INN_ROOT"
else
    # a fresh machine may have no package lists yet: apt-cache would find nothing
    apt-cache show inn2 >/dev/null 2>&1 || apt-get -o DPkg::Lock::Timeout=900 update -q
    # the shared libraries nnrpd links against (lib* dependencies of inn2): plain packages
    libs=$(apt-cache depends inn2 | awk '/^ *(Pre)?Depends: lib/ {print $2}' | sort -u)
    libs_missing=()
    for pkg in $libs; do deb_installed "$pkg" || libs_missing+=("$pkg"); done
    if [ "${#libs_missing[@]}" -gt 0 ]; then
        apt_say "installing inn2's libraries: ${libs_missing[*]}"
        apt_install "${libs_missing[@]}"
    fi
    work=$(mktemp -d)
    chmod 755 "$work"  # apt-get download writes as _apt
    apt_say "downloading inn2 and inn2-inews, extracting them to $INN_ROOT (not configured)"
    (cd "$work" && apt-get download inn2 inn2-inews >/dev/null)
    mkdir -p "$INN_ROOT"
    for deb in "$work"/*.deb; do dpkg-deb -x "$deb" "$INN_ROOT"; done
    rm -rf "$work"
fi

#!/usr/bin/env bash
# Real Postfix and Dovecot (Debian packages) for the interoperability suite in tests/interop.
# The tests start PRIVATE instances (own configuration, own temp directory, own loopback
# addresses 127.0.0.11-17, 127.0.0.30) and stop them again; the system's instances and their
# configuration are never used, started, stopped, disabled, masked or changed by this script.
# Idempotent, installs only what is missing, starts no service (scripts/lib/apt.sh); without
# root or apt tests/interop skips itself with a clear message.
set -euo pipefail
source "$(dirname "$0")/../lib/apt.sh"
APT_WHO=install/interop

if command -v debconf-set-selections >/dev/null 2>&1 && [ "$(id -u)" = 0 ] \
        && ! deb_installed postfix; then
    # A first install of Postfix asks what kind of mail system this is: "No configuration"
    # writes no main.cf. The tests never read /etc/postfix.
    echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
fi
install_missing "tests/interop" postfix dovecot-core dovecot-imapd dovecot-pop3d dovecot-lmtpd

if deb_installed postfix && deb_installed dovecot-core; then
    for bin in /usr/sbin/postfix /usr/sbin/postconf /usr/sbin/dovecot; do
        [ -x "$bin" ] || { apt_say "missing $bin after install" >&2; exit 1; }
    done
fi

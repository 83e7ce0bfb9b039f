#!/usr/bin/env bash
# The real mail clients that tests/serve runs against 'mailtls serve': curl (IMAP, POP3, SMTP),
# msmtp (SMTP with GnuTLS) and isync's mbsync (IMAP with OpenSSL). Plain programs, no service.
# Idempotent, installs only what is missing (scripts/lib/apt.sh); the tests of a missing client
# skip.
set -euo pipefail
source "$(dirname "$0")/../lib/apt.sh"
APT_WHO=install/clients
install_missing "the tests of a missing client" curl msmtp isync

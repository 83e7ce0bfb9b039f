#!/usr/bin/env bash
# Chromium (Debian's package) for the HTML report's browser test (tests/report/test_html_browser.py):
# the test opens a report in headless Chromium, takes a screenshot and reads the DOM and the
# console. Chromium runs there with a fresh --user-data-dir, without network, and is never
# started as a service. Idempotent, installs only what is missing (scripts/lib/apt.sh); the
# browser test skips without it, or fails when MAILTLS_BROWSER=require.
set -euo pipefail
source "$(dirname "$0")/../lib/apt.sh"
APT_WHO=install/chromium
install_missing "the HTML browser test" chromium

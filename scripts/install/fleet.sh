#!/usr/bin/env bash
# redis-server and PostgreSQL (Debian packages) for tests/fleet and benchmarks/fleet.py. The
# tests start PRIVATE instances (their own temp directory, configuration and loopback port;
# PostgreSQL: initdb as the postgres user); they never use, start or stop the system's services.
# Idempotent, installs only what is missing, starts no service (scripts/lib/apt.sh).
set -euo pipefail
source "$(dirname "$0")/../lib/apt.sh"
APT_WHO=install/fleet
install_missing "tests/fleet's Redis and PostgreSQL tests" redis-server postgresql

"""Fixtures of the interoperability suite: real Postfix and Dovecot, checked by mailtls.

One session fixture starts every profile of ``interop_servers.PROFILES`` once (in parallel, a
few seconds) and stops them all at the end, also when tests fail. ``mailtls_check(profile)``
runs ``python -m mailtls check`` against a profile exactly as a user would and caches the
parsed JSON report, so each profile is scanned once however many tests look at the result.

The suite needs root and the Debian packages postfix, dovecot-imapd and dovecot-pop3d
(``scripts/install/interop.sh``); without them, or when something else (a system Postfix on
``*:25``) holds the standard ports of the profile addresses, it skips with a message saying so.
``scripts/test`` runs it in a private network namespace, where the ports are always free.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.interop.interop_checks import NEUTRAL_CWD, RUNS, CheckResult, Interop, run_mailtls
from tests.interop.interop_servers import (
    PROFILES,
    InteropError,
    ensure_ports_free,
    missing_programs,
    running,
)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "interop: against real Postfix and Dovecot from Debian packages "
        "(needs root and scripts/install/interop.sh)",
    )


_STARTS: dict[str, float] = {}  # profile -> seconds to start (profiles start in parallel)


def _unavailable() -> str | None:
    if sys.platform != "linux":
        return "Linux only (Debian's Postfix and Dovecot)"
    missing = missing_programs()
    if missing:
        return (
            "Postfix/Dovecot not installed (missing: " + ", ".join(missing) + "); run "
            "scripts/install/interop.sh as root (apt-get installs postfix dovecot-imapd "
            "dovecot-pop3d)"
        )
    if os.geteuid() != 0:
        return "starting private Postfix/Dovecot instances needs root"
    try:
        for profile in PROFILES.values():
            ensure_ports_free(profile.address, profile.ports.values())
    except InteropError as exc:
        return (f"{exc}; run the suite through scripts/test, which gives it a private network "
                "namespace where the standard ports are free")
    return None


@pytest.fixture(scope="session")
def interop_available() -> None:
    """Skip (with the reason) where real Postfix/Dovecot cannot run.

    With MAILTLS_INTEROP=require in the environment (CI) that is a failure instead: a suite
    that silently skips on the machine that should run it tests nothing.
    """
    reason = _unavailable()
    if reason is None:
        return
    if os.environ.get("MAILTLS_INTEROP") == "require":
        pytest.fail(f"interop suite required (MAILTLS_INTEROP=require) but: {reason}")
    pytest.skip(f"interop suite: {reason}")


@pytest.fixture(scope="session")
def interop(interop_available: None) -> Iterator[Interop]:
    """Every profile running on its own loopback address; all stopped at the end."""
    started = time.monotonic()
    with running(PROFILES.values()) as (pki, servers):
        _STARTS["(all, in parallel)"] = round(time.monotonic() - started, 2)
        _STARTS.update({name: s.start_seconds or 0.0 for name, s in servers.items()})
        yield Interop(pki, servers)


@pytest.fixture(scope="session")
def mailtls_check(interop: Interop) -> Callable[[str], CheckResult]:
    """``mailtls_check(profile)``: the (cached) full 7-port check of one profile."""
    cache: dict[str, CheckResult] = {}

    def check(profile: str) -> CheckResult:
        if profile not in cache:
            cache[profile] = run_mailtls(interop, profile)
        return cache[profile]

    return check


@pytest.fixture(scope="session")
def known_rules() -> set[str]:
    """The finding ids this mailtls knows (``mailtls rules``)."""
    proc = subprocess.run(
        [sys.executable, "-m", "mailtls", "rules"],
        capture_output=True, text=True, timeout=60, check=True, cwd=NEUTRAL_CWD,
    )
    return {line.split()[0] for line in proc.stdout.splitlines() if line.strip()}


@pytest.fixture(scope="session")
def mailtls_run(interop: Interop) -> Callable[..., CheckResult]:
    """``mailtls_run(profile, *extra_args)``: a fresh, uncached check."""

    def run(profile: str, *extra: str) -> CheckResult:
        return run_mailtls(interop, profile, *extra)

    return run


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not RUNS:
        return
    tr = terminalreporter
    tr.section("interop: mailtls against real Postfix/Dovecot")
    if _STARTS:
        tr.write_line("started in s: " + ", ".join(f"{k} {v:.2f}" for k, v in _STARTS.items()))
    tr.write_line(f"{'profile':16} {'args':28} {'exit':>4} {'wall s':>7} {'scan s':>7} "
                  f"{'conns':>6}  findings")
    for r in RUNS:
        extra = " ".join(r.args[8:]) or "(default)"
        counts = r.report.get("summary", {}).get("findings", {})
        tr.write_line(
            f"{r.profile:16} {extra:28} {r.exit_code:>4} {r.wall_seconds:>7.2f} "
            f"{r.report.get('seconds', 0):>7.2f} "
            f"{r.report.get('summary', {}).get('connections', '?'):>6}  "
            + " ".join(f"{k}={v}" for k, v in counts.items() if v)
        )


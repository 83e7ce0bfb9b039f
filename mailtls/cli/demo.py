"""``mailtls demo``: check two built-in loopback deployments, so a newcomer sees a full report
on a machine with no mail server and no network.

``good.example.test`` is configured the way RFC 8314 asks; ``flawed.example.test`` has the
defects mail administrators meet most often. Both run on 127.0.0.1 with certificates from a
throw-away CA that only this process trusts.
"""

from __future__ import annotations

import asyncio
import dataclasses
import ssl
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from typing import Any

from mailtls.checks.profiles import DEFAULT_PROFILE
from mailtls.model import SERVICES, Report, Severity
from mailtls.model.exitcodes import OK, UNKNOWN
from mailtls.model.options import ScanOptions
from mailtls.scan import interrupt
from mailtls.scan.host import PlannedService, ScanRequest, scan
from mailtls.testing import TestPKI, start_imap, start_pop3, start_smtp
from mailtls.testing.servers import RunningServer

GOOD, FLAWED = "good.example.test", "flawed.example.test"

Starter = Callable[..., RunningServer]

_PLAN: dict[str, tuple[Starter, dict[str, Any], dict[str, Any]]] = {
    # service: (server, good options, flawed options)
    "smtp": (start_smtp, {"auth_required": False},  # an MX takes mail from anyone
             {"cert": "expiring_soon", "auth_required": False, "keep_state_across_tls": True}),
    "submission": (start_smtp, {"require_starttls": True}, {"auth_before_tls": True}),
    "submissions": (start_smtp, {"implicit_tls": True}, {"implicit_tls": False}),
    "imap": (start_imap, {}, {"logindisabled": False, "starttls_advertised_after_tls": True,
                              "inject_vulnerable": True}),
    "imaps": (start_imap, {"implicit_tls": True}, {"implicit_tls": True, "cert": "expired"}),
    "pop3": (start_pop3, {}, {"starttls": False, "user_before_tls": True}),
    "pop3s": (
        start_pop3,
        {"implicit_tls": True},
        {
            "implicit_tls": True,
            "cert": "wrong_name",
            "minimum_version": ssl.TLSVersion.TLSv1,
            "maximum_version": ssl.TLSVersion.TLSv1,
        },
    ),
}


@contextmanager
def _deployment(pki: TestPKI, flawed: bool) -> Iterator[tuple[PlannedService, ...]]:
    with ExitStack() as stack:
        planned = []
        for name, (start, good_options, flawed_options) in _PLAN.items():
            options = flawed_options if flawed else good_options
            server = stack.enter_context(start(pki, name=f"demo-{name}", **options))
            planned.append(PlannedService(SERVICES[name], server.port, True))
        yield tuple(planned)


async def _scan_both(pki: TestPKI, good: tuple[PlannedService, ...],
                     flawed: tuple[PlannedService, ...], stop: asyncio.Event, *,
                     quick: bool = False, profile: str | None = None) -> Report:
    def request(host: str, plan: tuple[PlannedService, ...]) -> ScanRequest:
        return ScanRequest(hosts=(host,), plan=plan, addresses=("127.0.0.1",),
                           options=ScanOptions(ca_file=pki.ca_file(), timeout=30.0, quick=quick,
                                               profile=profile or DEFAULT_PROFILE))

    first, second = await asyncio.gather(scan(request(GOOD, good), stop=stop),
                                         scan(request(FLAWED, flawed), stop=stop))
    cut = first.options.get("interrupted") or second.options.get("interrupted")
    return dataclasses.replace(
        first,
        seconds=max(first.seconds, second.seconds),
        hosts=first.hosts + second.hosts,
        options={**first.options, "services": "demo (ephemeral ports on 127.0.0.1)",
                 **({"interrupted": cut} if cut else {})},
    )


def run_demo(*, quick: bool = False, profile: str | None = None) -> Report:
    """Both deployments scanned as ``mailtls check`` would (``quick``/``profile`` as its
    --quick/--profile)."""
    with (
        TestPKI(names=(GOOD, FLAWED, "127.0.0.1")) as pki,
        _deployment(pki, flawed=False) as good,
        _deployment(pki, flawed=True) as flawed,
    ):
        # SIGINT/SIGTERM: the scans stop, their tasks are cancelled and awaited, then the
        # servers stop (mailtls.scan.interrupt); while servers start, Interrupted unwinds the stack
        return interrupt.run(lambda stop: _scan_both(pki, good, flawed, stop, quick=quick,
                                                     profile=profile))


def demo_exit_code(report: Report) -> int:
    """0 when the demo worked: the good deployment has no finding at all and the flawed one
    fails, as designed. 3 (could not demonstrate) otherwise. ``mailtls check`` of the flawed
    host alone would exit 2: its failures are the point of the demo, not an error of it."""
    if report.options.get("interrupted"):
        return UNKNOWN
    by_name = {host.name: host for host in report.hosts}
    good, flawed = by_name.get(GOOD), by_name.get(FLAWED)
    if good is None or flawed is None or good.findings:
        return UNKNOWN
    if not any(f.severity is Severity.FAIL for f in flawed.findings):
        return UNKNOWN
    return OK


def demo_outcome(code: int, report: Report) -> str:
    """The line ``mailtls demo`` ends with, saying what its exit code means."""
    if report.options.get("interrupted"):
        return f"demo interrupted by {report.options['interrupted']} (exit {code})"
    if code == OK:
        return (f"demo worked (exit 0): {GOOD} passed and {FLAWED} failed, as designed "
                f"(`mailtls check` alone would exit 2 for {FLAWED})")
    return (f"demo did not come out as designed (exit {code}): {GOOD} should have no "
            f"finding and {FLAWED} failures; please report this")

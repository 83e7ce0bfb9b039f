"""The one task: scan one target with a run's options into one ``mailtls/1`` report.

``scan_target`` is called by the embedded path (``check --targets FILE --db URL``, all targets
in one process under one event loop) and by every Celery worker (``mailtls.fleet.app``), so a
target's report is the same whichever path ran it: the same request (``request_of``), the same
``scan``, the same judgement and exit code, the same JSON.

A run's options are JSON (``options_of``), stored once in the ``runs`` table; a task message
carries only the run id and the target name. Login credentials never enter a run: a password
would travel through the broker and sit in the database.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from mailtls.checks.rules import INTERNAL_ERROR
from mailtls.model import HostReport, Report
from mailtls.model.exitcodes import FailOn, exit_code
from mailtls.model.options import ScanOptions
from mailtls.net.budget import ConnectionBudget
from mailtls.net.stream import Timeouts
from mailtls.scan.host import PlannedService, ScanRequest, scan

__all__ = ["could_not_test", "options_of", "request_of", "scan_target", "scan_target_report"]

OPTIONS_VERSION = 1


def options_of(request: ScanRequest, *, fail_on: str, domain_mode: bool) -> dict[str, Any]:
    """The options of a run as JSON: everything of ``request`` but its names (and no login)."""
    if request.options.login is not None:
        from mailtls.errors import UsageError

        raise UsageError("--user cannot be used with --db or fleet runs: the password would be "
                         "stored with the run")
    opts = request.options
    return {
        "version": OPTIONS_VERSION,
        "domain_mode": domain_mode,
        "fail_on": fail_on,
        "plan": [[p.service.name, p.port, p.requested] for p in request.plan],
        "addresses": list(request.addresses),
        "timeouts": [opts.timeouts.connect, opts.timeouts.read, opts.timeouts.handshake],
        "deadline": opts.deadline,
        "max_connections": opts.max_connections,
        "slow": opts.slow,
        "ca_file": opts.ca_file,
        "warn_days": opts.warn_days,
        "quick": opts.quick,
        "profile": opts.profile,
        "relay_test": opts.relay_test,
        "detect_domains": request.detect_domains,
        "resolver": opts.resolver,
        "dns_timeout": opts.dns_timeout,
        "mta_sts_port": opts.mta_sts_port,
    }


def request_of(options: dict[str, Any], target: str) -> ScanRequest:
    """The scan request of one target (as ``mailtls.batch`` builds one per host)."""
    from mailtls.model import SERVICES

    connect, read, handshake = options["timeouts"]
    domain = bool(options["domain_mode"])
    return ScanRequest(
        hosts=() if domain else (target,),
        domains=(target,) if domain else (),
        plan=tuple(PlannedService(SERVICES[name], int(port), bool(requested))
                   for name, port, requested in options["plan"]),
        addresses=tuple(options["addresses"]),
        detect_domains=bool(options["detect_domains"]),
        options=ScanOptions(
            timeouts=Timeouts(connect=connect, read=read, handshake=handshake),
            timeout=float(options["deadline"]),
            max_connections=int(options["max_connections"]),
            slow=bool(options["slow"]),
            ca_file=options["ca_file"],
            warn_days=int(options["warn_days"]),
            quick=bool(options["quick"]),
            profile=str(options["profile"]),
            relay_test=bool(options["relay_test"]),
            resolver=options["resolver"],
            dns_timeout=float(options["dns_timeout"]),
            mta_sts_port=int(options["mta_sts_port"]),
        ),
    )


def per_address(options: dict[str, Any]) -> int:
    """Connections at once per address (``--slow``: one)."""
    return 1 if options["slow"] else int(options["max_connections"])


def document(report: Report, options: dict[str, Any]) -> dict[str, Any]:
    from mailtls.render.jsonout import report_dict

    return report_dict(report, exit_code(report, FailOn(options["fail_on"])))


async def scan_target_report(options: dict[str, Any], target: str, *,
                             address_limits: ConnectionBudget | None = None
                             ) -> tuple[Report, dict[str, Any]]:
    """Scan ``target``: its report and the report's ``mailtls/1`` JSON. ``address_limits`` as
    for ``scan``: shared by the targets of this process (embedded) or backed by Redis
    (workers)."""
    report = await scan(request_of(options, target), address_limits=address_limits)
    return report, document(report, options)


async def scan_target(options: dict[str, Any], target: str, *,
                      address_limits: ConnectionBudget | None = None
                      ) -> dict[str, Any]:
    """Scan ``target``: its ``mailtls/1`` report (the Celery task's body)."""
    return (await scan_target_report(options, target, address_limits=address_limits))[1]


def could_not_test(options: dict[str, Any], target: str, reason: str, *, attempts: int,
                   now: dt.datetime | None = None) -> dict[str, Any]:
    """The final report of a target the fleet gave up on: could-not-test, with the reason."""
    finding = INTERNAL_ERROR.finding(
        f"could not test {target}: gave up after {attempts} attempt(s)",
        endpoint=None, service=None, evidence=(reason,))
    report = Report(
        started_at=now or dt.datetime.now(dt.UTC), seconds=0.0,
        hosts=(HostReport(target, (), None, (), (finding,)),),
        options={"fleet": {"gave_up": reason, "attempts": attempts}},
    )
    doc = document(report, options)
    doc["summary"]["exit_code"] = 3  # could not test, whatever --fail-on says
    return doc


def rate_limited_addresses(doc: dict[str, Any]) -> set[str]:
    """Addresses that turned connections away during this report (greeting 421/BYE/-ERR, or
    the TLS enumeration backing off): the fleet cools down on them."""
    out: set[str] = set()
    for host in doc.get("hosts", []):
        rejected = {f.get("endpoint") for f in host.get("findings", [])
                    if f.get("id") == "session.rejected"}
        for ep in host.get("endpoints", []):
            errors = (ep.get("tls_scan") or {}).get("errors") or []
            if ep.get("endpoint") in rejected or any("rate limited" in e for e in errors):
                out.add(str(ep.get("address")))
    return out

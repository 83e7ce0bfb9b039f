"""Prometheus text exposition (``--format prometheus``), for node_exporter's textfile collector.

No timestamps (the textfile collector refuses them); every series of a metric has the same
labels. Endpoint metrics are labelled ``host``, ``endpoint`` (``address:port``) and ``service``.

=========================================  ====================================================
metric                                     value
=========================================  ====================================================
mailtls_scan_duration_seconds              wall time of the scan
mailtls_scan_start_timestamp_seconds       when it started (Unix time)
mailtls_exit_code                          the exit code of the run (0 OK .. 3 UNKNOWN)
mailtls_host_resolved{host}                1 when the name resolved
mailtls_port_open{host,endpoint,service}   1 when the port answered (TCP)
mailtls_tls_version_info{...,version}      1, one series per endpoint with TLS
mailtls_tls_version{...}                   1.3, 1.2, 1.1, 1.0; 0.3 SSLv3; 0 no TLS (open port)
mailtls_tls_handshake_seconds{...}         duration of the TLS handshake
mailtls_cert_not_after_timestamp_seconds   leaf certificate's notAfter (Unix time)
mailtls_cert_expiry_seconds{...}           seconds from the scan's start to notAfter
mailtls_cert_trusted{...}                  1 when the chain verified
mailtls_check_status{...,check}            0 passed, 1 info, 2 warn, 3 unknown, 4 fail; one
                                           series per check run (skipped checks are absent)
mailtls_findings{host,severity}            number of findings per severity
mailtls_expectation_status{host,...}       0 met, 1 broken, 2 unknown (with --expect)
mailtls_baseline_changes{regression}       number of changes since --baseline
mailtls_roundtrip_delivered                1 when the --round-trip message arrived in time
mailtls_roundtrip_delivery_seconds         submission until found (when it arrived)
mailtls_roundtrip_hops_without_tls         Received hops without TLS
=========================================  ====================================================
"""

from __future__ import annotations

import math
from collections.abc import Iterable

from mailtls.model import CheckOutcome, Outcome, PortObservation, PortState, Report, Severity
from mailtls.render.checks import FAILED, SKIPPED, endpoint_checks, host_checks
from mailtls.tls.versions import TLSVersion

__all__ = ["render_prometheus"]

_OUTCOME = {Outcome.MET: 0, Outcome.BROKEN: 1, Outcome.UNKNOWN: 2}


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _value(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if float(value).is_integer() and abs(value) < 2**53:
        return str(int(value))
    return repr(float(value))


class _Metrics:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def family(self, name: str, help_text: str,
               samples: Iterable[tuple[dict[str, str], float]]) -> None:
        rows = list(samples)
        if not rows:
            return
        self.lines.append(f"# HELP {name} {help_text}")
        self.lines.append(f"# TYPE {name} gauge")
        for labels, value in rows:
            if labels:
                inner = ",".join(f'{k}="{_escape(v)}"' for k, v in labels.items())
                self.lines.append(f"{name}{{{inner}}} {_value(value)}")
            else:
                self.lines.append(f"{name} {_value(value)}")


def _version(text: str) -> TLSVersion:
    try:
        return TLSVersion.parse(text)
    except ValueError:
        return TLSVersion.NONE


def render_prometheus(report: Report, exit_code: int) -> str:
    """The report as Prometheus text exposition format 0.0.4 (pure)."""
    m = _Metrics()
    m.family("mailtls_scan_duration_seconds", "Wall time of the mailtls scan.",
             [({}, report.seconds)])
    m.family("mailtls_scan_start_timestamp_seconds", "When the scan started, Unix time.",
             [({}, report.started_at.timestamp())])
    m.family("mailtls_exit_code", "Exit code of the run: 0 ok, 1 warnings, 2 failures, "
             "3 could not test.", [({}, exit_code)])
    m.family("mailtls_host_resolved", "1 when the host name resolved.",
             [({"host": h.name}, 0 if h.resolve_error else 1) for h in report.hosts])

    def ep(host: str, o: PortObservation) -> dict[str, str]:
        return {"host": host, "endpoint": o.endpoint.key, "service": o.endpoint.service.name}

    pairs = [(h.name, o) for h in report.hosts for o in h.observations]
    m.family("mailtls_port_open", "1 when the port accepted a TCP connection.",
             [(ep(h, o), 1 if o.state is PortState.OPEN else 0) for h, o in pairs])
    with_tls = [(h, o) for h, o in pairs if o.tls is not None]
    m.family("mailtls_tls_version_info", "The TLS version negotiated, as a label.",
             [({**ep(h, o), "version": o.tls.version}, 1) for h, o in with_tls if o.tls])
    m.family("mailtls_tls_version", "TLS version negotiated: 1.3, 1.2, 1.1, 1.0, 0.3 for SSLv3, "
             "0 when an open port got no TLS.",
             [(ep(h, o), _version(o.tls.version).number if o.tls else 0.0)
              for h, o in pairs if o.state is PortState.OPEN])
    m.family("mailtls_tls_handshake_seconds", "Duration of the TLS handshake.",
             [(ep(h, o), o.tls.handshake_seconds) for h, o in with_tls if o.tls])
    with_cert = [(h, o, o.tls.chain[0]) for h, o in with_tls if o.tls and o.tls.chain]
    m.family("mailtls_cert_not_after_timestamp_seconds",
             "notAfter of the leaf certificate, Unix time.",
             [(ep(h, o), c.not_after.timestamp()) for h, o, c in with_cert])
    m.family("mailtls_cert_expiry_seconds",
             "Seconds from the start of the scan until the leaf certificate expires.",
             [(ep(h, o), round((c.not_after - report.started_at).total_seconds(), 3))
              for h, o, c in with_cert])
    m.family("mailtls_cert_trusted", "1 when the certificate chain verified.",
             [(ep(h, o), 1 if o.tls.verification.trusted else 0) for h, o in with_tls if o.tls])

    status: list[tuple[dict[str, str], float]] = []
    for host in report.hosts:
        for check in host_checks(host):
            if check.status is not SKIPPED:
                status.append(({"host": host.name, "endpoint": "", "service": "",
                                "check": check.id}, _status(check.status, check.severity)))
        for obs in host.observations:
            for check in endpoint_checks(host, obs):
                if check.status is not SKIPPED:
                    status.append(({**ep(host.name, obs), "check": check.id},
                                   _status(check.status, check.severity)))
    m.family("mailtls_check_status", "Result of one check: 0 passed, 1 info, 2 warn, "
             "3 unknown, 4 fail (checks that did not run are absent).", status)

    counts: list[tuple[dict[str, str], float]] = []
    for host in report.hosts:
        for s in sorted(Severity, reverse=True):
            n = sum(1 for f in host.findings if f.severity is s)
            counts.append(({"host": host.name, "severity": s.label}, n))
    m.family("mailtls_findings", "Number of findings per host and severity.", counts)
    m.family("mailtls_domain_findings", "Number of findings per mail domain and severity.",
             [({"domain": d.name, "severity": s.label},
               sum(1 for f in d.findings if f.severity is s))
              for d in report.domains for s in sorted(Severity, reverse=True)])

    expectations: dict[tuple[str, str, str], int] = {}
    for r in report.expectations:  # one series per label set: the worst outcome wins
        key = (r.host, r.id, r.subject)
        expectations[key] = max(expectations.get(key, 0), _OUTCOME[r.outcome])
    m.family("mailtls_expectation_status", "An --expect expectation: 0 met, 1 broken, "
             "2 could not be evaluated.",
             [({"host": h, "expectation": i, "subject": s}, v)
              for (h, i, s), v in expectations.items()])
    rt = report.client.round_trip if report.client is not None else None
    if rt is not None:
        m.family("mailtls_roundtrip_delivered", "1 when the round-trip test message arrived "
                 "within its timeout.", [({}, 1 if rt.delivered else 0)])
        if rt.delivery_seconds is not None:
            m.family("mailtls_roundtrip_delivery_seconds", "Seconds from submission until the "
                     "test message was found in the mailbox.", [({}, rt.delivery_seconds)])
        m.family("mailtls_roundtrip_hops_without_tls", "Network hops of the test message "
                 "without TLS (Received headers).",
                 [({}, sum(1 for h in rt.hops if h.tls == "none"))])
    if report.changes is not None:
        regressions = sum(1 for c in report.changes if c.regression)
        m.family("mailtls_baseline_changes", "Changes since the --baseline report.",
                 [({"regression": "true"}, regressions),
                  ({"regression": "false"}, len(report.changes) - regressions)])
    return "\n".join(m.lines) + "\n"


def _status(status: CheckOutcome, severity: Severity | None) -> int:
    if status is not FAILED or severity is None:
        return 0
    return int(severity) + 1

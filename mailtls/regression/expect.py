"""Expectations: what a deployment must look like (``mailtls check --expect mailtls.toml``).

A TOML file (read with ``tomllib``) declares ports open and closed, the lowest TLS version,
STARTTLS that must work, certificate days left, and which findings are accepted, ignored or
forbidden. :func:`evaluate` checks a :class:`~mailtls.model.Report` against it and gives one
:class:`~mailtls.model.ExpectationResult` per expectation, with the evidence. :func:`init_toml`
writes such a file from a scan (``mailtls init``). Pure: no I/O except :func:`load`, no clock
(certificate days are counted from the report's ``started_at``).

The file (every key optional; docs/monitoring.md has the reference)::

    version = 1
    # defaults for every host
    min_tls_version = "TLSv1.2"
    cert_min_days = 14
    max_severity = "warn"          # worst finding allowed (after accept/ignore); default warn
    accept = ["tls.version.no_tls13"]
    ignore = ["port.refused"]
    forbid = ["cert.*"]

    [scan]                          # how to reach the hosts when the command line does not say
    hosts = ["mail.example.com"]
    services = ["submission=587"]
    addresses = []

    [hosts."mail.example.com"]      # per host: same keys as the defaults, each replaces them
    open = ["smtp", "submission", 993]
    closed = ["pop3", 110]
    starttls_required = ["submission", "imap"]
"""

from __future__ import annotations

import datetime as dt
import fnmatch
import json
import math
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from typing import Any

from mailtls.errors import UsageError
from mailtls.model import (
    ALL_SERVICES,
    ExpectationResult,
    Finding,
    HostReport,
    Outcome,
    PortObservation,
    PortState,
    Report,
    Severity,
    StopKind,
    TLSMode,
)
from mailtls.model.exitcodes import FAILURES, OK, UNKNOWN
from mailtls.model.ports import MAX_PORT, is_port
from mailtls.pki.x509 import days_left
from mailtls.tls.versions import TLSVersion

__all__ = [
    "Expectations",
    "HostSpec",
    "ScanSpec",
    "evaluate",
    "expectations_exit_code",
    "init_toml",
    "load",
    "parse",
]

FORMAT_VERSION = 1
DEFAULT_MAX_SEVERITY = Severity.WARN
PortRef = int | str  # a port number, or a service name ("submission")


@dataclass(frozen=True)
class HostSpec:
    """The expectations for one host (the defaults, with the host's own table over them)."""

    open: tuple[PortRef, ...] = ()
    closed: tuple[PortRef, ...] = ()
    starttls_required: tuple[PortRef, ...] = ()
    min_tls_version: TLSVersion | None = None
    cert_min_days: int | None = None
    max_severity: Severity = DEFAULT_MAX_SEVERITY
    accept: tuple[str, ...] = ()
    ignore: tuple[str, ...] = ()
    forbid: tuple[str, ...] = ()


@dataclass(frozen=True)
class ScanSpec:
    """The optional ``[scan]`` table: what to scan when the command line does not say."""

    hosts: tuple[str, ...] = ()
    services: tuple[str, ...] = ()  # NAME=PORT, as --service
    only: tuple[str, ...] = ()  # service names, as --only
    addresses: tuple[str, ...] = ()
    ca_file: str | None = None


@dataclass(frozen=True)
class Expectations:
    source: str
    defaults: HostSpec = field(default_factory=HostSpec)
    hosts: Mapping[str, HostSpec] = field(default_factory=dict)  # already merged with defaults
    scan: ScanSpec = field(default_factory=ScanSpec)

    def for_host(self, name: str) -> HostSpec:
        return self.hosts.get(name.lower().rstrip("."), self.defaults)


# --- reading -----------------------------------------------------------------------------------

_SPEC_KEYS = {f.name for f in fields(HostSpec)}
_SCAN_KEYS = {f.name for f in fields(ScanSpec)}
_SEVERITIES = {s.label: s for s in Severity}


def load(path: str) -> Expectations:
    """Read and check an expectations file; ``UsageError`` (exit 3) says what is wrong where."""
    try:
        with open(path, "rb") as f:
            data = tomllib.load(f)
    except FileNotFoundError:
        raise UsageError(f"--expect: no such file: {path}") from None
    except OSError as exc:
        raise UsageError(f"--expect: cannot read {path}: {exc.strerror or exc}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError, RecursionError) as exc:
        # RecursionError: arrays or inline tables nested deeper than tomllib's recursion
        raise UsageError(f"{path}: not valid TOML: {exc}") from None
    return parse(data, path)


def parse(data: Mapping[str, Any], source: str = "<expectations>") -> Expectations:
    def bad(where: str, message: str) -> UsageError:
        return UsageError(f"{source}: {where}: {message}")

    version = data.get("version", FORMAT_VERSION)
    if version != FORMAT_VERSION:
        raise bad("version", f"this mailtls reads version {FORMAT_VERSION}, not {version!r}")
    unknown = set(data) - _SPEC_KEYS - {"version", "scan", "hosts"}
    if unknown:
        raise bad(", ".join(sorted(unknown)), "unknown key (known: "
                  + ", ".join(sorted(_SPEC_KEYS | {"version", "scan", "hosts"})) + ")")
    defaults = _host_spec({k: v for k, v in data.items() if k in _SPEC_KEYS}, HostSpec(), bad, "")
    hosts_table = data.get("hosts", {})
    if not isinstance(hosts_table, dict):
        raise bad("hosts", 'must be a table of host tables: [hosts."mail.example.com"]')
    hosts: dict[str, HostSpec] = {}
    for name, table in hosts_table.items():
        if not isinstance(table, dict):
            raise bad(f"hosts.{name}", "must be a table")
        extra = set(table) - _SPEC_KEYS
        if extra and any(isinstance(table[k], dict) for k in extra):
            raise bad(f"hosts.{name}",
                      'quote a host name that has dots: [hosts."mail.example.com"]')
        if extra:
            raise bad(f"hosts.{name}.{sorted(extra)[0]}",
                      "unknown key (known: " + ", ".join(sorted(_SPEC_KEYS)) + ")")
        hosts[name.lower().rstrip(".")] = _host_spec(table, defaults, bad, f"hosts.{name}.")
    scan_table = data.get("scan", {})
    if not isinstance(scan_table, dict):
        raise bad("scan", "must be a table")
    extra = set(scan_table) - _SCAN_KEYS
    if extra:
        raise bad(f"scan.{sorted(extra)[0]}",
                  "unknown key (known: " + ", ".join(sorted(_SCAN_KEYS)) + ")")
    ca_file = scan_table.get("ca_file")
    if ca_file is not None and not isinstance(ca_file, str):
        raise bad("scan.ca_file", "must be a string")
    scan = ScanSpec(
        hosts=_strings(scan_table, "hosts", bad, "scan."),
        services=_strings(scan_table, "services", bad, "scan."),
        only=_strings(scan_table, "only", bad, "scan."),
        addresses=_strings(scan_table, "addresses", bad, "scan."),
        ca_file=ca_file,
    )
    return Expectations(source=source, defaults=defaults, hosts=hosts, scan=scan)


def _strings(table: Mapping[str, Any], key: str, bad: Any, prefix: str) -> tuple[str, ...]:
    value = table.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise bad(prefix + key, "must be a list of strings")
    return tuple(value)


def _ports(table: Mapping[str, Any], key: str, bad: Any, prefix: str) -> tuple[PortRef, ...]:
    value = table[key]
    if not isinstance(value, list):
        raise bad(prefix + key,
                  'must be a list of ports or service names, e.g. ["submission", 993]')
    out: list[PortRef] = []
    for item in value:
        if isinstance(item, bool) or not isinstance(item, int | str):
            raise bad(prefix + key, f"not a port or service name: {item!r}")
        if isinstance(item, int):
            if not is_port(item):
                raise bad(prefix + key, f"port out of range 1-{MAX_PORT}: {item}")
            out.append(item)
        else:
            name = item.strip().lower()
            if name not in ALL_SERVICES:
                raise bad(prefix + key,
                          f"unknown service {item!r} (known: {', '.join(ALL_SERVICES)})")
            out.append(name)
    return tuple(out)


def _host_spec(table: Mapping[str, Any], base: HostSpec, bad: Any, prefix: str) -> HostSpec:
    changes: dict[str, Any] = {}
    for key in ("open", "closed", "starttls_required"):
        if key in table:
            changes[key] = _ports(table, key, bad, prefix)
    for key in ("accept", "ignore", "forbid"):
        if key in table:
            changes[key] = _strings(table, key, bad, prefix)
    if "min_tls_version" in table:
        value = table["min_tls_version"]
        try:
            changes["min_tls_version"] = TLSVersion.parse(str(value))
        except ValueError as exc:
            raise bad(prefix + "min_tls_version", str(exc)) from None
        if changes["min_tls_version"] is TLSVersion.NONE:
            raise bad(prefix + "min_tls_version", "must name a TLS or SSL version")
    if "cert_min_days" in table:
        value = table["cert_min_days"]
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise bad(prefix + "cert_min_days", f"must be a whole number of days >= 0: {value!r}")
        changes["cert_min_days"] = value
    if "max_severity" in table:
        value = table["max_severity"]
        if not isinstance(value, str) or value not in _SEVERITIES:
            raise bad(prefix + "max_severity", f"one of {', '.join(_SEVERITIES)}, not {value!r}")
        changes["max_severity"] = _SEVERITIES[value]
    return replace(base, **changes)


# --- judging -----------------------------------------------------------------------------------


def evaluate(expectations: Expectations, report: Report) -> tuple[ExpectationResult, ...]:
    """Every expectation of every scanned host, in a stable order."""
    out: list[ExpectationResult] = []
    for host in report.hosts:
        out.extend(evaluate_host(expectations.for_host(host.name), host, report.started_at))
    return tuple(out)


def expectations_exit_code(results: Iterable[ExpectationResult]) -> int:
    """2 when an expectation is broken, else 3 when one could not be evaluated, else 0."""
    outcomes = {r.outcome for r in results}
    if Outcome.BROKEN in outcomes:
        return FAILURES
    if Outcome.UNKNOWN in outcomes:
        return UNKNOWN
    return OK


def _matches(ref: PortRef, obs: PortObservation) -> bool:
    if isinstance(ref, int):
        return obs.endpoint.port == ref
    return obs.endpoint.service.name == ref


def _ref_label(ref: PortRef) -> str:
    if isinstance(ref, int):
        return f"port {ref}"
    return f"{ref} ({ALL_SERVICES[ref].default_port})" if ref in ALL_SERVICES else ref


def _state_line(obs: PortObservation) -> str:
    return f"{obs.endpoint.key} ({obs.endpoint.service.name}) {obs.state.value}" + (
        f": {obs.error}" if obs.error and obs.state is not PortState.OPEN else ""
    )


def _id_matches(finding_id: str, patterns: Sequence[str]) -> bool:
    return any(fnmatch.fnmatchcase(finding_id, p) for p in patterns)


def _finding_line(f: Finding) -> str:
    where = f" {f.endpoint}" if f.endpoint else ""
    return f"{f.severity.label} {f.id}{where}: {f.summary}"


def evaluate_host(spec: HostSpec, host: HostReport, now: dt.datetime) -> list[ExpectationResult]:  # noqa: C901 (a split is still to do: issue 15)
    results: list[ExpectationResult] = []
    name = host.name
    unresolved = f"not scanned: {host.resolve_error}" if host.resolve_error else None

    def result(id_: str, subject: str, expected: str, observed: str, outcome: Outcome,
               evidence: Iterable[str] = ()) -> None:
        results.append(ExpectationResult(id_, name, subject, expected, observed, outcome,
                                         tuple(evidence)))

    for want_open, refs in ((True, spec.open), (False, spec.closed)):
        expected = "open" if want_open else "closed (refused, filtered or unreachable)"
        for ref in refs:
            matched = [o for o in host.observations if _matches(ref, o)]
            evidence = [_state_line(o) for o in matched]
            if not matched:
                result(f"port.{'open' if want_open else 'closed'}", _ref_label(ref), expected,
                       unresolved or "not part of the scan (see --only/--service)",
                       Outcome.UNKNOWN)
                continue
            untested = [o for o in matched if o.state is PortState.NOT_TESTED]
            wrong = [o for o in matched if o.state is not PortState.NOT_TESTED
                     and (o.state is PortState.OPEN) is not want_open]
            outcome = Outcome.BROKEN if wrong else Outcome.UNKNOWN if untested else Outcome.MET
            observed = ", ".join(sorted({o.state.value for o in matched}))
            result(f"port.{'open' if want_open else 'closed'}", _ref_label(ref), expected,
                   observed, outcome, evidence)

    for ref in spec.starttls_required:
        matched = [o for o in host.observations if _matches(ref, o)]
        if not matched:
            result("starttls.required", _ref_label(ref), "STARTTLS offered and working",
                   unresolved or "not part of the scan (see --only/--service)", Outcome.UNKNOWN)
            continue
        for obs in matched:
            outcome, observed, evidence = _starttls(obs, host.findings)
            result("starttls.required", f"{obs.endpoint.key} ({obs.endpoint.service.name})",
                   "STARTTLS offered, TLS established, no login before TLS", observed, outcome,
                   evidence)

    if spec.min_tls_version is not None:
        floor = spec.min_tls_version
        for obs in host.observations:
            if obs.state is not PortState.OPEN:
                continue
            outcome, observed, evidence = _min_version(obs, floor)
            result("tls.min_version", f"{obs.endpoint.key} ({obs.endpoint.service.name})",
                   f">= {floor.label}", observed, outcome, evidence)

    if spec.cert_min_days is not None:
        for obs in host.observations:
            if obs.tls is None or not obs.tls.chain:
                continue
            leaf = obs.tls.chain[0]
            left = days_left(leaf, now)
            result("cert.min_days", f"{obs.endpoint.key} ({obs.endpoint.service.name})",
                   f">= {spec.cert_min_days} days left", f"{left:.1f} days left",
                   Outcome.MET if left >= spec.cert_min_days else Outcome.BROKEN,
                   [f"not after {leaf.not_after.isoformat()}",
                    f"sha256 {leaf.sha256_fingerprint}", f"issuer {leaf.issuer}"])

    considered = [f for f in host.findings if not _id_matches(f.id, spec.ignore)]
    for pattern in spec.forbid:
        hits = [f for f in considered if fnmatch.fnmatchcase(f.id, pattern)]
        result("findings.forbid", pattern, "no such finding",
               f"{len(hits)} finding(s)" if hits else "none",
               Outcome.BROKEN if hits else Outcome.MET, [_finding_line(f) for f in hits])

    accepted = [f for f in considered if _id_matches(f.id, spec.accept)]
    counted = [f for f in considered if not _id_matches(f.id, spec.accept)]
    over = [f for f in counted if f.severity > spec.max_severity]
    worst = max((f.severity for f in counted), default=None)
    observed = f"worst {worst.label}" if worst is not None else "no findings"
    if accepted:
        observed += f" ({len(accepted)} accepted)"
    if not over:
        outcome = Outcome.MET
    elif any(f.severity in (Severity.FAIL, Severity.WARN) for f in over):
        outcome = Outcome.BROKEN
    else:
        outcome = Outcome.UNKNOWN
    result("findings.max_severity", "findings", f"no finding worse than {spec.max_severity.label}",
           observed, outcome,
           [_finding_line(f) for f in sorted(over, key=lambda f: -f.severity)]
           + [f"accepted: {_finding_line(f)}" for f in accepted])
    return results


_UNTESTABLE_KINDS = frozenset({StopKind.DEADLINE, StopKind.INTERRUPTED, StopKind.READ_TIMEOUT,
                               StopKind.GREETING_REJECTED, StopKind.INTERNAL})


def _starttls(
    obs: PortObservation, findings: Sequence[Finding]
) -> tuple[Outcome, str, list[str]]:
    evidence = [_state_line(obs)]
    if obs.state is PortState.NOT_TESTED:
        return Outcome.UNKNOWN, "not tested", evidence
    if obs.state is not PortState.OPEN:
        return Outcome.BROKEN, obs.state.value, evidence
    if obs.endpoint.service.tls_mode is TLSMode.IMPLICIT:
        if obs.tls is not None:
            return Outcome.MET, f"implicit TLS, {obs.tls.version}", evidence
        return Outcome.BROKEN, f"no TLS: {obs.tls_error or obs.error or 'handshake failed'}", \
            evidence
    problems: list[str] = []
    if obs.capabilities_reply:
        evidence.append("capabilities before TLS: " + " | ".join(obs.capabilities_reply[:12]))
    if obs.starttls_reply:
        evidence.append("STARTTLS reply: " + " | ".join(obs.starttls_reply))
    if not obs.starttls_offered:
        if obs.starttls_offered is None and obs.error_kind in _UNTESTABLE_KINDS:
            return Outcome.UNKNOWN, f"could not be tested: {obs.error}", evidence
        problems.append("STARTTLS not offered")
    elif obs.starttls_accepted is False:
        problems.append("STARTTLS refused")
    elif obs.tls is None:
        problems.append(f"no TLS: {obs.tls_error or obs.error or 'handshake failed'}")
    logins = [f for f in findings
              if f.endpoint == obs.endpoint.key and f.id.endswith(".auth.plaintext_offered")]
    problems.extend(f"{f.id}: {f.summary}" for f in logins)
    if problems:
        return Outcome.BROKEN, "; ".join(problems), evidence
    assert obs.tls is not None
    return Outcome.MET, f"STARTTLS, {obs.tls.version}", evidence


def _min_version(obs: PortObservation, floor: TLSVersion) -> tuple[Outcome, str, list[str]]:
    if obs.tls is None:
        reason = obs.tls_error or obs.error
        if obs.endpoint.service.tls_mode is TLSMode.STARTTLS and obs.starttls_offered is False:
            reason = "STARTTLS not offered"
        if obs.error_kind in _UNTESTABLE_KINDS:
            return Outcome.UNKNOWN, f"could not be tested: {reason}", []
        return Outcome.BROKEN, f"no TLS ({reason or 'no handshake'})", []
    negotiated = _version(obs.tls.version)
    scan = obs.tls_scan
    accepted = [] if scan is None else [
        v for v in (_version(name) for name, ok in scan.versions.items() if ok)
        if v is not TLSVersion.NONE
    ]
    if accepted:
        evidence = [f"{name}: {'accepted' if ok else 'refused' if ok is False else 'untested'}"
                    for name, ok in scan.versions.items()] if scan else []
        below = sorted(v for v in accepted if v < floor)
        if below:
            return (Outcome.BROKEN, ", ".join(v.label for v in below) + " accepted", evidence)
        return Outcome.MET, f"lowest accepted {min(accepted).label}", evidence
    evidence = [f"negotiated {obs.tls.version} {obs.tls.cipher}"]
    if negotiated < floor:
        return Outcome.BROKEN, f"{negotiated.label} negotiated", evidence
    return (Outcome.MET, f"{negotiated.label} negotiated (lower versions not enumerated)",
            evidence)


def _version(text: str) -> TLSVersion:
    try:
        return TLSVersion.parse(text)
    except ValueError:
        return TLSVersion.NONE


# --- writing (mailtls init) --------------------------------------------------------------------


def toml_string(text: str) -> str:
    """A TOML basic string (JSON's escapes are TOML's, except DEL, which TOML wants escaped)."""
    return json.dumps(text, ensure_ascii=False).replace("\x7f", "\\u007f")


def _toml_list(items: Iterable[PortRef | str]) -> str:
    return "[" + ", ".join(str(i) if isinstance(i, int) else toml_string(i) for i in items) + "]"


def _ref(obs: PortObservation) -> PortRef:
    s = obs.endpoint.service
    return s.name if obs.endpoint.port == s.default_port else obs.endpoint.port


def init_toml(report: Report, scan: ScanSpec, *, warn_days: int = 30) -> str:
    """An expectations file that the scanned deployment meets as it is now (``mailtls init``)."""
    lines = [
        "# mailtls expectations, written by `mailtls init` from the scan of "
        f"{report.started_at:%Y-%m-%d %H:%M} UTC.",
        "# Check the deployment against it: mailtls check --expect mailtls.toml",
        "# Reference: docs/monitoring.md (expectations file).",
        f"version = {FORMAT_VERSION}",
        "",
        "[scan]",
        f"hosts = {_toml_list(h.name for h in report.hosts)}",
    ]
    if scan.services:
        lines.append(f"services = {_toml_list(scan.services)}")
    if scan.only:
        lines.append(f"only = {_toml_list(scan.only)}")
    if scan.addresses:
        lines.append(f"addresses = {_toml_list(scan.addresses)}")
    if scan.ca_file:
        lines.append(f"ca_file = {toml_string(scan.ca_file)}")
    for host in report.hosts:
        lines += ["", f"[hosts.{toml_string(host.name)}]"]
        lines += _host_lines(host, report.started_at, warn_days)
    return "\n".join(lines) + "\n"


def _unique(refs: Iterable[PortRef]) -> list[PortRef]:
    return list(dict.fromkeys(refs))


def _host_lines(host: HostReport, now: dt.datetime, warn_days: int) -> list[str]:
    if host.resolve_error:
        return [f"# {host.name} did not resolve when this file was written: "
                + host.resolve_error.replace("\n", " ")]
    observations = host.observations
    opened = [o for o in observations if o.state is PortState.OPEN]
    closed = [o for o in observations
              if o.state not in (PortState.OPEN, PortState.NOT_TESTED)]
    out = [f"open = {_toml_list(_unique(_ref(o) for o in opened))}",
           f"closed = {_toml_list(_unique(_ref(o) for o in closed))}"]
    starttls = [o for o in opened if o.endpoint.service.tls_mode is TLSMode.STARTTLS
                and _starttls(o, host.findings)[0] is Outcome.MET]
    out.append(f"starttls_required = {_toml_list(_unique(_ref(o) for o in starttls))}")
    lowest: list[TLSVersion] = []
    no_tls: list[PortObservation] = []
    for obs in opened:
        if obs.tls is None:
            no_tls.append(obs)
            continue
        accepted = [] if obs.tls_scan is None else [
            _version(v) for v, ok in obs.tls_scan.versions.items() if ok
        ]
        lowest.append(min(accepted) if accepted else _version(obs.tls.version))
    if no_tls:
        out.append("# min_tls_version: not set, "
                   + ", ".join(f"{o.endpoint.key} ({o.endpoint.service.name})" for o in no_tls)
                   + " established no TLS")
    elif lowest:
        out.append(f"min_tls_version = {toml_string(str(min(lowest)))}")
    lefts = [days_left(o.tls.chain[0], now) for o in opened if o.tls and o.tls.chain]
    if lefts and min(lefts) < 0:
        out.append("# cert_min_days: not set, a certificate has expired")
    elif lefts:
        out.append(f"cert_min_days = {min(warn_days, math.floor(min(lefts)))}")
    accepted_ids = sorted({f.id for f in host.findings if f.severity > Severity.INFO})
    out.append('max_severity = "info"  # info findings are always fine; others must be accepted')
    out.append(f"accept = {_toml_list(accepted_ids)}  # the findings of the scan this came from")
    return out

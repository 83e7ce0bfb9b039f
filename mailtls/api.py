"""The Python API: scan a mail host and look at the result.

>>> from mailtls import scan_host, TLS1_2
>>> result = scan_host("mail.example.com", only=["submission", "imaps"])   # doctest: +SKIP
>>> assert result.port(587).tls.version >= TLS1_2                           # doctest: +SKIP
>>> assert not result.port(587).findings                                    # doctest: +SKIP

:func:`scan_host` runs the same scan as ``mailtls check`` (in its own event loop; use
:func:`scan_host_async` inside one) and returns a :class:`HostResult`: the host's ports, each a
:class:`PortResult` with its state, TLS session (:class:`TLSInfo`, whose ``version`` is a
comparable :class:`~mailtls.tls.versions.TLSVersion`), certificate and findings. The full
:class:`~mailtls.model.Report` is there too (``result.report``), and ``result.to_json()`` gives
the canonical JSON dict (schema ``mailtls/1``).
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from mailtls.model import (
    CertificateInfo,
    Finding,
    HostReport,
    PortObservation,
    PortState,
    Report,
    Severity,
    TLSMode,
)
from mailtls.model.exitcodes import FailOn, exit_code
from mailtls.model.options import DEFAULTS, ScanOptions, Timeouts
from mailtls.pki.x509 import days_left
from mailtls.tls.versions import TLSVersion

__all__ = ["HostResult", "PortResult", "TLSInfo", "scan_host", "scan_host_async"]


def _version(text: str) -> TLSVersion:
    try:
        return TLSVersion.parse(text)
    except ValueError:
        return TLSVersion.NONE


@dataclass(frozen=True)
class TLSInfo:
    """The TLS side of one port. Never ``None``: on a port that got no TLS, ``established`` is
    False and ``version`` is ``TLSVersion.NONE``, which compares below every version."""

    established: bool
    version: TLSVersion
    cipher: str  # OpenSSL name; "" without TLS
    trusted: bool  # the chain verified against the trust store (system or ca_file)
    handshake_seconds: float | None
    # every version the port accepted (the enumeration; None with quick=True or without TLS)
    accepted_versions: frozenset[TLSVersion] | None
    suites: Mapping[str, tuple[str, ...]]  # version label -> IANA suite names (enumeration)
    error: str | None  # why there is no TLS, when there is none

    @property
    def lowest_version(self) -> TLSVersion:
        """The lowest version accepted (enumerated), else the negotiated one."""
        if self.accepted_versions:
            return min(self.accepted_versions)
        return self.version


@dataclass(frozen=True)
class PortResult:
    """One port of one address, as seen by the scan."""

    observation: PortObservation
    findings: tuple[Finding, ...]
    scanned_at: dt.datetime

    @property
    def port(self) -> int:
        return self.observation.endpoint.port

    @property
    def service(self) -> str:
        return self.observation.endpoint.service.name

    @property
    def address(self) -> str:
        return self.observation.endpoint.address

    @property
    def state(self) -> PortState:
        return self.observation.state

    @property
    def is_open(self) -> bool:
        return self.observation.state is PortState.OPEN

    @property
    def starttls(self) -> bool | None:
        """STARTTLS/STLS advertised (None on implicit-TLS ports and when not reached)."""
        if self.observation.endpoint.service.tls_mode is TLSMode.IMPLICIT:
            return None
        return self.observation.starttls_offered

    @property
    def capabilities(self) -> tuple[str, ...]:
        """The capabilities under TLS if it was reached, else those before TLS."""
        o = self.observation
        if o.capabilities_after is not None:
            return o.capabilities_after
        return o.capabilities_before or ()

    @cached_property
    def tls(self) -> TLSInfo:
        o = self.observation
        scan = o.tls_scan
        accepted = None
        suites: Mapping[str, tuple[str, ...]] = {}
        if scan is not None:
            accepted = frozenset(v for v in (_version(k) for k, ok in scan.versions.items() if ok)
                                 if v is not TLSVersion.NONE)
            suites = dict(scan.suites)
        if o.tls is None:
            reason = o.tls_error or o.error
            if o.starttls_offered is False and (
                o.endpoint.service.tls_mode is TLSMode.STARTTLS
            ):
                reason = "STARTTLS not offered"
            return TLSInfo(False, TLSVersion.NONE, "", False, None, accepted, suites,
                           reason or f"port {o.state.value}")
        return TLSInfo(True, _version(o.tls.version), o.tls.cipher, o.tls.verification.trusted,
                       o.tls.handshake_seconds, accepted, suites, None)

    @property
    def certificate(self) -> CertificateInfo | None:
        """The leaf certificate, if the port got to TLS."""
        tls = self.observation.tls
        return tls.chain[0] if tls is not None and tls.chain else None

    @property
    def days_left(self) -> float | None:
        """Days until the leaf certificate expires, counted from the scan's start."""
        cert = self.certificate
        return None if cert is None else days_left(cert, self.scanned_at)

    @property
    def ids(self) -> frozenset[str]:
        return frozenset(f.id for f in self.findings)

    def __repr__(self) -> str:
        return (f"<PortResult {self.observation.endpoint.key} {self.service} {self.state.value}"
                f" tls={self.tls.version!s} findings={sorted(self.ids)}>")


@dataclass(frozen=True)
class HostResult:
    """One scanned host: its ports and findings, and the full report."""

    report: Report
    host: HostReport

    @property
    def name(self) -> str:
        return self.host.name

    @property
    def addresses(self) -> tuple[str, ...]:
        return self.host.addresses

    @property
    def findings(self) -> tuple[Finding, ...]:
        return self.host.findings

    @property
    def ids(self) -> frozenset[str]:
        return frozenset(f.id for f in self.host.findings)

    @property
    def worst(self) -> Severity | None:
        """The worst finding's severity (None: no finding)."""
        return max((f.severity for f in self.host.findings), default=None)

    @property
    def exit_code(self) -> int:
        """What ``mailtls check`` would exit with (``--fail-on warn``)."""
        return exit_code(self.report, FailOn.WARN)

    @property
    def ports(self) -> tuple[PortResult, ...]:
        return tuple(self._port(o) for o in self.host.observations)

    def _port(self, o: PortObservation) -> PortResult:
        findings = tuple(f for f in self.host.findings if f.endpoint == o.endpoint.key)
        return PortResult(o, findings, self.report.started_at)

    def port(self, port: int | str, address: str | None = None) -> PortResult:
        """The port by number (``587``) or service name (``"submission"``); with several
        addresses, the first one's unless ``address`` says which. ``KeyError`` if not scanned."""
        for o in self.host.observations:
            e = o.endpoint
            wanted = e.port == port if isinstance(port, int) else e.service.name == port
            if wanted and (address is None or e.address == address):
                return self._port(o)
        scanned = ", ".join(f"{o.endpoint.key} ({o.endpoint.service.name})"
                            for o in self.host.observations) or "none"
        raise KeyError(f"{port!r} was not scanned on {self.name} (scanned: {scanned})")

    def has(self, finding_id: str) -> bool:
        return finding_id in self.ids

    def to_json(self) -> dict[str, Any]:
        from mailtls.render.jsonout import report_dict

        return report_dict(self.report, self.exit_code)

    def __repr__(self) -> str:
        return f"<HostResult {self.name} ports={len(self.host.observations)} " \
               f"findings={sorted(self.ids)}>"


def _services(services: Mapping[str, int] | Iterable[str] | None) -> list[str]:
    if services is None:
        return []
    if isinstance(services, Mapping):
        return [f"{name}={port}" for name, port in services.items()]
    return list(services)


async def scan_host_async(
    host: str,
    *,
    only: Iterable[str] = (),
    services: Mapping[str, int] | Iterable[str] | None = None,
    addresses: Iterable[str] = (),
    ca_file: str | None = DEFAULTS.ca_file,
    quick: bool = DEFAULTS.quick,
    timeout: float = DEFAULTS.deadline,
    connect_timeout: float = DEFAULTS.timeouts.connect,
    read_timeout: float = DEFAULTS.timeouts.read,
    handshake_timeout: float = DEFAULTS.timeouts.handshake,
    max_connections: int = DEFAULTS.max_connections,
    warn_days: int = DEFAULTS.warn_days,
) -> HostResult:
    """Scan one host, as ``mailtls check HOST`` with the same options.

    ``only``: service names at their standard ports (``["submission", "imaps"]``);
    ``services``: ``{"submission": 2587}`` or ``["submission=2587"]``; neither: all seven.
    ``addresses``: connect there instead of resolving ``host`` (still used for SNI and the
    certificate name). ``quick``: one connection per port, no enumeration.
    Raises ``mailtls.errors.UsageError`` for an invalid host, service or port.
    """
    from mailtls.scan.host import ScanRequest, check_host_name, parse_plan, scan

    name = check_host_name(host)
    request = ScanRequest(
        hosts=(name,),
        plan=parse_plan(list(only), _services(services)),
        addresses=tuple(check_host_name(a) for a in addresses),
        options=ScanOptions(
            timeouts=Timeouts(connect=connect_timeout, read=read_timeout,
                              handshake=handshake_timeout),
            timeout=timeout,
            max_connections=max_connections,
            ca_file=ca_file,
            warn_days=warn_days,
            quick=quick,
        ),
    )
    report = await scan(request)
    return HostResult(report, report.hosts[0])


def scan_host(
    host: str,
    *,
    only: Iterable[str] = (),
    services: Mapping[str, int] | Iterable[str] | None = None,
    addresses: Iterable[str] = (),
    ca_file: str | None = DEFAULTS.ca_file,
    quick: bool = DEFAULTS.quick,
    timeout: float = DEFAULTS.deadline,
    connect_timeout: float = DEFAULTS.timeouts.connect,
    read_timeout: float = DEFAULTS.timeouts.read,
    handshake_timeout: float = DEFAULTS.timeouts.handshake,
    max_connections: int = DEFAULTS.max_connections,
    warn_days: int = DEFAULTS.warn_days,
) -> HostResult:
    """:func:`scan_host_async`, synchronously (runs its own event loop: not from inside one)."""
    return asyncio.run(scan_host_async(
        host, only=only, services=services, addresses=addresses, ca_file=ca_file, quick=quick,
        timeout=timeout, connect_timeout=connect_timeout, read_timeout=read_timeout,
        handshake_timeout=handshake_timeout, max_connections=max_connections,
        warn_days=warn_days,
    ))

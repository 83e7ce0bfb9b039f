"""Helpers of the mail-domain tests: the test PKI's names, TLSA records of its certificates, a
loopback HTTPS server for MTA-STS policies, and a reader for the JSON report."""

from __future__ import annotations

import asyncio
import socket
from dataclasses import dataclass, field
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from mailtls.pki import dane
from mailtls.testing import CertKind, RunningServer, TestPKI, start_raw
from tests.cli_runner import Run
from tests.domain.domain_dns import load_zone

MX1, MX2, STS = "127.0.0.2", "127.0.0.3", "127.0.0.4"

# The names of the domain tests' "good" certificate. Not in it: example.test itself (so an SRV
# target's certificate can cover the target but not the domain) and mx3.example.test.
NAMES = ("mail.example.test", "localhost", "127.0.0.1", "::1", "mx1.example.test",
         "mx2.example.test", "mta-sts.example.test", "covered.test")

GOOD_POLICY = (b"version: STSv1\r\nmode: enforce\r\nmx: mx1.example.test\r\n"
               b"mx: *.example.test\r\nmax_age: 604800\r\n")


def chain_der(pki: TestPKI, kind: CertKind = "good") -> list[bytes]:
    return [c.public_bytes(serialization.Encoding.DER)
            for c in x509.load_pem_x509_certificates(pki.leaf_chain_pem(kind))]


def tlsa(pki: TestPKI, kind: CertKind = "good", usage: int = 3, selector: int = 1,
         mtype: int = 1, depth: int = 0) -> str:
    """The TLSA record (``u s m hex``) of a certificate of the test PKI's chain of ``kind``."""
    return dane.record_for(chain_der(pki, kind)[depth], usage, selector, mtype)


@dataclass
class PolicyResponse:
    status: int = 200
    reason: str = "OK"
    body: bytes = GOOD_POLICY
    headers: dict[str, str] = field(default_factory=lambda: {"Content-Type": "text/plain"})


@dataclass
class PolicyServer:
    """An HTTPS server answering every request with ``response`` (change it per test)."""

    server: RunningServer
    response: PolicyResponse
    requests: list[bytes] = field(default_factory=list)

    @property
    def port(self) -> int:
        return self.server.port


def start_policy_server(pki: TestPKI, host: str, kind: CertKind = "good") -> PolicyServer:
    holder: list[PolicyServer] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        request = await reader.readuntil(b"\r\n\r\n")
        me = holder[0]
        me.requests.append(request)
        r = me.response
        head = [f"HTTP/1.1 {r.status} {r.reason}", *(f"{k}: {v}" for k, v in r.headers.items()),
                f"Content-Length: {len(r.body)}", "Connection: close", "", ""]
        writer.write("\r\n".join(head).encode() + r.body)
        await writer.drain()

    server = start_raw(handle, ssl_context=pki.server_context(kind), host=host, name="mta-sts")
    holder.append(PolicyServer(server, PolicyResponse()))
    return holder[0]


class DomainRun(Run):
    """A run of ``mailtls domain`` (or ``check`` of domains): findings of the domains too."""

    @property
    def domain(self) -> dict[str, Any]:
        domains: list[dict[str, Any]] = self.report["domains"]
        assert len(domains) == 1, [d["name"] for d in domains]
        return domains[0]

    @property
    def findings(self) -> list[dict[str, Any]]:
        return [*(f for d in self.report.get("domains", []) for f in d["findings"]),
                *(f for h in self.report["hosts"] for f in h["findings"])]

    all = Run.by_id

    def host(self, name: str) -> dict[str, Any]:
        hosts: list[dict[str, Any]] = [h for h in self.report["hosts"] if h["name"] == name]
        assert hosts, f"{name} not in {[h['name'] for h in self.report['hosts']]}"
        return hosts[0]

    @property
    def host_names(self) -> list[str]:
        return [h["name"] for h in self.report["hosts"]]


def free_port_on(*hosts: str) -> int:
    for _ in range(50):
        with socket.socket() as s:
            s.bind((hosts[0], 0))
            port = int(s.getsockname()[1])
        try:
            for h in hosts[1:]:
                with socket.socket() as s:
                    s.bind((h, port))
        except OSError:
            continue
        return port
    raise RuntimeError("no common free port")


@dataclass
class Site:
    """The loopback servers of example.test (see fixtures/zones/example.test.zone)."""

    pki: TestPKI
    mx1: RunningServer
    mx2: RunningServer
    submissions: RunningServer
    imaps: RunningServer
    policy: PolicyServer

    @property
    def smtp_port(self) -> int:
        return self.mx1.port

    def zone(self, tlsa_lines: str | None = None, **overrides: str) -> str:
        if tlsa_lines is None:
            record = tlsa(self.pki)
            tlsa_lines = "\n".join(f"_{self.smtp_port}._tcp.{mx} IN TLSA {record}"
                                   for mx in ("mx1", "mx2"))
        values = {"MX1": MX1, "MX2": MX2, "TLSA": tlsa_lines,
                  "SUBMISSIONS_PORT": str(self.submissions.port),
                  "IMAPS_PORT": str(self.imaps.port), "MAIL": "127.0.0.1", "STS": STS,
                  "STS_TXT": '_mta-sts IN TXT "v=STSv1; id=20240101T000000;"',
                  "RPT_TXT": '_smtp._tls IN TXT "v=TLSRPTv1; " "rua=mailto:tlsrpt@example.test"',
                  "MORE": ""}
        values.update(overrides)
        return load_zone("example.test", values)

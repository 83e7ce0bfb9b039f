"""DNS queries with dnspython: the only module that talks to a resolver directly.

``Resolver`` asks one resolver: the one the user named with ``--resolver IP[:PORT]``, or the
system's (``/etc/resolv.conf``). Every query sets RD, AD and EDNS0 DO (RFC 6840 §5.7), so a
validating resolver reports whether the answer is DNSSEC-authenticated in the AD bit. That bit
is only worth something when the path to the resolver cannot be tampered with: the resolver
the user named, or a system resolver on loopback (``Resolver.trusted``).

Answers come back as ``DNSAnswer`` with the records in one fixed text form per type; failures
(SERVFAIL, REFUSED, timeouts, unusable configuration) are raised as ``mailtls.errors.DNSError``
subclasses. NXDOMAIN and "no records of this type" are answers, not errors.
"""

from __future__ import annotations

import ipaddress
import time
from dataclasses import dataclass

import dns.asyncresolver
import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.nameserver
import dns.rcode
import dns.rdatatype
import dns.resolver

from mailtls.errors import DNSError, DNSRefused, DNSServerFailure, DNSTimeout, UsageError
from mailtls.model.ports import MAX_PORT, is_port

ANSWER = "answer"  # at least one record of the type asked for
NXDOMAIN = "nxdomain"  # the name does not exist
NODATA = "nodata"  # the name exists, but has no record of this type

DEFAULT_PORT = 53


@dataclass(frozen=True)
class DNSAnswer:
    name: str  # the name asked for, without the trailing dot
    rdtype: str  # "MX", "TXT", ...
    status: str  # ANSWER, NXDOMAIN or NODATA
    # MX "10 mx.example.com."; SRV "0 1 465 mail.example.com."; TLSA "3 1 1 <hex>";
    # TXT the strings of one record joined (non-ASCII escaped); A/AAAA the address
    records: tuple[str, ...]
    authenticated: bool  # the AD bit of the response
    canonical_name: str | None  # the CNAME target the answer was found at, if any
    seconds: float


def parse_resolver(text: str) -> tuple[str, int]:
    """``IP``, ``IP:PORT``, ``[IPv6]:PORT`` or a bare IPv6 address -> (ip, port)."""
    value = text.strip()
    host, port = value, DEFAULT_PORT
    if value.startswith("["):
        inner, sep, rest = value[1:].partition("]")
        if not sep or (rest and not rest.startswith(":")):
            raise UsageError(f"--resolver wants IP[:PORT] or [IPv6]:PORT; got {text!r}")
        host = inner
        if rest:
            port = _port(rest[1:], text)
    elif value.count(":") == 1:
        host, _, port_text = value.partition(":")
        port = _port(port_text, text)
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        raise UsageError(
            f"--resolver wants an IP address (a resolver name would need a resolver); got {text!r}"
        ) from None
    return str(ip), port


def _port(text: str, original: str) -> int:
    try:
        port = int(text)
    except ValueError:
        raise UsageError(f"--resolver: not a port number in {original!r}") from None
    if not is_port(port):
        raise UsageError(f"--resolver: port out of range 1-{MAX_PORT} in {original!r}")
    return port


def _show(ip: str, port: int) -> str:
    host = f"[{ip}]" if ":" in ip else ip
    return host if port == DEFAULT_PORT else f"{host}:{port}"


class Resolver:
    """Queries one resolver (or the system's), DNSSEC-aware, never from a cache."""

    def __init__(self, server: tuple[str, int] | None = None, timeout: float = 5.0) -> None:
        self._explicit = server is not None
        if server is not None:
            res = dns.asyncresolver.Resolver(configure=False)
            res.nameservers = [dns.nameserver.Do53Nameserver(server[0], server[1])]
            self._servers = [server]
        else:
            try:
                res = dns.asyncresolver.Resolver(configure=True)
            except (dns.resolver.NoResolverConfiguration, OSError) as exc:
                raise DNSError(f"no usable system resolver configuration: {exc}") from None
            self._servers = [(str(ns), DEFAULT_PORT) for ns in res.nameservers]
        res.use_edns(0, dns.flags.DO, 1232)
        res.flags = dns.flags.RD | dns.flags.AD
        res.timeout = res.lifetime = timeout
        res.cache = None
        self._res = res
        self.timeout = timeout

    @property
    def description(self) -> str:
        servers = ", ".join(_show(ip, port) for ip, port in self._servers) or "none"
        return servers if self._explicit else f"system ({servers})"

    @property
    def trusted(self) -> bool:
        """Is the AD bit of this resolver worth believing? The one the user named, or a system
        resolver on loopback (a validating resolver on this machine)."""
        if self._explicit:
            return True
        try:
            return bool(self._servers) and all(
                ipaddress.ip_address(ip.split("%")[0]).is_loopback for ip, _port in self._servers
            )
        except ValueError:
            return False

    async def query(self, name: str, rdtype: str) -> DNSAnswer:
        """Ask for ``rdtype`` records of ``name``. Raises ``DNSError`` (and subclasses)."""
        started = time.monotonic()
        shown = name.rstrip(".").lower() or "."
        try:
            qname = dns.name.from_text(name)
        except (dns.exception.DNSException, ValueError) as exc:
            raise DNSError(f"{shown}: not a valid DNS name: {exc}") from None
        try:
            answer = await self._res.resolve(
                qname, rdtype, raise_on_no_answer=False, search=False
            )
        except dns.resolver.NXDOMAIN as exc:
            response = _nx_response(exc)
            return DNSAnswer(
                name=shown, rdtype=rdtype, status=NXDOMAIN, records=(),
                authenticated=bool(response is not None and response.flags & dns.flags.AD),
                canonical_name=None, seconds=_since(started),
            )
        except dns.resolver.LifetimeTimeout:
            raise DNSTimeout(
                f"{shown} {rdtype}: no answer from {self.description} within {self.timeout:g} s"
            ) from None
        except dns.resolver.NoNameservers as exc:
            raise _map_no_nameservers(exc, shown, rdtype, self.description) from None
        except dns.resolver.YXDOMAIN:
            raise DNSError(f"{shown} {rdtype}: name too long after CNAME expansion") from None
        except dns.exception.DNSException as exc:
            raise DNSError(f"{shown} {rdtype}: {exc}") from None
        except OSError as exc:
            raise DNSError(f"{shown} {rdtype}: {exc.strerror or exc}") from None
        records = tuple(_record_text(rdata) for rdata in answer.rrset or ())
        canonical = answer.canonical_name
        return DNSAnswer(
            name=shown,
            rdtype=rdtype,
            status=ANSWER if records else NODATA,
            records=records,
            authenticated=bool(answer.response.flags & dns.flags.AD),
            canonical_name=None if canonical == qname else canonical.to_text().rstrip(".").lower(),
            seconds=_since(started),
        )


def _since(started: float) -> float:
    return round(time.monotonic() - started, 4)


def _nx_response(exc: dns.resolver.NXDOMAIN) -> dns.message.Message | None:
    responses = exc.kwargs.get("responses") or {}
    for response in responses.values():
        if isinstance(response, dns.message.Message):
            return response
    return None


def _map_no_nameservers(
    exc: dns.resolver.NoNameservers, name: str, rdtype: str, where: str
) -> DNSError:
    errors = exc.kwargs.get("errors") or []
    rcodes: list[str] = []
    others: list[str] = []
    for entry in errors:
        problem = entry[3] if len(entry) > 3 else entry
        response = entry[4] if len(entry) > 4 else None
        if response is not None:
            rcodes.append(dns.rcode.to_text(response.rcode()))
        elif isinstance(problem, str):
            rcodes.append(problem)
        else:
            others.append(str(problem) or type(problem).__name__)
    if "SERVFAIL" in rcodes:
        return DNSServerFailure(f"{name} {rdtype}: {where} answered SERVFAIL")
    if "REFUSED" in rcodes:
        return DNSRefused(f"{name} {rdtype}: {where} answered REFUSED")
    if rcodes:
        return DNSError(f"{name} {rdtype}: {where} answered {rcodes[0]}")
    detail = others[0] if others else "no resolver answered"
    return DNSError(f"{name} {rdtype}: {where}: {detail}")


def _record_text(rdata: object) -> str:
    rdtype = getattr(rdata, "rdtype", None)
    if rdtype == dns.rdatatype.MX:
        return f"{rdata.preference} {rdata.exchange.to_text()}"  # type: ignore[attr-defined]
    if rdtype == dns.rdatatype.SRV:
        r = rdata
        return f"{r.priority} {r.weight} {r.port} {r.target.to_text()}"  # type: ignore[attr-defined]
    if rdtype == dns.rdatatype.TLSA:
        r = rdata
        return f"{r.usage} {r.selector} {r.mtype} {r.cert.hex()}"  # type: ignore[attr-defined]
    if rdtype == dns.rdatatype.TXT:
        joined = b"".join(rdata.strings)  # type: ignore[attr-defined]
        return joined.decode("ascii", "backslashreplace")
    if rdtype in (dns.rdatatype.A, dns.rdatatype.AAAA):
        return str(rdata.address)  # type: ignore[attr-defined]
    if rdtype == dns.rdatatype.CNAME:
        return str(rdata.target.to_text())  # type: ignore[attr-defined]
    return str(rdata.to_text())  # type: ignore[attr-defined]

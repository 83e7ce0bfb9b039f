"""Fuzz what DNS hands the domain code: record texts made by ``mailtls.net.dns`` from dnspython
rdata (built from random fields and from mutated wire data), parsed back by the MX, SRV, TLSA,
MTA-STS and TLS-RPT parsers; and ``Resolver.query`` against a scripted in-process nameserver
that answers with random, mutated and broken responses (no socket is opened). Only answers or
``DNSError``; the parsers read back exactly what the wire said."""

from __future__ import annotations

import asyncio
import ipaddress
import itertools
from collections.abc import Callable
from typing import Any

import dns._asyncbackend  # Backend: dns.asyncbackend imports it without re-exporting it
import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.nameserver
import dns.query
import dns.rcode
import dns.rdata
import dns.rdataclass
import dns.rdatatype
from dns.rdtypes.ANY.CNAME import CNAME
from dns.rdtypes.ANY.MX import MX
from dns.rdtypes.ANY.TLSA import TLSA
from dns.rdtypes.ANY.TXT import TXT
from dns.rdtypes.IN.A import A
from dns.rdtypes.IN.AAAA import AAAA
from dns.rdtypes.IN.SRV import SRV
from hypothesis import given, strategies as st

from mailtls.errors import DNSError
from mailtls.formats.mailpolicy import parse_sts_txt, parse_tlsrpt
from mailtls.model import MXRecord
from mailtls.net.dns import ANSWER, NODATA, NXDOMAIN, DNSAnswer, Resolver, _record_text
from mailtls.pki.dane import parse_tlsa
from mailtls.probes.discovery import mx_domains, split_address
from mailtls.probes.domain import parse_mx, parse_srv
from tests.fuzz.fuzz_helpers import FUZZ, edits_strategy, mutated

IN = dns.rdataclass.IN
u16 = st.integers(min_value=0, max_value=65535)
u8 = st.integers(min_value=0, max_value=255)
# labels of any bytes: spaces, dots, backslashes and non-ASCII come back escaped (\032, \., \195)
names = st.lists(st.binary(min_size=1, max_size=20), max_size=4).map(
    lambda labels: dns.name.Name([*labels, b""]))
txt_strings = st.lists(st.binary(max_size=255), min_size=1, max_size=4)

RDATA: dict[str, st.SearchStrategy[Any]] = {
    "MX": st.builds(lambda p, n: MX(IN, dns.rdatatype.MX, p, n), u16, names),
    "SRV": st.builds(lambda a, b, c, n: SRV(IN, dns.rdatatype.SRV, a, b, c, n), u16, u16, u16,
                     names),
    # dnspython (2.9) refuses SHA2-256/512 data of the wrong length: rdata cannot hold it
    "TLSA": st.tuples(u8, u8, u8).flatmap(lambda t: st.builds(
        lambda d: TLSA(IN, dns.rdatatype.TLSA, *t, d),
        st.binary(min_size={1: 32, 2: 64}.get(t[2], 0), max_size={1: 32, 2: 64}.get(t[2], 70)))),
    "TXT": st.builds(lambda s: TXT(IN, dns.rdatatype.TXT, s), txt_strings),
    "A": st.builds(lambda n: A(IN, dns.rdatatype.A, str(ipaddress.IPv4Address(n))),
                   st.integers(min_value=0, max_value=(1 << 32) - 1)),
    "AAAA": st.builds(lambda n: AAAA(IN, dns.rdatatype.AAAA, str(ipaddress.IPv6Address(n))),
                      st.integers(min_value=0, max_value=(1 << 128) - 1)),
}


def _from_wire(rdtype: str, wire: bytes) -> Any:
    try:
        return dns.rdata.from_wire(IN, dns.rdatatype.from_text(rdtype), wire, 0, len(wire))
    except Exception:  # dnspython refuses it; the resolver turns that into a DNSError
        return None


def rdata_of(rdtype: str) -> st.SearchStrategy[Any]:
    """Rdata from random fields, or from their wire form cut and spliced at random."""
    rebuilt = st.tuples(RDATA[rdtype], edits_strategy).map(
        lambda t: _from_wire(rdtype, mutated(t[0].to_wire(), t[1]))).filter(lambda r: r is not None)
    return st.one_of(RDATA[rdtype], rebuilt)


def _name(name: dns.name.Name) -> str:
    return name.to_text().rstrip(".").lower()


def check_text(rdtype: str, rdata: Any) -> None:
    """The record text of ``rdata`` parses back to the same values."""
    text = _record_text(rdata)
    assert isinstance(text, str) and (text.isprintable() or rdtype == "TXT")
    if rdtype == "MX":
        assert parse_mx([text]) == (MXRecord(rdata.preference, _name(rdata.exchange)),)
    elif rdtype == "SRV":
        (srv,) = parse_srv([text])
        assert (srv.priority, srv.weight, srv.port, srv.target) == (
            rdata.priority, rdata.weight, rdata.port, _name(rdata.target))
    elif rdtype == "TLSA":
        record = parse_tlsa(text)
        assert record is not None
        assert (record.usage, record.selector, record.mtype, record.data) == (
            rdata.usage, rdata.selector, rdata.mtype, rdata.cert)
    elif rdtype == "TXT":
        assert text == b"".join(rdata.strings).decode("ascii", "backslashreplace")
        parse_sts_txt([text])
        parse_tlsrpt([text])
    else:
        assert ipaddress.ip_address(text) == ipaddress.ip_address(rdata.address)


@FUZZ
@given(st.sampled_from(list(RDATA)).flatmap(lambda t: st.tuples(st.just(t), rdata_of(t))))
def test_record_text_parses_back(case: tuple[str, Any]) -> None:
    check_text(*case)


@FUZZ
@given(st.from_regex(r"[A-Za-z0-9]{1,32}", fullmatch=True),
       st.lists(st.integers(min_value=0, max_value=60), max_size=4), st.booleans())
def test_txt_strings_are_joined_before_parsing(sts_id: str, cuts: list[int], rpt: bool) -> None:
    """A record split over several character-strings (RFC 7208 §3.3 style) reads as one."""
    text = (f"v=TLSRPTv1; rua=mailto:tlsrpt@example.com; x{sts_id}=1" if rpt
            else f"v=STSv1; id={sts_id};")
    raw = text.encode()
    bounds = sorted({0, len(raw), *(c % (len(raw) + 1) for c in cuts)})
    rdata = TXT(IN, dns.rdatatype.TXT, [raw[a:b] for a, b in itertools.pairwise(bounds)])
    joined = _record_text(rdata)
    if rpt:
        assert parse_tlsrpt([joined]).rua == ("mailto:tlsrpt@example.com",)
    else:
        assert parse_sts_txt([joined]).id == sts_id


# --- Resolver.query against a scripted nameserver ----------------------------------------------


class Scripted(dns.nameserver.Do53Nameserver):
    """A nameserver that never touches the network: each query gets ``reply(request)``,
    read with ``dns.message.from_wire`` as dnspython reads a real UDP answer."""

    def __init__(self, reply: Callable[[dns.message.QueryMessage], bytes]) -> None:
        super().__init__("127.0.0.1", 53)
        self.reply = reply

    async def async_query(
        self, request: dns.message.QueryMessage, timeout: float, source: str | None,
        source_port: int, max_size: bool, backend: dns._asyncbackend.Backend,
        one_rr_per_rrset: bool = False, ignore_trailing: bool = False,
    ) -> dns.message.Message:
        response = dns.message.from_wire(self.reply(request), one_rr_per_rrset=one_rr_per_rrset,
                                         ignore_trailing=ignore_trailing)
        if not request.is_response(response):
            raise dns.query.BadResponse
        return response


def ask(reply: Callable[[dns.message.QueryMessage], bytes], name: str, rdtype: str) -> Any:
    resolver = Resolver(("127.0.0.1", 53), timeout=0.5)
    resolver._res.nameservers = [Scripted(reply)]

    async def query() -> DNSAnswer | DNSError:
        try:
            return await resolver.query(name, rdtype)
        except DNSError as exc:
            assert str(exc)
            return exc

    return asyncio.run(query())


def check_answer(result: DNSAnswer | DNSError, rdtype: str) -> None:
    if isinstance(result, DNSError):
        return
    assert result.status in (ANSWER, NXDOMAIN, NODATA)
    assert (result.status == ANSWER) == bool(result.records)
    assert all(isinstance(r, str) for r in result.records)
    if rdtype == "MX":
        parse_mx(result.records)
    elif rdtype == "SRV":
        parse_srv(result.records)
    elif rdtype == "TLSA":
        assert all(parse_tlsa(r) is not None for r in result.records)
    elif rdtype == "TXT":
        parse_sts_txt(result.records)
        parse_tlsrpt(result.records)


RCODES = [dns.rcode.NOERROR] * 4 + [dns.rcode.NXDOMAIN, dns.rcode.SERVFAIL, dns.rcode.REFUSED,
                                   dns.rcode.FORMERR, dns.rcode.NOTIMP, dns.rcode.YXDOMAIN]


@st.composite
def scripted_replies(draw: st.DrawFn, rdtype: str) -> Callable[[dns.message.QueryMessage], bytes]:
    rcode = draw(st.sampled_from(RCODES))
    ad = draw(st.booleans())
    rdatas = draw(st.lists(RDATA[rdtype], max_size=4))
    cname = draw(st.none() | names)
    edits = draw(st.none() | edits_strategy)
    truncated = draw(st.booleans())

    def reply(request: dns.message.QueryMessage) -> bytes:
        response = dns.message.make_response(request)
        response.set_rcode(rcode)
        if ad:
            response.flags |= dns.flags.AD
        if truncated and rcode == dns.rcode.NOERROR and not rdatas:
            response.flags |= dns.flags.TC
        owner = request.question[0].name
        if cname is not None:
            response.find_rrset(response.answer, owner, IN, dns.rdatatype.CNAME,
                                create=True).add(CNAME(IN, dns.rdatatype.CNAME, cname), 300)
            owner = cname
        if rdatas:
            rrset = response.find_rrset(response.answer, owner, IN,
                                        dns.rdatatype.from_text(rdtype), create=True)
            for rdata in rdatas:
                rrset.add(rdata, 300)
        wire = response.to_wire()
        return wire if edits is None else wire[:2] + mutated(wire[2:], edits)

    return reply


@FUZZ
@given(st.sampled_from(list(RDATA)).flatmap(
    lambda t: st.tuples(st.just(t), scripted_replies(t))))
def test_resolver_answers_or_raises_dns_error(
    case: tuple[str, Callable[[dns.message.QueryMessage], bytes]]
) -> None:
    rdtype, reply = case
    check_answer(ask(reply, "example.com", rdtype), rdtype)


@FUZZ
@given(st.binary(max_size=300), st.sampled_from(["MX", "TXT", "TLSA"]))
def test_resolver_survives_garbage(garbage: bytes, rdtype: str) -> None:
    """Random bytes behind the right message id: dnspython's errors become DNSError."""
    check_answer(ask(lambda request: request.to_wire()[:2] + garbage, "example.com", rdtype),
                 rdtype)


@FUZZ
@given(st.text(max_size=80), st.sampled_from(["MX", "A", "TXT"]))
def test_any_name_is_an_answer_or_dns_error(name: str, rdtype: str) -> None:
    def refuse(request: dns.message.QueryMessage) -> bytes:
        response = dns.message.make_response(request)
        response.set_rcode(dns.rcode.REFUSED)
        return response.to_wire()

    check_answer(ask(refuse, name, rdtype), rdtype)


# --- discovery's readings of DNS names and addresses ----------------------------------------


@FUZZ
@given(st.one_of(names.map(_name), st.text(max_size=40)), st.one_of(names.map(_name),
                                                                   st.text(max_size=20)))
def test_mx_derived_domains(mx_host: str, domain: str) -> None:
    """Thunderbird's MX-based autoconfig domains: suffixes of the MX host, never the domain."""
    derived = mx_domains(mx_host, domain)
    assert len(derived) <= 2 and domain not in derived
    assert all(mx_host.endswith(d) for d in derived)


@FUZZ
@given(st.text(max_size=40))
def test_split_address(address: str) -> None:
    local, domain = split_address(address)
    assert "@" not in domain and domain == domain.lower() and not domain.endswith(".")
    assert local in address

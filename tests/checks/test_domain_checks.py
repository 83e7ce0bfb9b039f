"""Domain facts -> finding ids (checks/domain.py): MX, SRV, MTA-STS, TLS-RPT and DANE, on a
fixed clock, without DNS or sockets. The same verdicts from a private DNS server and real mail
servers are in tests/domain."""

from __future__ import annotations

import dataclasses

import pytest

from mailtls.checks.domain import judge_domain
from mailtls.checks.judge import Judgement
from mailtls.model import (
    Detection,
    DNSLookup,
    DNSStatus,
    DomainObservation,
    HostAddresses,
    HostReport,
    MXRecord,
    PolicyFetch,
    PortObservation,
    RecordType,
    SRVRecord,
    SRVService,
    Verification,
)
from mailtls.pki.dane import record_for
from tests.checks.builders import HOST, NOW, cert, der_chain, port, tls

replace = dataclasses.replace
T = RecordType
DOMAIN = "example.test"
ANSWER, NODATA, NXDOMAIN, SERVFAIL = (DNSStatus.ANSWER, DNSStatus.NODATA, DNSStatus.NXDOMAIN,
                                      DNSStatus.SERVFAIL)
_HASH_A, _HASH_B = "aa" * 32, "bb" * 32


def lk(name: str, rdtype: RecordType, *records: str, status: DNSStatus | None = None,
       **changes: object) -> DNSLookup:
    base = DNSLookup(name, rdtype, status or (ANSWER if records else NODATA), records)
    return replace(base, **changes)


def addresses(name: str, *addrs: str, canonical_name: str | None = None) -> HostAddresses:
    return HostAddresses(name, addrs, (lk(name, T.A, *addrs, canonical_name=canonical_name),))


def srv(label: str, service: str, *records: SRVRecord, authenticated: bool = False,
        status: DNSStatus | None = None) -> SRVService:
    texts = [f"{r.priority} {r.weight} {r.port} {r.target or '.'}" for r in records]
    lookup = lk(f"{label}.{DOMAIN}", T.SRV, *texts, status=status, authenticated=authenticated)
    return SRVService(label, service, lookup, records)


_SRV_OK = srv("_submissions._tcp", "submissions", SRVRecord(0, 1, 465, "srv.example.test"))


def domain(**changes: object) -> DomainObservation:
    """A clean domain: one MX (HOST) with an address, one SRV record, no MTA-STS/TLS-RPT/TLSA
    lookups (each case adds the one it is about)."""
    base = DomainObservation(
        domain=DOMAIN, resolver="127.0.0.1:5353", resolver_trusted=True,
        detected=Detection.REQUESTED,
        mx=lk(DOMAIN, T.MX, f"10 {HOST}"), mx_records=(MXRecord(10, HOST),), implicit_mx=False,
        own=None, hosts=(addresses(HOST, "127.0.0.1"),), smtp_ports=(25,), tlsa=(),
        srv=(_SRV_OK,), mta_sts_txt=None, mta_sts_policy=None, tls_rpt_txt=None,
    )
    return replace(base, **changes)


_STS_TXT = lk(f"_mta-sts.{DOMAIN}", T.TXT, "v=STSv1; id=20261206;")
_POLICY = f"version: STSv1\nmode: enforce\nmx: {HOST}\nmax_age: 604800\n"


def sts(body: str = _POLICY, **changes: object) -> dict[str, object]:
    fetch = PolicyFetch(
        url=f"https://mta-sts.{DOMAIN}/.well-known/mta-sts.txt", host=f"mta-sts.{DOMAIN}",
        address="127.0.0.1", port=443, status=200, content_type="text/plain; charset=utf-8",
        body=body, size=len(body), tls_version="TLSv1.3",
        certificate=cert(dns_names=(f"mta-sts.{DOMAIN}",), common_names=()),
        verification=Verification(True, "system"),
    )
    return {"mta_sts_txt": _STS_TXT, "mta_sts_policy": replace(fetch, **changes)}


def tlsa(*records: str, authenticated: bool = True,
         status: DNSStatus | None = None) -> dict[str, object]:
    return {"tlsa": (lk(f"_25._tcp.{HOST}", T.TLSA, *records, status=status,
                        authenticated=authenticated),)}


def judged(obs: DomainObservation, *observations: PortObservation) -> set[str]:
    hosts = [HostReport(HOST, ("127.0.0.1",), None, tuple(observations), ())]
    findings, _dane = judge_domain(obs, hosts, Judgement(now=NOW))
    return {f.id for f in findings}


_SMTP = port("smtp")
_LEAF_DER, _CA_DER = der_chain(HOST)
_OTHER_LEAF_DER, _OTHER_CA_DER = der_chain("other.test")
_SMTP_DER = port("smtp", tls=replace(tls(), chain_der=(_LEAF_DER, _CA_DER)))
_SMTP_OTHER_DER = port("smtp", tls=replace(
    tls(cert(dns_names=("other.test",), common_names=())),
    chain_der=(_OTHER_LEAF_DER, _OTHER_CA_DER)))
_PLAIN_SUBMISSION = port("submission", starttls_offered=False, starttls_accepted=None,
                         tls=None, capabilities_after=None)

# name -> (domain facts, the mail ports observed, the exact ids expected)
CASES: dict[str, tuple[DomainObservation, tuple[PortObservation, ...], set[str]]] = {
    "clean": (domain(), (), set()),
    "nxdomain": (domain(mx=lk(DOMAIN, T.MX, status=NXDOMAIN)), (), {"dns.domain.nxdomain"}),
    "MX lookup failed": (domain(mx=lk(DOMAIN, T.MX, status=SERVFAIL), mx_records=()), (),
                         {"dns.lookup_failed"}),
    # MX
    "null MX": (domain(mx_records=(MXRecord(0, ""),)), (), {"dns.mx.null"}),
    "null MX and others": (domain(mx_records=(MXRecord(0, ""), MXRecord(10, HOST))), (),
                           {"dns.mx.null_mixed"}),
    "no MX, own address": (domain(mx=lk(DOMAIN, T.MX), mx_records=(), implicit_mx=True,
                                  own=addresses(DOMAIN, "127.0.0.1")), (), {"dns.mx.none"}),
    "MX without address": (domain(hosts=(addresses(HOST),)), (), {"dns.mx.target_unresolved"}),
    "MX is a CNAME": (domain(hosts=(addresses(HOST, "127.0.0.1",
                                              canonical_name="real.example.test"),)), (),
                      {"dns.mx.target_cname"}),
    "own address not tested": (domain(detected=Detection.MX,
                                      own=addresses(DOMAIN, "127.0.0.2")), (),
                               {"domain.own_address_not_tested"}),
    # SRV
    "no SRV": (domain(srv=(srv("_submissions._tcp", "submissions"),)), (), {"srv.none"}),
    "SRV lookup failed": (domain(srv=(srv("_imaps._tcp", "imaps", status=SERVFAIL),)), (),
                          {"dns.lookup_failed"}),
    "SRV says not offered": (domain(srv=(srv("_pop3._tcp", "pop3", SRVRecord(0, 0, 0, "")),)),
                             (), {"srv.not_offered"}),
    "SRV target without address": (domain(hosts=(addresses(HOST, "127.0.0.1"),
                                                 addresses("srv.example.test"))), (),
                                   {"srv.target_unresolved"}),
    "SRV to plaintext": (domain(srv=(srv("_submission._tcp", "submission",
                                         SRVRecord(0, 1, 587, HOST), authenticated=True),)),
                         (_PLAIN_SUBMISSION,), {"srv.plaintext"}),
    "SRV, validated, certificate of the target": (
        domain(srv=(srv("_submission._tcp", "submission", SRVRecord(0, 1, 587, HOST),
                        authenticated=True),)), (port("submission"),), set()),
    "SRV, not validated, certificate not of the domain": (
        domain(srv=(srv("_submission._tcp", "submission", SRVRecord(0, 1, 587, HOST)),)),
        (port("submission"),), {"srv.cert_name_mismatch"}),
    "SRV to a certificate of neither": (
        domain(srv=(srv("_submission._tcp", "submission", SRVRecord(0, 1, 587, HOST),
                        authenticated=True),)),
        (port("submission", tls=tls(cert(dns_names=("other.test",),
                                         common_names=()))),), {"srv.cert_name_mismatch"}),
    # MTA-STS
    "MTA-STS enforced, MX fine": (domain(**sts()), (_SMTP,), set()),
    "no MTA-STS": (domain(mta_sts_txt=lk(f"_mta-sts.{DOMAIN}", T.TXT)), (), {"mta_sts.none"}),
    "MTA-STS record without id": (domain(mta_sts_txt=lk(f"_mta-sts.{DOMAIN}", T.TXT,
                                                        "v=STSv1;")), (),
                                  {"mta_sts.record_invalid"}),
    "policy not fetched": (domain(**sts(status=None, error="refused", body="")), (),
                           {"mta_sts.policy_unavailable"}),
    "policy 404": (domain(**sts(status=404)), (), {"mta_sts.policy_unavailable"}),
    "policy redirect": (domain(**sts(status=301, location="https://x.test/")), (),
                        {"mta_sts.policy_redirect"}),
    "policy host untrusted": (domain(**sts(verification=Verification(False, "system",
                                                                       20, "no issuer"))),
                              (), {"mta_sts.policy_cert_invalid"}),
    "policy as text/html": (domain(**sts(content_type="text/html")), (),
                            {"mta_sts.policy_content_type"}),
    "policy too large": (domain(**sts(truncated=True)), (), {"mta_sts.policy_too_large"}),
    "policy invalid": (domain(**sts("version: STSv1\nmode: sometimes\n")), (),
                       {"mta_sts.policy_invalid"}),
    "policy in testing": (domain(**sts(_POLICY.replace("enforce", "testing"))), (_SMTP,),
                          {"mta_sts.not_enforced"}),
    "policy max_age short": (domain(**sts(_POLICY.replace("604800", "3600"))), (_SMTP,),
                             {"mta_sts.max_age_short"}),
    "MX not in the policy": (domain(**sts(_POLICY.replace(f"mx: {HOST}", "mx: other.test"))),
                             (_SMTP,), {"mta_sts.mx_not_listed"}),
    "MX with TLS 1.0 under MTA-STS": (domain(**sts()),
                                      (port("smtp", tls=tls(version="TLSv1")),),
                                      {"mta_sts.mx_tls_invalid"}),
    # TLS-RPT
    "TLS-RPT fine": (domain(tls_rpt_txt=lk(f"_smtp._tls.{DOMAIN}", T.TXT,
                                           "v=TLSRPTv1; rua=mailto:tls@example.test")), (),
                     set()),
    "no TLS-RPT": (domain(tls_rpt_txt=lk(f"_smtp._tls.{DOMAIN}", T.TXT)), (),
                   {"tls_rpt.none"}),
    "TLS-RPT invalid": (domain(tls_rpt_txt=lk(f"_smtp._tls.{DOMAIN}", T.TXT,
                                              "v=TLSRPTv1; rua=ftp://x.test")), (),
                        {"tls_rpt.invalid"}),
    # DANE
    "two usable TLSA, validated": (domain(**tlsa(f"3 1 1 {_HASH_A}", f"3 1 1 {_HASH_B}")), (),
                                   set()),
    "no TLSA": (domain(**tlsa()), (), {"dane.none"}),
    "TLSA lookup failed": (domain(**tlsa(status=SERVFAIL)), (), {"dane.tlsa.lookup_failed"}),
    "TLSA not validated": (domain(**tlsa(f"3 1 1 {_HASH_A}", f"3 1 1 {_HASH_B}",
                                         authenticated=False)), (),
                           {"dane.not_authenticated"}),
    "TLSA usage 1": (domain(**tlsa(f"3 1 1 {_HASH_A}", f"3 1 1 {_HASH_B}",
                                   f"1 1 1 {_HASH_A}")), (), {"dane.unusable_record"}),
    "single TLSA": (domain(**tlsa(f"3 1 1 {_HASH_A}")), (), {"dane.rollover.single_record"}),
    "TLSA but no STARTTLS": (domain(**tlsa(f"3 1 1 {_HASH_A}", f"3 1 1 {_HASH_B}")),
                             (port("smtp", starttls_offered=False, starttls_accepted=None,
                                   tls=None, capabilities_after=None),),
                             {"dane.starttls_missing"}),
    "DANE-EE matches": (domain(**tlsa(record_for(_LEAF_DER), f"3 1 1 {_HASH_B}")),
                        (_SMTP_DER,), set()),
    "DANE-EE matches nothing": (domain(**tlsa(f"3 1 1 {_HASH_A}", f"3 1 1 {_HASH_B}")),
                                (_SMTP_DER,), {"dane.no_match"}),
    "DANE-TA matches, leaf names the MX": (domain(**tlsa(record_for(_CA_DER, 2, 1, 1),
                                                         f"3 1 1 {_HASH_B}")),
                                           (_SMTP_DER,), set()),
    "DANE-TA matches, leaf names another host": (
        domain(**tlsa(record_for(_OTHER_CA_DER, 2, 1, 1), f"3 1 1 {_HASH_B}")),
        (_SMTP_OTHER_DER,), {"dane.ta_name_mismatch"}),
}


@pytest.mark.parametrize(("facts", "observations", "expected"), CASES.values(),
                         ids=CASES.keys())
def test_domain_checks(facts: DomainObservation, observations: tuple[PortObservation, ...],
                       expected: set[str]) -> None:
    assert judged(facts, *observations) == expected


def case_ids() -> set[str]:
    return {i for *_x, expected in CASES.values() for i in expected}

"""The pure parts of domain mode: MTA-STS and TLS-RPT parsers, MX patterns, TLSA matching,
resolver arguments, special-use names, masked SMTP. Every verdict both ways."""

from __future__ import annotations

import pytest

from mailtls.errors import UsageError
from mailtls.formats.mailpolicy import (
    mx_matches,
    parse_sts_policy,
    parse_sts_txt,
    parse_tlsrpt,
)
from mailtls.net.dns import parse_resolver
from mailtls.pki import dane
from mailtls.scan.domain import is_special_use, may_detect
from mailtls.testing import TestPKI
from tests.domain.domain_helpers import chain_der, tlsa

# --- MTA-STS TXT -------------------------------------------------------------------------------


def test_sts_txt_valid() -> None:
    record = parse_sts_txt(["v=spf1 -all", "v=STSv1; id=20240101T000000;"])
    assert record.valid and record.id == "20240101T000000"


def test_sts_txt_extension_fields_are_allowed() -> None:
    assert parse_sts_txt(["v=STSv1;id=abc123; ext_x=value"]).valid


def test_sts_txt_absent() -> None:
    record = parse_sts_txt(["v=spf1 -all"])
    assert not record.candidates and not record.valid and not record.problems


@pytest.mark.parametrize(("records", "problem"), [
    (["v=STSv1; id=1;", "v=STSv1; id=2;"], "2 TXT records"),
    (["v=STSv1;"], "no id"),
    (["v=STSv1; id=has-dash;"], "1-32 letters and digits"),
    (["v=STSv1; id=" + "a" * 33], "1-32 letters and digits"),
    (["v=STSv1x; id=1;"], "begin with exactly"),
    (["v=STSv1; id=1; bad field;"], "not name=value"),
])
def test_sts_txt_invalid(records: list[str], problem: str) -> None:
    record = parse_sts_txt(records)
    assert not record.valid
    assert any(problem in p for p in record.problems), record.problems


# --- MTA-STS policy ------------------------------------------------------------------------------


def test_policy_valid_with_crlf() -> None:
    policy = parse_sts_policy("version: STSv1\r\nmode: enforce\r\nmx: mx1.example.test\r\n"
                              "mx: *.example.test\r\nmax_age: 604800\r\n")
    assert policy.valid and policy.mode == "enforce" and policy.max_age == 604800
    assert policy.mx == ("mx1.example.test", "*.example.test") and not policy.notes


def test_policy_lf_and_duplicates_are_notes_not_problems() -> None:
    policy = parse_sts_policy("version: STSv1\nmode: testing\nmode: enforce\nmx: a.example\n"
                              "max_age: 86400\nfoo: bar\n")
    assert policy.valid and policy.mode == "testing"
    assert len(policy.notes) == 3


def test_policy_mode_none_needs_no_mx() -> None:
    assert parse_sts_policy("version: STSv1\nmode: none\nmax_age: 86400\n").valid


@pytest.mark.parametrize(("text", "problem"), [
    ("mode: enforce\nmx: a.example\nmax_age: 1\n", "no version"),
    ("version: STSv2\nmode: enforce\nmx: a.example\nmax_age: 1\n", "not STSv1"),
    ("version: STSv1\nmode: strict\nmx: a.example\nmax_age: 1\n", "enforce, testing or none"),
    ("version: STSv1\nmode: enforce\nmx: a.example\n", "no max_age"),
    ("version: STSv1\nmode: enforce\nmx: a.example\nmax_age: 31557601\n", "exceeds"),
    ("version: STSv1\nmode: enforce\nmx: a.example\nmax_age: soon\n", "whole number"),
    ("version: STSv1\nmode: enforce\nmax_age: 86400\n", "needs at least one mx"),
    ("version: STSv1\nmode: enforce\nmx: *.*.example\nmax_age: 86400\n", "not a host name"),
    ("<html>version: STSv1</html>\n", "not 'key: value'"),
])
def test_policy_invalid(text: str, problem: str) -> None:
    policy = parse_sts_policy(text)
    assert not policy.valid
    assert any(problem in p for p in policy.problems), policy.problems


@pytest.mark.parametrize(("pattern", "host", "matches"), [
    ("mx1.example.test", "MX1.example.test.", True),
    ("mx1.example.test", "mx2.example.test", False),
    ("*.example.test", "mx1.example.test", True),
    ("*.example.test", "example.test", False),
    ("*.example.test", "a.mx1.example.test", False),
])
def test_mx_patterns(pattern: str, host: str, matches: bool) -> None:
    assert mx_matches(pattern, host) is matches


# --- TLS-RPT -------------------------------------------------------------------------------------


def test_tlsrpt_valid() -> None:
    record = parse_tlsrpt(["v=TLSRPTv1; rua=mailto:a@example.test,https://r.example.test/x"])
    assert record.valid and len(record.rua) == 2


def test_tlsrpt_absent() -> None:
    assert not parse_tlsrpt(["v=spf1 -all"]).candidates


@pytest.mark.parametrize(("records", "problem"), [
    (["v=TLSRPTv1;"], "no rua"),
    (["v=TLSRPTv1; rua=ftp://r.example.test/"], "not allowed"),
    (["v=TLSRPTv1; rua=mailto:nobody"], "mail address"),
    (["v=TLSRPTv1; rua=mailto:a@example.test", "v=TLSRPTv1; rua=mailto:b@example.test"],
     "2 TXT records"),
])
def test_tlsrpt_invalid(records: list[str], problem: str) -> None:
    record = parse_tlsrpt(records)
    assert not record.valid
    assert any(problem in p for p in record.problems), record.problems


# --- DANE -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(("selector", "mtype"), [(0, 0), (0, 1), (0, 2), (1, 0), (1, 1), (1, 2)])
def test_dane_ee_matches_the_leaf_with_every_selector_and_type(
    pki: TestPKI, selector: int, mtype: int
) -> None:
    record = dane.parse_tlsa(tlsa(pki, usage=3, selector=selector, mtype=mtype))
    assert record is not None and dane.unusable_reason(record) is None
    match = dane.match_chain([record], chain_der(pki))
    assert match is not None and match.depth == 0
    other = dane.parse_tlsa(tlsa(pki, "rsa", usage=3, selector=selector, mtype=mtype))
    assert other is not None and dane.match_chain([other], chain_der(pki)) is None


def test_dane_ta_matches_a_sent_issuer_only(pki: TestPKI) -> None:
    chain = chain_der(pki, "with_intermediate")
    assert len(chain) == 2
    ta = dane.parse_tlsa(tlsa(pki, "with_intermediate", usage=2, depth=1))
    assert ta is not None
    match = dane.match_chain([ta], chain)
    assert match is not None and match.depth == 1
    # the same CA, but the server does not send it: no match (RFC 7672 §3.1.2)
    assert dane.match_chain([ta], chain_der(pki, "missing_intermediate")) is None
    # a 2 x x record of the leaf itself is not a trust anchor match
    leaf_as_ta = dane.parse_tlsa(tlsa(pki, "with_intermediate", usage=2, depth=0))
    assert leaf_as_ta is not None and dane.match_chain([leaf_as_ta], chain) is None


@pytest.mark.parametrize(("text", "reason"), [
    ("0 1 1 " + "00" * 32, "not used for SMTP"),
    ("1 0 1 " + "00" * 32, "not used for SMTP"),
    ("4 1 1 " + "00" * 32, "unknown certificate usage"),
    ("3 2 1 " + "00" * 32, "unknown selector"),
    ("3 1 3 " + "00" * 32, "unknown matching type"),
    ("3 1 1 " + "00" * 31, "can never match"),
])
def test_dane_unusable_records(text: str, reason: str) -> None:
    record = dane.parse_tlsa(text)
    assert record is not None
    assert reason in (dane.unusable_reason(record) or "")


def test_dane_unusable_pkix_record_is_never_matched(pki: TestPKI) -> None:
    pkix = dane.parse_tlsa(tlsa(pki, usage=1))
    assert pkix is not None and dane.match_chain([pkix], chain_der(pki)) is None


def test_tlsa_text_that_is_not_a_record() -> None:
    assert dane.parse_tlsa("3 1 1 xyz") is None
    assert dane.parse_tlsa("3 1") is None


# --- options and names ----------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "parsed"), [
    ("127.0.0.1", ("127.0.0.1", 53)),
    ("127.0.0.1:5353", ("127.0.0.1", 5353)),
    ("::1", ("::1", 53)),
    ("[::1]:5353", ("::1", 5353)),
])
def test_resolver_argument(text: str, parsed: tuple[str, int]) -> None:
    assert parse_resolver(text) == parsed


@pytest.mark.parametrize("text", ["dns.example.test", "127.0.0.1:0", "127.0.0.1:x", "[::1",
                                  "[::1]x", "1.2.3.4:70000"])
def test_bad_resolver_argument(text: str) -> None:
    with pytest.raises(UsageError):
        parse_resolver(text)


def test_special_use_names_are_never_auto_detected_without_a_resolver() -> None:
    assert is_special_use("mail.example.test") and is_special_use("localhost")
    assert is_special_use("x.invalid") and not is_special_use("example.com")
    assert not may_detect("example.test", resolver_given=False)
    assert may_detect("example.test", resolver_given=True)
    assert may_detect("example.com", resolver_given=False)
    assert not may_detect("192.0.2.1", resolver_given=True)

"""Fuzz the MTA-STS and TLS-RPT parsers (RFC 8461, RFC 8460): whatever DNS or the policy web
server sends, they answer with problems, never an exception, and stay linear in the input."""

from __future__ import annotations

import re

from hypothesis import example, given, strategies as st

from mailtls.formats.mailpolicy import (
    MAX_AGE_LIMIT,
    MODES,
    POLICY_SIZE_LIMIT,
    StsPolicy,
    mx_matches,
    parse_sts_policy,
    parse_sts_txt,
    parse_tlsrpt,
    valid_mx_pattern,
)
from tests.fuzz.fuzz_helpers import FUZZ, tokens, within

TXT_WORDS = ["v=STSv1", "v=TLSRPTv1", ";", "; ", " ", "\t", "=", "id=", "rua=", "mailto:",
             "https://", "reports@example.com", "example.com", "[", "]", "[::1]", "@", ",",
             "%20", ":", "!", "20240101T000000", "ext_1=", "x", "\x00", "é", "\\"]
POLICY_WORDS = ["version", "mode", "max_age", "mx", ":", ": ", "STSv1", "enforce", "testing",
                "none", "86400", "31557601", "99999999999", "*.", "mx.example.com", ".", "-",
                "\r\n", "\n", "\r", " ", "\t", "x", "é", "\x00", "_"]

label = st.from_regex(r"[a-z0-9]([a-z0-9-]{0,10}[a-z0-9])?", fullmatch=True)
domain = st.lists(label, min_size=2, max_size=4).map(".".join)
pattern = st.one_of(domain, domain.map(lambda d: "*." + d))
records = st.lists(st.one_of(tokens(TXT_WORDS), st.text(max_size=60),
                             tokens(TXT_WORDS).map(lambda t: "v=STSv1;" + t),
                             tokens(TXT_WORDS).map(lambda t: "v=TLSRPTv1;" + t)), max_size=4)


@FUZZ
@given(records)
def test_sts_txt(texts: list[str]) -> None:
    record = parse_sts_txt(texts)
    assert set(record.candidates) <= set(texts)
    if record.valid:
        assert record.record in texts and record.id is not None
        assert re.fullmatch(r"[A-Za-z0-9]{1,32}", record.id)
    assert all(isinstance(p, str) and p for p in record.problems)


@FUZZ
@given(records)
def test_tlsrpt(texts: list[str]) -> None:
    record = parse_tlsrpt(texts)
    assert set(record.candidates) <= set(texts)
    if record.valid:
        assert record.rua and all(u.lower().startswith(("mailto:", "https:")) for u in record.rua)
    assert all(isinstance(p, str) and p for p in record.problems)


@FUZZ
@given(st.lists(st.tuples(st.sampled_from(["mailto:", "https://", "MAILTO:", "ftp://", ""]),
                          st.text(max_size=30)), min_size=1, max_size=4))
@example([("https://", "[x")])
@example([("mailto:", "a@[b"), ("https://", "ex\uff0fample.com")])
def test_tlsrpt_rua_uris(uris: list[tuple[str, str]]) -> None:
    """Every URI goes through urllib: an unclosed "[" in a host once escaped as ValueError."""
    rua = ",".join(scheme + rest for scheme, rest in uris)
    record = parse_tlsrpt([f"v=TLSRPTv1; rua={rua}"])
    assert record.record is not None and len(record.rua) <= len(uris)


def _check_policy(policy: StsPolicy, text: str) -> None:
    if policy.valid:
        assert policy.version == "STSv1" and policy.mode in MODES
        assert policy.max_age is not None and 0 <= policy.max_age <= MAX_AGE_LIMIT
        assert all(valid_mx_pattern(p) for p in policy.mx)
        assert policy.mode == "none" or policy.mx
    # what the parser says is linear in what it read (a report quotes it)
    said = sum(len(p) for p in (*policy.problems, *policy.notes))
    assert said <= 20 * min(len(text), POLICY_SIZE_LIMIT) + 4096


@FUZZ
@given(st.one_of(tokens(POLICY_WORDS, max_size=80), st.text(max_size=400)))
def test_sts_policy(text: str) -> None:
    _check_policy(parse_sts_policy(text), text)


@FUZZ
@given(st.lists(st.tuples(st.sampled_from(["version", "mode", "max_age", "mx", "x-ext", "", "?"]),
                          st.sampled_from([":", ": ", " : ", "", "="]),
                          tokens(POLICY_WORDS, max_size=4)), max_size=12),
       st.sampled_from(["\r\n", "\n", "\r"]))
def test_sts_policy_lines(lines: list[tuple[str, str, str]], eol: str) -> None:
    text = eol.join(k + sep + v for k, sep, v in lines)
    _check_policy(parse_sts_policy(text), text)


@FUZZ
@given(st.sampled_from(MODES), st.integers(min_value=0, max_value=MAX_AGE_LIMIT),
       st.lists(pattern, min_size=1, max_size=5), st.sampled_from(["\r\n", "\n"]),
       st.booleans())
def test_valid_policy_round_trips(
    mode: str, max_age: int, mx: list[str], eol: str, trailing: bool
) -> None:
    lines = ["version: STSv1", f"mode: {mode}", *(f"mx: {p}" for p in mx), f"max_age: {max_age}"]
    policy = parse_sts_policy(eol.join(lines) + (eol if trailing else ""))
    assert policy.valid, policy.problems
    assert (policy.mode, policy.max_age, policy.mx) == (mode, max_age, tuple(mx))


@FUZZ
@given(st.one_of(pattern, st.text(max_size=30)), st.one_of(domain, st.text(max_size=30)))
def test_mx_matching(pat: str, host: str) -> None:
    result = mx_matches(pat, host)
    if pat.isascii() and host.isascii():  # case and one trailing dot do not matter
        dotted = host if host.endswith(".") else host + "."
        assert result == mx_matches(pat.upper(), dotted.upper())
    if result and pat.startswith("*."):
        assert host.lower().rstrip(".").count(".") == pat.lower().rstrip(".").count(".")
    elif not pat.startswith("*."):
        assert result == (pat.lower().removesuffix(".") == host.lower().removesuffix("."))


@FUZZ
@given(label, domain)
def test_wildcard_matches_one_label(first: str, parent: str) -> None:
    assert mx_matches(f"*.{parent}", f"{first}.{parent}")
    assert not mx_matches(f"*.{parent}", parent)
    assert not mx_matches(f"*.{parent}", f"a.{first}.{parent}")


def test_oversized_policy_is_cut_at_the_rfc_limit() -> None:
    text = "version: STSv1\r\nmode: none\r\nmax_age: 86400\r\n" + "x" * (POLICY_SIZE_LIMIT * 4)
    with within():
        policy = parse_sts_policy(text)
    assert not policy.valid
    assert any("64 KiB" in p for p in policy.problems)


def test_malformed_lines_are_counted_not_quoted_one_by_one() -> None:
    text = "garbage\n" * 8000
    policy = parse_sts_policy(text)
    assert len(policy.problems) < 20
    assert any("more lines" in p for p in policy.problems)


def test_repeated_keys_do_not_quote_the_first_value_each_time() -> None:
    """One 30 KiB value and thousands of repeats once made ~100 MB of notes."""
    text = "version: " + "a" * 30000 + "\n" + "version:\n" * 3900
    with within():
        policy = parse_sts_policy(text)
    assert sum(len(n) for n in policy.notes) < 1_000_000


def test_worst_case_txt_and_tlsrpt_are_linear() -> None:
    big = "v=STSv1; " + "id=" + "a" * 60000 + "; " + "x=y;" * 10000
    rpt = "v=TLSRPTv1; rua=" + ",".join(["https://[x"] * 5000 + ["mailto:a@" + "b" * 30000])
    with within():
        assert not parse_sts_txt([big]).valid
        assert not parse_tlsrpt([rpt]).valid

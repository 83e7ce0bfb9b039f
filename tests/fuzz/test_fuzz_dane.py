"""Fuzz DANE: TLSA record text from DNS, and chain matching of random TLSA records against
random bytes, mutated and real certificate chains. Nothing but None/Match, no exception."""

from __future__ import annotations

import hashlib
import re

import trustme
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from hypothesis import example, given, strategies as st

from mailtls.pki.dane import (
    TLSA,
    association,
    leaf_matches,
    match_chain,
    parse_tlsa,
    record_for,
    unusable_reason,
)
from tests.fuzz.fuzz_helpers import FUZZ, edits_strategy, mutated, tokens


def _der(pem: bytes) -> bytes:
    return x509.load_pem_x509_certificate(pem).public_bytes(serialization.Encoding.DER)


_ROOT = trustme.CA()
_INTERMEDIATE = _ROOT.create_child_ca()
_LEAF = _INTERMEDIATE.issue_cert("mail.example.test")
# leaf first, as a server sends it
CHAIN = [_der(b.bytes()) for b in _LEAF.cert_chain_pems] + [_der(_ROOT.cert_pem.bytes())]
OTHER = _der(trustme.CA().issue_cert("other.example.test").cert_chain_pems[0].bytes())

byte = st.integers(min_value=0, max_value=255)
small = st.integers(min_value=0, max_value=4)


@FUZZ
@given(tokens(["0", "1", "2", "3", "255", "256", "1000", " ", "\t", "\n", "ab", "AB", "0f", "g",
               "٣", "\u00a0", "-", "+"], max_size=30))
@example("3 1 1 " + "00" * 32)
@example("٣ 1 1 ab")
def test_parse_tlsa_text(text: str) -> None:
    record = parse_tlsa(text)
    if record is None:
        return
    assert min(record.usage, record.selector, record.mtype) >= 0
    assert max(record.usage, record.selector, record.mtype) <= 255
    again = parse_tlsa(f"{record.usage} {record.selector} {record.mtype} {record.data.hex()}")
    assert again is not None and again.data == record.data
    assert record.label and record.short
    assert unusable_reason(record) is None or unusable_reason(record)


@FUZZ
@given(byte, byte, byte, st.binary(max_size=80), st.sampled_from([" ", "  ", "\t"]),
       st.booleans(), st.integers(min_value=0, max_value=20))
def test_published_records_parse_exactly(
    usage: int, selector: int, mtype: int, data: bytes, space: str, upper: bool, split: int
) -> None:
    hex_data = data.hex().upper() if upper else data.hex()
    hex_data = hex_data[:split * 2] + " " + hex_data[split * 2:] if data else hex_data
    record = parse_tlsa(space.join([str(usage), str(selector), str(mtype), hex_data]))
    assert record is not None
    assert (record.usage, record.selector, record.mtype, record.data) == (
        usage, selector, mtype, data)


@st.composite
def tlsa_records(draw: st.DrawFn) -> list[TLSA]:
    out = []
    for _ in range(draw(st.integers(min_value=0, max_value=4))):
        usage, selector, mtype = draw(small), draw(small), draw(small)
        kind = draw(st.sampled_from(["random", "real", "digest-length"]))
        if kind == "real":
            data = association(draw(st.sampled_from([*CHAIN, OTHER])), selector, mtype) or b""
        elif kind == "digest-length":
            data = draw(st.binary(min_size=32, max_size=32) | st.binary(min_size=64, max_size=64))
        else:
            data = draw(st.binary(max_size=70))
        out.append(TLSA(usage, selector, mtype, data, f"{usage} {selector} {mtype} {data.hex()}"))
    return out


@st.composite
def chains(draw: st.DrawFn) -> list[bytes]:
    kind = draw(st.sampled_from(["real", "shuffled", "mutated", "random", "empty"]))
    if kind == "empty":
        return []
    if kind == "random":
        return draw(st.lists(st.binary(max_size=300), min_size=1, max_size=4))
    chain = list(CHAIN)
    if kind == "shuffled":
        chain = draw(st.permutations([*chain, OTHER]))[: draw(st.integers(1, 4))]
    if kind == "mutated":
        at = draw(st.integers(min_value=0, max_value=len(chain) - 1))
        chain[at] = mutated(chain[at], draw(edits_strategy))
    return chain


@FUZZ
@given(tlsa_records(), chains())
def test_match_chain(records: list[TLSA], chain: list[bytes]) -> None:
    match = match_chain(records, chain)
    if match is not None:
        assert match.record in records and unusable_reason(match.record) is None
        assert 0 <= match.depth < len(chain)
        assert (match.depth == 0) == (match.record.usage == 3)
        assert association(chain[match.depth], match.record.selector,
                           match.record.mtype) == match.record.data
    assert set(leaf_matches(records, chain)) <= set(records)


@FUZZ
@given(st.sampled_from([(3, 1, 1), (3, 0, 1), (3, 1, 2), (3, 0, 0), (2, 1, 1), (2, 0, 2)]),
       st.integers(min_value=1, max_value=2))
def test_real_chain_matches_its_own_records(kind: tuple[int, int, int], depth: int) -> None:
    usage, selector, mtype = kind
    target = CHAIN[0] if usage == 3 else CHAIN[depth]
    data = association(target, selector, mtype)
    assert data is not None
    record = TLSA(usage, selector, mtype, data, "")
    match = match_chain([record], CHAIN)
    assert match is not None and match.depth == (0 if usage == 3 else depth)
    # DANE-TA needs the leaf to chain to the matched CA: not when the order is broken
    if usage == 2:
        assert match_chain([record], [CHAIN[0], OTHER, *CHAIN[1:]]) is None


def test_empty_chain_matches_nothing() -> None:
    """A DANE-EE record against an empty chain once raised IndexError."""
    record = parse_tlsa("3 1 1 " + hashlib.sha256(b"x").hexdigest())
    assert record is not None
    assert match_chain([record], []) is None and leaf_matches([record], []) == []


@FUZZ
@given(st.one_of(st.binary(max_size=400), st.builds(mutated, st.sampled_from(CHAIN),
                                                     edits_strategy)),
       small, small, small)
def test_record_for(der: bytes, usage: int, selector: int, mtype: int) -> None:
    """``record_for`` documents ValueError for what is not a certificate."""
    try:
        text = record_for(der, usage, selector, mtype)
    except ValueError as exc:
        assert "not a certificate" in str(exc)
        return
    record = parse_tlsa(text)
    assert record is not None and re.fullmatch(r"\d+ \d+ \d+ [0-9a-f]*", text)
    assert association(der, selector, mtype) == record.data

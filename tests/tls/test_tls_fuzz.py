"""Property tests: whatever a server sends, the parser answers, asks for more, or raises
ProtocolError - nothing else - and holds at most max_bytes."""

from __future__ import annotations

import itertools
import json
import os
from pathlib import Path

from hypothesis import HealthCheck, given, settings, strategies as st

from mailtls.errors import ProtocolError
from mailtls.tls.hello import AlertResult, HelloParser, ServerHelloResult, client_hello
from mailtls.tls.versions import TLSVersion
from tests.tls.tls_helpers import SERVER_NAME, parse_all, read_client_hello, record

FLIGHTS_FILE = Path(__file__).parents[2] / "fixtures" / "tls" / "flights.json"
FLIGHTS = [
    (bytes.fromhex(f["hex"]), bool(f["want_flight"]))
    for f in json.loads(FLIGHTS_FILE.read_text()).values()
]
FUZZ = settings(
    max_examples=int(os.environ.get("MAILTLS_FUZZ_EXAMPLES", "300")),
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
MAX = 8192


def feed(data: bytes, cuts: list[int], *, want_flight: bool = True, max_bytes: int = MAX) -> None:
    """Feed ``data`` cut at ``cuts``; only ProtocolError may escape; memory stays bounded."""
    parser = HelloParser(max_bytes=max_bytes, want_flight=want_flight)
    bounds = sorted({c % (len(data) + 1) for c in cuts} | {0, len(data)})
    try:
        for a, b in itertools.pairwise(bounds):
            result = parser.receive_data(data[a:b])
            assert parser.buffered <= max_bytes
            assert parser.bytes_seen <= max_bytes
            if result is not None:
                assert isinstance(result, ServerHelloResult | AlertResult)
                break
        else:
            result = parser.receive_eof()
            assert result is None or isinstance(result, ServerHelloResult | AlertResult)
    except ProtocolError as exc:
        assert str(exc)


cuts_strategy = st.lists(st.integers(min_value=0, max_value=1 << 16), max_size=20)


@FUZZ
@given(st.binary(max_size=4000), cuts_strategy)
def test_random_bytes(data: bytes, cuts: list[int]) -> None:
    feed(data, cuts)


@FUZZ
@given(
    st.lists(
        st.tuples(st.sampled_from([20, 21, 22, 23]), st.binary(max_size=300)),
        max_size=12,
    ),
    cuts_strategy,
)
def test_random_records(records: list[tuple[int, bytes]], cuts: list[int]) -> None:
    feed(b"".join(record(ct, payload) for ct, payload in records), cuts)


@FUZZ
@given(
    st.lists(
        st.tuples(
            st.sampled_from([0, 2, 11, 12, 13, 14, 22, 99]),
            st.binary(max_size=200),
            st.integers(min_value=-3, max_value=3),
        ),
        min_size=1,
        max_size=8,
    ),
    cuts_strategy,
    st.booleans(),
)
def test_random_handshake_messages(
    msgs: list[tuple[int, bytes, int]], cuts: list[int], want_flight: bool
) -> None:
    """Structured handshake messages with slightly wrong lengths."""
    payload = b"".join(
        bytes([t]) + max(0, len(body) + skew).to_bytes(3, "big") + body for t, body, skew in msgs
    )
    feed(record(22, payload), cuts, want_flight=want_flight)


@FUZZ
@given(
    st.sampled_from(range(len(FLIGHTS))),
    st.lists(st.tuples(st.integers(min_value=0), st.integers(0, 255)), min_size=1, max_size=6),
    cuts_strategy,
)
def test_mutated_real_flights(index: int, edits: list[tuple[int, int]], cuts: list[int]) -> None:
    raw, want_flight = FLIGHTS[index]
    data = bytearray(raw)
    for pos, value in edits:
        data[pos % len(data)] = value
    feed(bytes(data), cuts, want_flight=want_flight)


@FUZZ
@given(st.sampled_from(range(len(FLIGHTS))), st.integers(min_value=0), cuts_strategy)
def test_truncated_real_flights(index: int, cut: int, cuts: list[int]) -> None:
    raw, want_flight = FLIGHTS[index]
    feed(raw[: cut % (len(raw) + 1)], cuts, want_flight=want_flight)


@FUZZ
@given(st.sampled_from(range(len(FLIGHTS))), cuts_strategy)
def test_any_chunking_gives_the_same_result(index: int, cuts: list[int]) -> None:
    raw, want_flight = FLIGHTS[index]
    whole = parse_all(raw, want_flight=want_flight)
    parser = HelloParser(want_flight=want_flight)
    bounds = sorted({c % (len(raw) + 1) for c in cuts} | {0, len(raw)})
    result = None
    for a, b in itertools.pairwise(bounds):
        result = parser.receive_data(raw[a:b])
        if result is not None:
            break
    assert (result or parser.receive_eof()) == whole


@FUZZ
@given(
    st.sampled_from([TLSVersion.SSL3, TLSVersion.TLS1_0, TLSVersion.TLS1_1, TLSVersion.TLS1_2,
                     TLSVersion.TLS1_3]),
    st.lists(st.integers(min_value=0, max_value=0xFFFF), min_size=1, max_size=400),
    st.one_of(st.none(), st.just(SERVER_NAME), st.text(max_size=70)),
    st.booleans(),
)
def test_client_hellos_are_well_formed(
    version: TLSVersion, suites: list[int], name: str | None, shares: bool
) -> None:
    key_shares = [0x1D, 0x17] if shares and version == TLSVersion.TLS1_3 else []
    hello = client_hello(version, suites, server_name=name, key_share_groups=key_shares)
    ch = read_client_hello(hello)
    assert ch["suites"][: len(suites)] == suites
    assert not 256 <= ch["handshake_len"] < 512 or version == TLSVersion.SSL3
    assert ch["legacy_version"] == min(version, TLSVersion.TLS1_2)

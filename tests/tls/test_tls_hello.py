"""tlshello: ClientHello construction and the incremental first-flight parser."""

from __future__ import annotations

import asyncio
import hashlib
import json
import struct
from pathlib import Path
from typing import Any

import pytest

from mailtls.errors import ProtocolError
from mailtls.tls.hello import (
    DEFAULT_GROUPS,
    DEFAULT_TLS12_GROUPS,
    HRR_RANDOM,
    AlertResult,
    HelloParser,
    ServerHelloResult,
    client_hello,
    group_name,
    sslv2_client_hello,
)
from mailtls.tls.versions import TLSVersion
from tests.tls.tls_helpers import (
    SERVER_NAME,
    certificate_body,
    ext,
    handshake,
    import_tlslite,
    parse_all,
    parse_chunks,
    read_client_hello,
    record,
    record_flights,
    server_hello_body,
    splits,
    sslv2_server_hello,
    u16_list,
)

FIXTURES = Path(__file__).parents[2] / "fixtures" / "tls" / "flights.json"


# --- ClientHello ----------------------------------------------------------------------------
def test_tls12_hello_contents() -> None:
    ch = read_client_hello(client_hello(TLSVersion.TLS1_2, [0xC02F, 0x009C], server_name="Mail.X."))
    assert ch["record_versions"] == {0x0301}
    assert ch["legacy_version"] == 0x0303
    assert ch["suites"] == [0xC02F, 0x009C]
    assert ch["compression"] == [0]
    exts = ch["extensions"]
    assert exts[0x0000] == struct.pack("!HBH", 9, 0, 6) + b"mail.x"
    assert u16_list(exts[0x000A][2:]) == list(DEFAULT_TLS12_GROUPS)
    assert exts[0x000B] == b"\x01\x00"
    assert exts[0xFF01] == b"\x00"
    assert 0x0017 in exts and 0x000D in exts
    assert 0x002B not in exts and 0x0033 not in exts


def test_tls10_has_no_signature_algorithms_and_ssl3_no_extensions() -> None:
    ch = read_client_hello(client_hello(TLSVersion.TLS1_0, [0x002F], server_name=SERVER_NAME))
    assert ch["legacy_version"] == 0x0301 and 0x000D not in ch["extensions"]
    ch = read_client_hello(client_hello(TLSVersion.SSL3, [0x0005], server_name=SERVER_NAME))
    assert ch["record_versions"] == {0x0300}
    assert ch["legacy_version"] == 0x0300
    assert ch["suites"] == [0x0005, 0x00FF]  # renegotiation SCSV instead of the extension
    assert ch["extensions"] == {}


def test_tls13_hello_contents() -> None:
    hello = client_hello(
        TLSVersion.TLS1_3, [0x1301, 0x1302], server_name=SERVER_NAME, key_share_groups=[0x1D, 0x17]
    )
    ch = read_client_hello(hello)
    assert ch["legacy_version"] == 0x0303
    exts = ch["extensions"]
    assert exts[0x002B] == b"\x02\x03\x04"
    assert exts[0x002D] == b"\x01\x01"
    assert u16_list(exts[0x000A][2:]) == list(DEFAULT_GROUPS)
    shares = exts[0x0033][2:]
    assert shares[:4] == b"\x00\x1d\x00\x20"  # x25519, 32 bytes
    p256 = shares[4 + 32 :]
    assert p256[:4] == b"\x00\x17\x00\x41" and p256[4] == 4  # uncompressed P-256 point
    assert 0xFF01 not in exts
    empty = read_client_hello(client_hello(TLSVersion.TLS1_3, [0x1301], server_name=None))
    assert empty["extensions"][0x0033] == b"\x00\x00"
    assert 0x0000 not in empty["extensions"]


def test_key_shares_are_fresh_and_valid() -> None:
    from cryptography.hazmat.primitives.asymmetric import ec

    def share(group: int) -> bytes:
        hello = client_hello(TLSVersion.TLS1_3, [0x1301], server_name=None,
                             key_share_groups=[group])
        extensions: dict[int, bytes] = read_client_hello(hello)["extensions"]
        return extensions[0x0033][2 + 4 :]

    assert share(0x1D) != share(0x1D)
    assert len(share(0x1E)) == 56
    for group, curve in ((0x17, ec.SECP256R1()), (0x18, ec.SECP384R1()), (0x19, ec.SECP521R1())):
        ec.EllipticCurvePublicKey.from_encoded_point(curve, share(group))


@pytest.mark.parametrize("name", ["127.0.0.1", "::1", "[::1]", "", None, "."])
def test_no_sni_for_ip_literals_and_empty(name: str | None) -> None:
    ch = read_client_hello(client_hello(TLSVersion.TLS1_2, [0xC02F], server_name=name))
    assert 0x0000 not in ch["extensions"]


def test_idna_sni() -> None:
    ch = read_client_hello(client_hello(TLSVersion.TLS1_2, [0xC02F], server_name="bücher.example"))
    assert ch["extensions"][0x0000].endswith(b"xn--bcher-kva.example")


@pytest.mark.parametrize("version", [TLSVersion.TLS1_0, TLSVersion.TLS1_2, TLSVersion.TLS1_3])
def test_never_in_the_f5_size_range(version: TLSVersion) -> None:
    for n_suites in range(1, 260):
        suites = list(range(0x0001, 0x0001 + n_suites))
        ch = read_client_hello(client_hello(version, suites, server_name=SERVER_NAME))
        assert not 256 <= ch["handshake_len"] < 512
        if 0x0015 in ch["extensions"]:
            assert ch["handshake_len"] == 512 or ch["extensions"][0x0015] == b""
            assert set(ch["extensions"][0x0015]) <= {0}


def test_huge_hello_is_split_into_records() -> None:
    hello = client_hello(TLSVersion.TLS1_2, list(range(1, 9000)), server_name=None)
    ch = read_client_hello(hello)
    assert len(ch["suites"]) == 8999
    assert hello[5 + (1 << 14)] == 22  # a second record follows a full first one


def test_tlslite_parses_our_hellos() -> None:
    import_tlslite()
    from tlslite.messages import ClientHello
    from tlslite.utils.codec import Parser

    for version in (TLSVersion.SSL3, TLSVersion.TLS1_0, TLSVersion.TLS1_2, TLSVersion.TLS1_3):
        hello = client_hello(
            version,
            [0x1301, 0xC02F, 0x0005],
            server_name=SERVER_NAME,
            key_share_groups=[0x1D] if version == TLSVersion.TLS1_3 else [],
        )
        parsed = ClientHello(ssl2=False).parse(Parser(bytearray(hello[6:])))
        assert parsed.cipher_suites[:3] == [0x1301, 0xC02F, 0x0005]
        if version >= TLSVersion.TLS1_0:
            assert parsed.server_name == SERVER_NAME.encode()


def test_bad_arguments() -> None:
    with pytest.raises(ValueError):
        client_hello(TLSVersion.TLS1_2, [], server_name=None)
    with pytest.raises(ValueError):
        client_hello(TLSVersion.SSL2, [1], server_name=None)
    with pytest.raises(ValueError):
        client_hello(TLSVersion.TLS1_2, [0x10000], server_name=None)
    with pytest.raises(ValueError):
        client_hello(TLSVersion.TLS1_2, [1], server_name=None, key_share_groups=[0x1D])
    with pytest.raises(ValueError):
        client_hello(
            TLSVersion.TLS1_3, [0x1301], server_name=None, groups=[0x17], key_share_groups=[0x1D]
        )
    with pytest.raises(ValueError):
        client_hello(
            TLSVersion.TLS1_3, [0x1301], server_name=None, groups=[0x100], key_share_groups=[0x100]
        )
    with pytest.raises(ValueError):
        sslv2_client_hello([])


def test_sslv2_client_hello() -> None:
    hello = sslv2_client_hello([0x010080, 0x0700C0])
    length = ((hello[0] & 0x7F) << 8) | hello[1]
    assert hello[0] & 0x80 and length == len(hello) - 2
    assert hello[2] == 1 and hello[3:5] == b"\x00\x02"
    specs_len, sid_len, challenge_len = struct.unpack("!HHH", hello[5:11])
    assert (specs_len, sid_len, challenge_len) == (6, 0, 16)
    assert hello[11:17] == bytes.fromhex("0100800700c0")


# --- recorded and live flights --------------------------------------------------------------
def stored_flights() -> dict[str, dict[str, Any]]:
    data: dict[str, dict[str, Any]] = json.loads(FIXTURES.read_text())
    return data


@pytest.fixture(scope="module")
def live_flights() -> dict[str, dict[str, Any]]:
    try:
        import_tlslite()
        with_tlslite = True
    except pytest.skip.Exception:
        with_tlslite = False
    flights = asyncio.run(record_flights(with_tlslite=with_tlslite))
    return {k: v for k, v in flights.items()}


def check_expectations(
    result: ServerHelloResult | AlertResult | None, expect: dict[str, Any]
) -> None:
    if "alert" in expect:
        assert isinstance(result, AlertResult)
        assert result.level == 2 and result.description == expect["alert"]
        assert result.name == "protocol_version"
        return
    assert isinstance(result, ServerHelloResult)
    assert result.version == expect["version"]
    assert result.cipher == expect["cipher"]
    assert result.compression == 0
    assert result.complete
    if "group" in expect:
        assert result.selected_group == expect["group"]
        assert result.hello_retry == expect["hrr"]
        assert 0x002B in result.extensions and 0x0033 in result.extensions
        assert result.certificate_ders == ()
    else:
        assert result.selected_group is None and not result.hello_retry
    if "leaf_sha256" in expect:
        assert hashlib.sha256(result.certificate_ders[0]).hexdigest() == expect["leaf_sha256"]
    elif "group" not in expect:
        assert result.certificate_ders == ()  # hello only
    assert result.server_key_exchange_dh_bits == expect.get("dh_bits")
    assert result.server_key_exchange_curve == expect.get("curve")
    if "reneg" in expect:
        assert result.secure_renegotiation == expect["reneg"]
        assert 0xFF01 in result.extensions
    assert len(result.session_id) <= 32


@pytest.mark.parametrize("name", sorted(stored_flights()))
def test_stored_flight(name: str) -> None:
    flight = stored_flights()[name]
    raw = bytes.fromhex(flight["hex"])
    whole = parse_all(raw, want_flight=flight["want_flight"])
    check_expectations(whole, flight["expect"])
    for chunks in splits(raw):
        assert parse_chunks(chunks, want_flight=flight["want_flight"]) == whole


def test_live_flights(live_flights: dict[str, dict[str, Any]]) -> None:
    assert len(live_flights) >= 6
    for flight in live_flights.values():
        raw = bytes.fromhex(flight["hex"])
        whole = parse_all(raw, want_flight=flight["want_flight"])
        check_expectations(whole, flight["expect"])
        for chunks in splits(raw):
            assert parse_chunks(chunks, want_flight=flight["want_flight"]) == whole


def test_hello_only_stops_early() -> None:
    raw = bytes.fromhex(stored_flights()["openssl_tls12_dhe_rsa"]["hex"])
    hello_only = parse_all(raw, want_flight=False)
    full = parse_all(raw)
    assert isinstance(hello_only, ServerHelloResult) and isinstance(full, ServerHelloResult)
    assert hello_only.cipher == full.cipher and hello_only.certificate_ders == ()
    # first record only: the flight is incomplete, EOF yields a partial result
    length = int.from_bytes(raw[3:5], "big")
    parser = HelloParser()
    partial_input = raw[: 5 + length]
    first = parser.receive_data(partial_input)
    if first is None:
        partial = parser.receive_eof()
        assert isinstance(partial, ServerHelloResult) and partial.cipher == full.cipher


# --- synthetic --------------------------------------------------------------------------------
def test_several_messages_in_one_record_and_one_message_over_records() -> None:
    cert = b"\x30" + b"A" * 3000
    flight = (
        handshake(2, server_hello_body(extensions=[ext(0xFF01, b"\x00"), ext(0x0017, b"")]))
        + handshake(11, certificate_body([cert, b"\x30\x01\x00"]))
        + handshake(12, b"\x03\x00\x17\x41" + b"\x04" * 65 + b"sig")
        + handshake(14, b"")
    )
    records = record(22, flight[:100]) + record(22, flight[100:2000]) + record(22, flight[2000:])
    result = parse_all(records)
    assert isinstance(result, ServerHelloResult)
    assert result.certificate_ders == (cert, b"\x30\x01\x00")
    assert result.server_key_exchange_curve == 0x0017
    assert result.extensions == (0xFF01, 0x0017) and result.secure_renegotiation
    assert result.complete and result.session_id == b"\x22" * 32
    for chunks in splits(records[:200] + records[-120:]):
        parse_chunks(chunks)  # must not crash on a cut flight


def test_dhe_psk_and_unknown_suite_key_exchange() -> None:
    prime = b"\xff" * 128
    ske = struct.pack("!H", 3) + b"abc" + struct.pack("!H", len(prime)) + prime + b"\x00\x01\x02"
    flight = handshake(2, server_hello_body(cipher=0x00AA)) + handshake(12, ske)
    result = parse_all(record(22, flight + handshake(14, b"")))
    assert isinstance(result, ServerHelloResult) and result.server_key_exchange_dh_bits == 1024
    unknown = handshake(2, server_hello_body(cipher=0xEEEE)) + handshake(12, b"\x03\x00\x1d")
    result = parse_all(record(22, unknown + handshake(14, b"")))
    assert isinstance(result, ServerHelloResult) and result.server_key_exchange_curve == 0x001D


def test_hello_retry_request() -> None:
    body = server_hello_body(
        random=HRR_RANDOM,
        cipher=0x1302,
        extensions=[ext(0x002B, b"\x03\x04"), ext(0x0033, b"\x00\x18")],
    )
    result = parse_all(record(22, handshake(2, body)))
    assert isinstance(result, ServerHelloResult)
    assert result.hello_retry and result.tls13 and result.selected_group == 0x0018
    assert result.cipher_name == "TLS_AES_256_GCM_SHA384" and group_name(0x18) == "secp384r1"


def test_no_extensions_and_ssl3() -> None:
    body = server_hello_body(version=0x0300, cipher=5, extensions=None)
    result = parse_all(record(22, handshake(2, body) + handshake(14, b""), 0x0300))
    assert isinstance(result, ServerHelloResult)
    assert result.version == TLSVersion.SSL3 and result.extensions == ()
    assert not result.secure_renegotiation


def test_warning_alert_is_skipped_but_fatal_is_not() -> None:
    hello = record(22, handshake(2, server_hello_body()) + handshake(14, b""))
    result = parse_all(record(21, b"\x01\x70") + hello)  # warning unrecognized_name
    assert isinstance(result, ServerHelloResult)
    assert parse_all(record(21, b"\x02\x28")) == AlertResult(2, 40, "handshake_failure")
    assert parse_all(record(21, b"\x01\x00")) == AlertResult(1, 0, "close_notify")
    assert parse_all(record(21, b"\x02\xfe")) == AlertResult(2, 254, "alert_254")
    split_alert = record(21, b"\x02") + record(21, b"\x46")
    assert parse_all(split_alert) == AlertResult(2, 70, "protocol_version")


def test_alert_after_server_hello_gives_partial_result() -> None:
    result = parse_all(record(22, handshake(2, server_hello_body())) + record(21, b"\x02\x50"))
    assert isinstance(result, ServerHelloResult) and not result.complete


def test_change_cipher_spec_ends_the_flight() -> None:
    data = record(22, handshake(2, server_hello_body())) + record(20, b"\x01")
    result = parse_all(data)
    assert isinstance(result, ServerHelloResult) and not result.complete


def test_eof_without_answer() -> None:
    parser = HelloParser()
    assert parser.receive_data(b"\x16\x03") is None
    assert parser.receive_eof() is None


def test_sslv2_server_hello_and_error() -> None:
    data = sslv2_server_hello([0x0700C0, 0x010080], cert=b"\x30\x03abc")
    result = parse_all(data)
    assert isinstance(result, ServerHelloResult)
    assert result.version == TLSVersion.SSL2
    assert result.sslv2_cipher_kinds == (0x0700C0, 0x010080)
    assert result.cipher == 0x0700C0 and result.cipher_name == "SSL_CK_DES_192_EDE3_CBC_WITH_MD5"
    assert result.certificate_ders == (b"\x30\x03abc",)
    for chunks in splits(data):
        assert parse_chunks(chunks) == result
    assert parse_all(b"\x80\x03\x00\x00\x01") == AlertResult(2, 1, "ssl2_no_cipher")


@pytest.mark.parametrize(
    "garbage",
    [
        b"220 mail.example.test ESMTP Postfix\r\n",
        b"HTTP/1.1 400 Bad Request\r\n\r\n",
        b"* OK IMAP4rev1 ready\r\n",
        b"+OK POP3 ready\r\n",
        b"\x16\x02\x00\x00\x05hello",
        b"\x16\x03\x09\x00\x05hello",
        b"\x16\x03\x03\xff\xff",
        b"\x17\x03\x03\x00\x01x",
        b"\x14\x03\x03\x00\x01\x01",
        b"\x16\x03\x03\x00\x00",
        b"\x16\x03\x03\x00\x04\x0b\x00\x00\x00",
        b"\x16\x03\x03\x00\x06\x02\x00\x00\x02\x03\x03",
        b"\x15\x03\x03\x00\x02\x07\x28",
        b"\x80\x05\x07\x00\x00\x00\x00",
        b"\x80\x0c\x04\x00\x01\x00\x03" + b"\x00" * 7,
    ],
)
def test_garbage_is_a_protocol_error_with_excerpt(garbage: bytes) -> None:
    with pytest.raises(ProtocolError) as whole:
        parse_all(garbage)
    if garbage[:1].isalpha() or garbage[:1].isdigit() or garbage[:1] in b"*+":
        assert "not a TLS answer" in str(whole.value)
        assert repr(garbage[:4])[2:-1] in str(whole.value)
    for chunks in splits(garbage):
        with pytest.raises(ProtocolError):
            parse_chunks(chunks)


def test_malformed_server_hellos() -> None:
    good = server_hello_body(extensions=[ext(0x002B, b"\x03\x04")])
    bad_bodies = [
        good[:-1],  # extension cut
        good + b"\x00",  # trailing byte
        server_hello_body(version=0x0203),
        server_hello_body(session_id=b"x" * 33),
        server_hello_body(extensions=[ext(0x002B, b"\x03")]),
        server_hello_body(extensions=[ext(0x0033, b"\x00")]),
        b"\x03\x03" + b"\x00" * 10,
    ]
    for body in bad_bodies:
        with pytest.raises(ProtocolError):
            parse_all(record(22, handshake(2, body)))
    with pytest.raises(ProtocolError):
        parse_all(record(22, handshake(2, server_hello_body()) + handshake(2, good)))
    bad_cert = handshake(2, server_hello_body()) + handshake(11, b"\x00\x00\x05\x00\x00\x09ab")
    with pytest.raises(ProtocolError):
        parse_all(record(22, bad_cert))


def test_memory_bound() -> None:
    parser = HelloParser(max_bytes=4096)
    parser.receive_data(b"\x16\x03\x03\x40\x00")
    with pytest.raises(ProtocolError):
        for _ in range(100):
            parser.receive_data(b"\x00" * 1000)
            assert parser.buffered <= 4096
    # with a ServerHello in hand, an endless flight ends in a partial result
    parser = HelloParser(max_bytes=4096)
    parser.receive_data(record(22, handshake(2, server_hello_body())))
    result = parser.receive_data(record(22, b"\x0b\x00\x0f\xa0" + b"\x00" * 996))
    for _ in range(10):
        if result is not None:
            break
        result = parser.receive_data(record(22, b"\x00" * 1000))
    assert isinstance(result, ServerHelloResult) and not result.complete
    assert parser.bytes_seen <= 4096


def test_result_is_sticky() -> None:
    parser = HelloParser(want_flight=False)
    first = parser.receive_data(record(22, handshake(2, server_hello_body())))
    assert first is not None
    assert parser.receive_data(b"garbage") is first
    assert parser.receive_eof() is first and parser.result is first


# --- compression, status_request and CertificateStatus ----------------------------------------
def test_compression_and_status_request_in_the_hello() -> None:
    hello = client_hello(
        TLSVersion.TLS1_2, [0xC02F], server_name=SERVER_NAME, compression_methods=(1, 0),
        status_request=True,
    )
    ch = read_client_hello(hello)
    assert ch["compression"] == [1, 0]
    # RFC 6066 §8: status_type ocsp(1), empty responder_id_list, empty request_extensions
    assert ch["extensions"][0x0005] == b"\x01\x00\x00\x00\x00"
    assert 0x0005 not in read_client_hello(
        client_hello(TLSVersion.TLS1_2, [0xC02F], server_name=SERVER_NAME)
    )["extensions"]
    # tlslite-ng reads the same
    import_tlslite()
    from tlslite.messages import ClientHello
    from tlslite.utils.codec import Parser

    parsed = ClientHello(ssl2=False).parse(Parser(bytearray(hello[6:])))
    assert parsed.compression_methods == [1, 0]
    assert parsed.getExtension(0x0005) is not None
    with pytest.raises(ValueError):  # no extensions in SSLv3
        client_hello(TLSVersion.SSL3, [0x0005], server_name=None, status_request=True)
    with pytest.raises(ValueError):
        client_hello(TLSVersion.TLS1_2, [0x0005], server_name=None, compression_methods=(1,))
    with pytest.raises(ValueError):
        client_hello(TLSVersion.TLS1_2, [0x0005], server_name=None, compression_methods=(0, 256))


def _stapled_flight(response: bytes, *, compression: int = 0) -> bytes:
    return record(22, (
        handshake(2, server_hello_body(
            extensions=[ext(0xFF01, b"\x00"), ext(0x0005, b"")], compression=compression))
        + handshake(11, certificate_body([b"\x30\x03der"]))
        + handshake(22, b"\x01" + len(response).to_bytes(3, "big") + response)
        + handshake(14, b"")
    ))


def test_certificate_status_is_read_from_the_flight() -> None:
    response = b"\x30\x82" + bytes(range(256)) * 2
    flight = _stapled_flight(response, compression=1)
    for chunks in splits(flight):
        result = parse_chunks(chunks)
        assert isinstance(result, ServerHelloResult)
        assert result.ocsp_response == response and result.status_request
        assert result.compression == 1 and result.complete
        assert result.certificate_ders == (b"\x30\x03der",)
    plain = parse_all(record(22, handshake(2, server_hello_body()) + handshake(14, b"")))
    assert isinstance(plain, ServerHelloResult)
    assert plain.ocsp_response is None and not plain.status_request and plain.compression == 0
    # a status type other than ocsp(1) is no OCSP response; a bad length is malformed
    other = record(22, handshake(2, server_hello_body()) + handshake(22, b"\x02\x00\x00\x01x")
                   + handshake(14, b""))
    result = parse_all(other)
    assert isinstance(result, ServerHelloResult) and result.ocsp_response is None
    with pytest.raises(ProtocolError):
        parse_all(record(22, handshake(2, server_hello_body())
                         + handshake(22, b"\x01\x00\x00\x05abc") + handshake(14, b"")))

"""enumerate_tls: exact algorithm checks on a simulated server, then real loopback servers."""

from __future__ import annotations

import asyncio
import socket
import ssl
import struct
import time
from collections import Counter

import pytest

from mailtls.tls import suites as cs
from mailtls.tls.enumeration import (
    ALL_VERSIONS,
    QUESTION_TALLY,
    TLSEnumeration,
    enumerate_tls,
    exchange_from_callable,
    fallback_version,
)
from mailtls.tls.versions import TLSVersion
from tests.tls.tls_helpers import (
    SERVER_NAME,
    FakeServer,
    ThreadedServer,
    certificate_body,
    configured_suites,
    ext,
    handshake,
    import_tlslite,
    leaf_der,
    read_client_hello,
    record,
    server_context,
    server_hello_body,
    ssl_server,
    tcp_exchange,
    tlslite_server,
)

T12_PREF = [0xC030, 0x009F, 0xC012, 0x0005, 0x0035, 0xC0AA, 0x0018, 0xFEFF]  # spread over chunks
T13_PREF = [0x1303, 0x1301, 0x1304]
CANDIDATES = [s.code for s in cs.LEGACY_SUITES]


async def fake_scan(fake: FakeServer, **kw: object) -> TLSEnumeration:
    return await enumerate_tls(
        exchange_from_callable(fake.answer),
        server_name=SERVER_NAME,
        **kw,  # type: ignore[arg-type]
    )


# --- simulated server ---------------------------------------------------------------------------
async def test_server_order_across_chunks() -> None:
    fake = FakeServer({0x0303: T12_PREF, 0x0304: T13_PREF}, groups13=[0x18, 0x1D, 0x100])
    result = await fake_scan(fake)
    assert result.versions == {
        TLSVersion.SSL2: False,
        TLSVersion.SSL3: False,
        TLSVersion.TLS1_0: False,
        TLSVersion.TLS1_1: False,
        TLSVersion.TLS1_2: True,
        TLSVersion.TLS1_3: True,
    }
    assert result.suites[TLSVersion.TLS1_2] == tuple(T12_PREF)
    assert result.server_order[TLSVersion.TLS1_2] is True
    assert result.suites[TLSVersion.TLS1_3] == tuple(T13_PREF)
    assert result.server_order[TLSVersion.TLS1_3] is True
    assert result.groups == (0x18, 0x1D, 0x100)
    assert result.ecdhe_groups == (0x17, 0x1D)
    assert result.dh_bits == 1024
    assert result.certificate_ders == (b"\x30\x03der",)
    assert result.secure_renegotiation is True
    assert result.errors == ()
    assert result.connections == fake.connections
    assert fake.largest_offer <= 128
    assert result.suite_names(TLSVersion.TLS1_3)[0] == "TLS_CHACHA20_POLY1305_SHA256"


async def test_client_order() -> None:
    fake = FakeServer({0x0303: T12_PREF, 0x0304: T13_PREF}, server_order=False)
    result = await fake_scan(fake, versions=[TLSVersion.TLS1_2, TLSVersion.TLS1_3])
    assert set(result.suites[TLSVersion.TLS1_2]) == set(T12_PREF)
    assert list(result.suites[TLSVersion.TLS1_2]) == sorted(T12_PREF, key=CANDIDATES.index)
    assert result.server_order == {TLSVersion.TLS1_2: False, TLSVersion.TLS1_3: False}
    assert set(result.suites[TLSVersion.TLS1_3]) == set(T13_PREF)
    assert TLSVersion.SSL3 not in result.versions


@pytest.mark.parametrize("server_order", [True, False])
async def test_suite_hellos_also_find_groups_and_curves(server_order: bool) -> None:
    """Every suite hello offers the groups (curves) not seen yet first: a server that follows
    the client's preference names a new one in each answer, so the group questions need fewer
    hellos of their own, and find the same groups in the same order."""
    groups13, curves = [0x18, 0x1D, 0x17, 0x100], [0x18, 0x17, 0x1D]
    tally: Counter[str] = Counter()
    token = QUESTION_TALLY.set(tally)
    try:
        fake = FakeServer({0x0303: T12_PREF, 0x0304: T13_PREF}, server_order=server_order,
                          groups13=groups13, curves=curves)
        result = await fake_scan(fake, versions=[TLSVersion.TLS1_2, TLSVersion.TLS1_3])
    finally:
        QUESTION_TALLY.reset(token)
    if server_order:  # its own order: every suite hello names its favourite, one saved
        assert result.groups == tuple(groups13)
        assert result.ecdhe_groups == tuple(curves)
        assert tally["TLS 1.3 groups"] == len(groups13)  # the rest and the final refusal
    else:  # ours: DEFAULT_GROUPS order, then the other candidates
        assert result.groups == (0x1D, 0x17, 0x18, 0x100)
        assert result.ecdhe_groups == (0x1D, 0x17, 0x18)
        # 3 suites -> 4 TLS 1.3 hellos besides the order hello, each naming a new group
        assert tally["TLS 1.3 groups"] == 1  # only the final refusal
        assert tally["TLS 1.2 ECDHE curves"] == 2  # two ECDHE suites named two: one left
    assert result.errors == ()


async def test_small_chunks_and_a_server_that_hangs_up_on_big_hellos() -> None:
    fake = FakeServer({0x0303: T12_PREF, 0x0302: T12_PREF[:3]}, max_suites=20)
    # 128 > 20: every offer fails
    assert (await fake_scan(fake)).versions[TLSVersion.TLS1_2] is False
    fake = FakeServer({0x0303: T12_PREF, 0x0302: T12_PREF[:3]}, max_suites=20)
    result = await fake_scan(fake, max_suites_per_hello=20)
    assert result.suites[TLSVersion.TLS1_2] == tuple(T12_PREF)
    assert result.suites[TLSVersion.TLS1_1] == tuple(T12_PREF[:3])
    assert result.versions[TLSVersion.TLS1_0] is False
    assert fake.largest_offer <= 20


async def test_legacy_only_server_with_sslv2() -> None:
    fake = FakeServer(
        {0x0300: [0x0005, 0x000A], 0x0301: [0x0005, 0x000A, 0x0003]}, sslv2=[0x010080, 0x0700C0]
    )
    result = await fake_scan(fake, probe_groups=False)
    assert result.versions[TLSVersion.SSL2] is True
    assert set(result.suites[TLSVersion.SSL2]) == {0x010080, 0x0700C0}
    assert result.suite_names(TLSVersion.SSL2)[0].startswith("SSL_CK_")
    assert result.suites[TLSVersion.SSL3] == (0x0005, 0x000A)
    assert result.suites[TLSVersion.TLS1_0] == (0x0005, 0x000A, 0x0003)
    for v in (TLSVersion.TLS1_1, TLSVersion.TLS1_2, TLSVersion.TLS1_3):
        assert result.versions[v] is False and result.suites[v] == ()
    assert result.groups == () and result.ecdhe_groups == ()


async def test_single_suite_has_unknown_order() -> None:
    result = await fake_scan(FakeServer({0x0303: [0xC02F]}), versions=[TLSVersion.TLS1_2])
    assert result.suites[TLSVersion.TLS1_2] == (0xC02F,)
    assert result.server_order[TLSVersion.TLS1_2] is None


async def test_unreachable_server() -> None:
    fake = FakeServer({}, unreachable=True)
    result = await fake_scan(fake)
    assert result.versions == dict.fromkeys(ALL_VERSIONS, None)
    assert result.connections == len(ALL_VERSIONS)
    assert len(result.errors) == len(ALL_VERSIONS)
    assert result.accepted_versions == ()


async def test_unknown_suite_choice_is_reported() -> None:
    class Liar(FakeServer):
        async def answer(self, hello: bytes) -> bytes | None:
            data = await super().answer(hello)
            return data.replace(b"\xc0\x2f", b"\xab\xcd", 1) if data else data

    result = await fake_scan(Liar({0x0303: [0xC02F]}), versions=[TLSVersion.TLS1_2])
    assert result.versions[TLSVersion.TLS1_2] is False
    assert any("0xABCD" in e and "not offered" in e for e in result.errors)


async def test_a_made_up_server_version_is_an_answer_not_a_crash() -> None:
    """A ServerHello of a version that does not exist (0x0399), with an ECDHE key exchange:
    reported as another version, the curve of it not recorded as any version's."""
    flight = handshake(2, server_hello_body(version=0x0399, cipher=0xC02F,
                                            extensions=[ext(0xFF01, b"\x00")]))
    flight += handshake(11, certificate_body([b"\x30\x03der"]))
    flight += handshake(12, b"\x03" + struct.pack("!H", 0x0017) + b"\x01\x04sig")
    flight += handshake(14, b"")

    async def answer(hello: bytes) -> bytes:
        return record(22, flight)

    result = await enumerate_tls(exchange_from_callable(answer), server_name=SERVER_NAME,
                                 versions=[TLSVersion.TLS1_2], extra_probes=False)
    assert result.versions[TLSVersion.TLS1_2] is False
    assert result.ecdhe_groups == ()


# --- the hellos after the enumeration: compression, stapling, TLS_FALLBACK_SCSV ---------------
LEGACY = {0x0301: [0xC013, 0x002F], 0x0302: [0xC013, 0x002F], 0x0303: T12_PREF, 0x0304: T13_PREF}


async def test_compression_stapling_and_an_ignored_fallback_scsv() -> None:
    fake = FakeServer(LEGACY, compress=True, staple=b"OCSP-RESPONSE")
    result = await fake_scan(fake, probe_groups=False)
    assert result.compression is True
    assert result.ocsp_stapling is True and result.ocsp_response == b"OCSP-RESPONSE"
    assert result.fallback_scsv is False
    assert result.connections == fake.connections
    features, fallback = fake.hellos[-2:]
    # one TLS 1.2 hello offering DEFLATE before null, and status_request, with the 1.2 suites
    assert features["legacy_version"] == 0x0303 and features["compression"] == [1, 0]
    assert features["extensions"][0x0005] == b"\x01\x00\x00\x00\x00"
    assert features["suites"] == list(result.suites[TLSVersion.TLS1_2])
    # then TLS 1.1 (the highest legacy version below 1.3) with the SCSV after its suites
    assert fallback["legacy_version"] == 0x0302 and fallback["suites"][-1] == 0x5600
    assert fallback["suites"][:-1] == list(result.suites[TLSVersion.TLS1_1])
    assert all(h["compression"] == [0] and 0x0005 not in h["extensions"]
               for h in fake.hellos[:-2])  # the enumeration itself offers neither
    assert any("OCSP response stapled (13 bytes)" in n for n in result.notes)
    assert any(n.startswith("TLS 1.1 hello with TLS_FALLBACK_SCSV: ServerHello TLS 1.1")
               for n in result.notes)


async def test_refused_fallback_and_no_compression_or_staple() -> None:
    result = await fake_scan(FakeServer(LEGACY, fallback_scsv=True), probe_groups=False)
    assert result.fallback_scsv is True
    assert result.compression is False and result.ocsp_stapling is False
    assert result.ocsp_response is None
    assert any("inappropriate_fallback alert" in n for n in result.notes)

    class HangsUp(FakeServer):  # Dovecot: no alert, the connection just closes
        async def answer(self, hello: bytes) -> bytes | None:
            scsv = not hello[0] & 0x80 and 0x5600 in read_client_hello(hello)["suites"]
            data = await super().answer(hello)
            return b"" if scsv else data

    result = await fake_scan(HangsUp(LEGACY), probe_groups=False)
    assert result.fallback_scsv is True
    assert any(n.endswith("TLS_FALLBACK_SCSV: the server hung up (no answer)")
               for n in result.notes)

    class Silent(FakeServer):  # no answer within the timeout: unknown, not refused
        async def answer(self, hello: bytes) -> bytes | None:
            if not hello[0] & 0x80 and 0x5600 in read_client_hello(hello)["suites"]:
                await asyncio.sleep(1)
            return await super().answer(hello)

    result = await fake_scan(Silent(LEGACY), probe_groups=False, timeout=0.2)
    assert result.fallback_scsv is None


async def test_no_fallback_hello_when_nothing_below_tls12() -> None:
    """TLS 1.2 + 1.3 only: a fallback to 1.2 is caught by the TLS 1.3 downgrade sentinel, so no
    SCSV hello is sent (RFC 8996 made TLS_FALLBACK_SCSV moot there)."""
    fake = FakeServer({0x0303: T12_PREF, 0x0304: T13_PREF})
    result = await fake_scan(fake, probe_groups=False)
    assert result.fallback_scsv is None
    assert not any(0x5600 in h["suites"] for h in fake.hellos)
    assert fake.hellos[-1]["compression"] == [1, 0]  # only the features hello came after
    plain = FakeServer({0x0303: T12_PREF, 0x0304: T13_PREF})
    without = await fake_scan(plain, probe_groups=False, extra_probes=False)
    assert without.connections == result.connections - 1
    assert (without.compression, without.ocsp_stapling, without.notes) == (None, None, ())


async def test_tls13_only_server_gets_no_extra_hello() -> None:
    fake = FakeServer({0x0304: T13_PREF})
    result = await fake_scan(fake, probe_groups=False)
    assert (result.compression, result.ocsp_stapling, result.fallback_scsv) == (None, None, None)
    assert result.notes == ()


def test_fallback_version() -> None:
    V = TLSVersion
    assert fallback_version([V.TLS1_2, V.TLS1_3]) is None
    assert fallback_version([V.TLS1_3]) is None
    assert fallback_version([V.TLS1_0]) is None
    assert fallback_version([V.TLS1_0, V.TLS1_1, V.TLS1_2, V.TLS1_3]) == V.TLS1_1
    assert fallback_version([V.TLS1_0, V.TLS1_2]) == V.TLS1_0
    assert fallback_version([V.TLS1_0, V.TLS1_1]) == V.TLS1_0
    assert fallback_version([V.SSL2, V.SSL3, V.TLS1_0]) == V.SSL3


def test_bad_arguments() -> None:
    import asyncio

    with pytest.raises(ValueError):
        asyncio.run(fake_scan(FakeServer({}), max_suites_per_hello=0))


# --- real loopback servers ----------------------------------------------------------------------
OPENSSL3_GROUPS = {0x1D, 0x17, 0x1E, 0x19, 0x18, 0x100, 0x101, 0x102, 0x103, 0x104}


async def scan(srv: ThreadedServer, **kw: object) -> TLSEnumeration:
    with srv:
        result = await enumerate_tls(
            tcp_exchange(srv.port),
            server_name=SERVER_NAME,
            **kw,  # type: ignore[arg-type]
        )
    assert result.connections == srv.accepted
    return result


def ordered_suites(ctx: ssl.SSLContext, *, tls13: bool = False) -> tuple[int, ...]:
    return tuple(
        c["id"] & 0xFFFF for c in ctx.get_ciphers() if (c["protocol"] == "TLSv1.3") == tls13
    )


MODERN = (
    "ECDHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-AES256-GCM-SHA384:DHE-RSA-AES256-GCM-SHA384:AES128-SHA"
)


async def test_modern_rsa_server() -> None:
    ctx = server_context("rsa", ciphers=MODERN, dh=True)
    result = await scan(ssl_server(ctx))
    assert result.versions == {
        TLSVersion.SSL2: False,
        TLSVersion.SSL3: False,
        TLSVersion.TLS1_0: False,
        TLSVersion.TLS1_1: False,
        TLSVersion.TLS1_2: True,
        TLSVersion.TLS1_3: True,
    }
    assert result.suites[TLSVersion.TLS1_2] == ordered_suites(ctx)
    assert result.suites[TLSVersion.TLS1_3] == ordered_suites(ctx, tls13=True)
    assert result.server_order == {
        TLSVersion.SSL2: None,
        TLSVersion.SSL3: None,
        TLSVersion.TLS1_0: None,
        TLSVersion.TLS1_1: None,
        TLSVersion.TLS1_2: True,
        TLSVersion.TLS1_3: True,
    }
    assert set(result.groups) == OPENSSL3_GROUPS
    assert set(result.ecdhe_groups) == OPENSSL3_GROUPS - {0x100, 0x101, 0x102, 0x103, 0x104}
    assert result.dh_bits == 2048
    assert result.certificate_ders[0] == leaf_der("rsa")
    assert result.secure_renegotiation is True
    assert result.errors == ()
    # OpenSSL 3 never compresses; Python's ssl cannot staple; TLS 1.2 + 1.3: no fallback hello
    assert (result.compression, result.ocsp_stapling, result.fallback_scsv) == (False, False, None)


async def test_openssl_refuses_a_fallback_from_tls13() -> None:
    ctx = server_context("rsa", minimum=ssl.TLSVersion.TLSv1, ciphers="DEFAULT:@SECLEVEL=0")
    result = await scan(ssl_server(ctx), probe_groups=False)
    assert result.accepted_versions == (TLSVersion.TLS1_0, TLSVersion.TLS1_1, TLSVersion.TLS1_2,
                                        TLSVersion.TLS1_3)
    assert result.fallback_scsv is True
    assert any(n.startswith("TLS 1.1 hello with TLS_FALLBACK_SCSV: inappropriate_fallback")
               for n in result.notes)


async def test_client_preference_and_small_chunks() -> None:
    ctx = server_context("rsa", ciphers=MODERN, dh=True)
    ctx.options &= ~ssl.OP_CIPHER_SERVER_PREFERENCE
    result = await scan(ssl_server(ctx), versions=[TLSVersion.TLS1_2, TLSVersion.TLS1_3])
    assert set(result.suites[TLSVersion.TLS1_2]) == configured_suites(ctx)
    assert set(result.suites[TLSVersion.TLS1_3]) == configured_suites(ctx, tls13=True)
    assert result.server_order == {TLSVersion.TLS1_2: False, TLSVersion.TLS1_3: False}
    ctx = server_context("rsa", ciphers=MODERN, dh=True)
    chunked = await scan(ssl_server(ctx), versions=[TLSVersion.TLS1_2], max_suites_per_hello=7)
    assert chunked.suites[TLSVersion.TLS1_2] == ordered_suites(ctx)
    assert chunked.server_order[TLSVersion.TLS1_2] is True


async def test_ecdsa_server_with_one_curve() -> None:
    ciphers = "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-ECDSA-AES128-SHA"
    ctx = server_context("ecdsa", ciphers=ciphers, ecdh_curve="secp384r1")
    result = await scan(ssl_server(ctx))
    assert result.suites[TLSVersion.TLS1_2] == ordered_suites(ctx)
    assert set(result.suites[TLSVersion.TLS1_3]) == configured_suites(ctx, tls13=True)
    assert result.groups == (0x0018,)
    assert result.ecdhe_groups == (0x0018,)
    assert result.dh_bits is None
    assert result.certificate_ders[0] == leaf_der("ecdsa")


async def test_legacy_server_tls10_tls11_seclevel0() -> None:
    ctx = server_context(
        "rsa",
        minimum=ssl.TLSVersion.TLSv1,
        maximum=ssl.TLSVersion.TLSv1_1,
        ciphers="ECDHE-RSA-AES256-SHA:AES128-SHA:CAMELLIA128-SHA:AECDH-AES128-SHA:NULL-SHA"
        ":@SECLEVEL=0",
    )
    result = await scan(ssl_server(ctx))
    assert result.accepted_versions == (TLSVersion.TLS1_0, TLSVersion.TLS1_1)
    expected = configured_suites(ctx)
    assert len(expected) == 5
    for v in (TLSVersion.TLS1_0, TLSVersion.TLS1_1):
        assert set(result.suites[v]) == expected
        assert result.suites[v] == ordered_suites(ctx)
    reasons = {r for s in result.suites[TLSVersion.TLS1_0] for r in cs.describe(s).weak_reasons()}
    assert "no encryption (NULL cipher)" in reasons
    assert "anonymous key exchange (no server authentication)" in reasons
    assert result.errors == ()
    assert result.fallback_scsv is True  # TLS 1.0 + SCSV below its TLS 1.1


async def test_tlslite_sslv3_rc4_3des() -> None:
    api = import_tlslite()
    from tlslite.constants import CipherSuite

    settings = api.HandshakeSettings()
    settings.minVersion, settings.maxVersion = (3, 0), (3, 1)
    settings.cipherNames = ["rc4", "3des"]
    settings = settings.validate()
    expected = {}
    for v in ((3, 0), (3, 1)):
        expected[v] = set(
            CipherSuite.getCertSuites(settings, v)
            + CipherSuite.getDheCertSuites(settings, v)
            + CipherSuite.getEcdheCertSuites(settings, v)
        )
    result = await scan(tlslite_server(versions=((3, 0), (3, 1)), cipher_names=["rc4", "3des"]))
    assert result.accepted_versions == (TLSVersion.SSL3, TLSVersion.TLS1_0)
    assert set(result.suites[TLSVersion.SSL3]) == expected[(3, 0)]
    assert set(result.suites[TLSVersion.TLS1_0]) == expected[(3, 1)]
    assert {0x0005, 0x000A} <= expected[(3, 0)]  # RC4-SHA, DES-CBC3-SHA: beyond local OpenSSL
    assert result.certificate_ders[0] == leaf_der("rsa")
    assert result.dh_bits is not None and result.dh_bits >= 1024
    # tlslite-ng honours TLS_FALLBACK_SCSV: an SSLv3 hello carrying it is refused
    assert result.fallback_scsv is True
    assert result.compression is False and result.ocsp_stapling is False


async def test_garbage_server() -> None:
    def handle(conn: socket.socket) -> None:
        conn.sendall(b"220 mail.example.test ESMTP ready\r\n")
        conn.recv(65536)

    result = await scan(ThreadedServer(handle), probe_groups=False)
    assert result.versions == dict.fromkeys(ALL_VERSIONS, None)
    assert all("not a TLS answer" in e for e in result.errors)
    assert "220 mail" in result.errors[0]


async def test_silent_server_times_out() -> None:
    def handle(conn: socket.socket) -> None:
        while conn.recv(65536):
            pass

    started = time.monotonic()
    result = await scan(ThreadedServer(handle), timeout=0.2)
    assert result.versions == dict.fromkeys(ALL_VERSIONS, None)
    assert result.connections == len(ALL_VERSIONS)
    assert all("timeout" in e for e in result.errors)
    assert time.monotonic() - started < 5
    with ThreadedServer(handle) as srv:
        result = await enumerate_tls(
            tcp_exchange(srv.port, read_timeout=0.1),
            server_name=SERVER_NAME,
            versions=[TLSVersion.TLS1_2],
        )
    assert result.versions == {TLSVersion.TLS1_2: None}
    assert "timeout" in result.errors[0]


async def test_nothing_listening() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    result = await enumerate_tls(tcp_exchange(port), server_name=None, versions=[TLSVersion.TLS1_2])
    assert result.versions == {TLSVersion.TLS1_2: None}
    assert "ConnectRefused" in result.errors[0]

"""start_pop3: STLS, USER/PASS, AUTH and every option, with a plain asyncio client."""

from __future__ import annotations

import base64

from mailtls.testing import PASSWORD, USERNAME, TestPKI, start_pop3
from tests.testing.testing_clients import LineClient

GOOD_PLAIN = base64.b64encode(f"\0{USERNAME}\0{PASSWORD}".encode()).decode()
REFUSED = "-ERR [AUTH] Plaintext authentication disallowed on non-secure connections"


async def capa(c: LineClient) -> list[str]:
    lines = await c.pop3_capa()
    assert lines[0] == "+OK Capability list follows" and lines[-1] == "."
    return lines[1:-1]


async def stls(c: LineClient, pki: TestPKI) -> None:
    await c.send("STLS")
    assert await c.line() == "+OK Begin TLS negotiation"
    assert await c.starttls(pki.client_context()) == b""


async def test_stls_and_capa_again(pki: TestPKI) -> None:
    with start_pop3(pki) as server:
        async with await LineClient.open(server) as c:
            assert await c.line() == "+OK mail.example.test POP3 test server ready"
            before = await capa(c)
            assert "STLS" in before and "USER" not in before and "SASL PLAIN" not in before
            await stls(c, pki)
            after = await capa(c)
            assert "STLS" not in after and "USER" in after and "SASL PLAIN" in after
            await c.send(f"USER {USERNAME}")
            assert await c.line() == "+OK"
            await c.send(f"PASS {PASSWORD}")
            assert await c.line() == "+OK Logged in"
            await c.send("QUIT")
            assert (await c.line()).startswith("+OK ")
        assert server.plaintext_credentials == []


async def test_user_refused_before_tls_and_recorded(pki: TestPKI) -> None:
    with start_pop3(pki) as server:
        async with await LineClient.open(server) as c:
            await c.line()
            await c.send(f"USER {USERNAME}")
            assert await c.line() == REFUSED
            await c.send(f"PASS {PASSWORD}")
            assert await c.line() == REFUSED
            await c.send(f"AUTH PLAIN {GOOD_PLAIN}")
            assert await c.line() == REFUSED
        assert server.plaintext_credentials == [
            f"USER {USERNAME}",
            f"PASS {PASSWORD}",
            f"AUTH PLAIN {GOOD_PLAIN}",
        ]


async def test_user_before_tls(pki: TestPKI) -> None:
    with start_pop3(pki, user_before_tls=True) as server:
        async with await LineClient.open(server) as c:
            await c.line()
            assert "USER" in await capa(c)
            await c.send(f"USER {USERNAME}")
            assert await c.line() == "+OK"
            await c.send("PASS wrong")
            assert await c.line() == "-ERR [AUTH] Authentication failed"
            await c.send(f"USER {USERNAME}")
            await c.line()
            await c.send(f"PASS {PASSWORD}")
            assert await c.line() == "+OK Logged in"
        assert server.plaintext_credentials == [
            f"USER {USERNAME}",
            "PASS wrong",
            f"USER {USERNAME}",
            f"PASS {PASSWORD}",
        ]


async def test_sasl_plain_before_tls(pki: TestPKI) -> None:
    with start_pop3(pki, sasl_plain_before_tls=True) as server:
        async with await LineClient.open(server) as c:
            await c.line()
            caps = await capa(c)
            assert "SASL PLAIN" in caps and "USER" not in caps
            await c.send("AUTH PLAIN")
            assert await c.line() == "+ "
            await c.send(GOOD_PLAIN)
            assert await c.line() == "+OK Logged in"
        assert server.plaintext_credentials == [GOOD_PLAIN]


async def test_auth_after_tls(pki: TestPKI) -> None:
    with start_pop3(pki) as server:
        async with await LineClient.open(server) as c:
            await c.line()
            await stls(c, pki)
            await c.send("AUTH")
            assert await c.until(lambda s: s == ".") == ["+OK", "PLAIN", "."]
            await c.send(f"AUTH PLAIN {GOOD_PLAIN}")
            assert await c.line() == "+OK Logged in"
        assert server.plaintext_credentials == []


async def test_no_capa(pki: TestPKI) -> None:
    with start_pop3(pki, capa=False) as server:
        async with await LineClient.open(server) as c:
            await c.line()
            assert (await c.pop3_capa())[0].startswith("-ERR")
            await stls(c, pki)  # STLS still works, it is just not advertised


async def test_stls_refused(pki: TestPKI) -> None:
    with start_pop3(pki, starttls_refused=True) as server:
        async with await LineClient.open(server) as c:
            await c.line()
            assert "STLS" in await capa(c)
            await c.send("STLS")
            assert (await c.line()).startswith("-ERR ")
            await c.send("NOOP")
            assert await c.line() == "+OK"


async def test_without_stls(pki: TestPKI) -> None:
    with start_pop3(pki, starttls=False) as server:
        async with await LineClient.open(server) as c:
            await c.line()
            assert "STLS" not in await capa(c)
            await c.send("STLS")
            assert (await c.line()).startswith("-ERR ")


async def test_stls_advertised_after_tls(pki: TestPKI) -> None:
    with start_pop3(pki, starttls_advertised_after_tls=True) as server:
        async with await LineClient.open(server) as c:
            await c.line()
            await stls(c, pki)
            assert "STLS" in await capa(c)
            await c.send("STLS")
            assert await c.line() == "-ERR Command not permitted when TLS active"


async def test_implicit_tls(pki: TestPKI) -> None:
    with start_pop3(pki, implicit_tls=True, greeting="pop3s here") as server:
        assert server.name == "pop3s"
        async with await LineClient.open(server, tls=pki.client_context()) as c:
            assert await c.line() == "+OK pop3s here"
            caps = await capa(c)
            assert "STLS" not in caps and "USER" in caps
            await c.send("STLS")
            assert (await c.line()).startswith("-ERR ")
            await c.send("RETR 1")
            assert await c.line() == "-ERR Unknown command"
        assert server.plaintext_credentials == []


async def test_overlong_line_is_answered(pki: TestPKI) -> None:
    with start_pop3(pki) as server:
        async with await LineClient.open(server) as c:
            await c.line()
            await c.send_raw(b"x" * 100_000 + b"\r\nNOOP\r\n")
            replies = await c.until(lambda s: s == "+OK")
            assert replies[0] == "-ERR Command line too long"

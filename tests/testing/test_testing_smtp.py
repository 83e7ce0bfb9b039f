"""start_smtp: STARTTLS, AUTH and every option, checked with a plain asyncio client."""

from __future__ import annotations

import base64
import socket

import pytest

from mailtls.testing import PASSWORD, USERNAME, TestPKI, start_smtp
from tests.testing.testing_clients import LineClient

GOOD_PLAIN = base64.b64encode(f"\0{USERNAME}\0{PASSWORD}".encode()).decode()
BAD_PLAIN = base64.b64encode(f"\0{USERNAME}\0wrong".encode()).decode()


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def keywords(ehlo: list[str]) -> list[str]:
    return [line[4:] for line in ehlo[1:]]


async def starttls(c: LineClient, pki: TestPKI) -> None:
    await c.send("STARTTLS")
    assert await c.line() == "220 2.0.0 Ready to start TLS"
    assert await c.starttls(pki.client_context()) == b""


async def test_starttls_and_ehlo_again(pki: TestPKI) -> None:
    with start_smtp(pki) as server:
        assert server.host == "127.0.0.1" and server.port > 0 and server.protocol == "smtp"
        async with await LineClient.open(server) as c:
            assert await c.line() == "220 mail.example.test ESMTP mailtls test server"
            before = await c.smtp_ehlo()
            assert before[0] == "250-mail.example.test"
            assert "STARTTLS" in keywords(before)
            assert not [k for k in keywords(before) if k.startswith("AUTH")]
            await starttls(c, pki)
            assert c.tls_version() == "TLSv1.3"
            after = keywords(await c.smtp_ehlo())
            assert "STARTTLS" not in after
            assert "AUTH PLAIN LOGIN" in after
            await c.send(f"AUTH PLAIN {GOOD_PLAIN}")
            assert (await c.line()).startswith("235 ")
            await c.send("QUIT")
            assert (await c.line()).startswith("221 ")
        assert server.plaintext_credentials == []


async def test_message_after_auth(pki: TestPKI) -> None:
    with start_smtp(pki) as server:
        async with await LineClient.open(server) as c:
            await c.line()
            await c.smtp_ehlo()
            await starttls(c, pki)
            await c.smtp_ehlo()
            await c.send(f"AUTH PLAIN {GOOD_PLAIN}")
            assert (await c.line()).startswith("235 ")
            for command, code in [
                ("MAIL FROM:<user@example.test>", "250"),
                ("RCPT TO:<rcpt@example.test>", "250"),
                ("DATA", "354"),
                ("Subject: test\r\n\r\nhello\r\n.", "250"),
            ]:
                await c.send(command)
                assert (await c.line()).startswith(code)


async def test_auth_before_tls_is_refused_but_recorded(pki: TestPKI) -> None:
    with start_smtp(pki) as server:
        async with await LineClient.open(server) as c:
            await c.line()
            await c.smtp_ehlo()
            await c.send(f"AUTH PLAIN {GOOD_PLAIN}")
            assert (await c.line()).startswith("538 ")
        assert server.plaintext_credentials == [f"AUTH PLAIN {GOOD_PLAIN}"]


async def test_auth_before_tls_option(pki: TestPKI) -> None:
    with start_smtp(pki, auth_before_tls=True) as server:
        async with await LineClient.open(server) as c:
            await c.line()
            assert "AUTH PLAIN LOGIN" in keywords(await c.smtp_ehlo())
            await c.send(f"AUTH PLAIN {BAD_PLAIN}")
            assert (await c.line()).startswith("535 ")  # an answer, not silence
            await c.send("AUTH LOGIN")
            assert (await c.line()).startswith("334 ")
            await c.send(b64(USERNAME))
            assert (await c.line()).startswith("334 ")
            await c.send(b64(PASSWORD))
            assert (await c.line()).startswith("235 ")
        assert server.plaintext_credentials == [
            f"AUTH PLAIN {BAD_PLAIN}",
            b64(USERNAME),
            b64(PASSWORD),
        ]


async def test_auth_plain_continuation_after_tls_not_recorded(pki: TestPKI) -> None:
    with start_smtp(pki) as server:
        async with await LineClient.open(server) as c:
            await c.line()
            await c.smtp_ehlo()
            await starttls(c, pki)
            await c.smtp_ehlo()
            await c.send("AUTH PLAIN")
            assert await c.line() == "334 "
            await c.send(GOOD_PLAIN)
            assert (await c.line()).startswith("235 ")
        assert server.plaintext_credentials == []


async def test_no_auth(pki: TestPKI) -> None:
    with start_smtp(pki, auth=False) as server:
        async with await LineClient.open(server) as c:
            await c.line()
            await c.smtp_ehlo()
            await starttls(c, pki)
            assert not [k for k in keywords(await c.smtp_ehlo()) if k.startswith("AUTH")]
            await c.send(f"AUTH PLAIN {GOOD_PLAIN}")
            assert (await c.line()).startswith("502 ")


async def test_require_starttls(pki: TestPKI) -> None:
    # auth_required=False: after TLS, MAIL is accepted without AUTH (not the MSA default)
    with start_smtp(pki, require_starttls=True, auth_required=False) as server:
        async with await LineClient.open(server) as c:
            await c.line()
            await c.smtp_ehlo()
            await c.send("MAIL FROM:<a@example.test>")
            assert (await c.line()).startswith("530 ")
            await c.send(f"AUTH PLAIN {GOOD_PLAIN}")
            assert (await c.line()).startswith("530 ")
            await starttls(c, pki)
            await c.smtp_ehlo()
            await c.send("MAIL FROM:<a@example.test>")
            assert (await c.line()).startswith("250 ")
        assert server.plaintext_credentials == [f"AUTH PLAIN {GOOD_PLAIN}"]


async def test_without_starttls(pki: TestPKI) -> None:
    with start_smtp(pki, starttls=False) as server:
        async with await LineClient.open(server) as c:
            await c.line()
            assert "STARTTLS" not in keywords(await c.smtp_ehlo())
            await c.send("STARTTLS")
            assert (await c.line()).startswith("502 ")


async def test_starttls_refused(pki: TestPKI) -> None:
    with start_smtp(pki, starttls_refused=True) as server:
        async with await LineClient.open(server) as c:
            await c.line()
            assert "STARTTLS" in keywords(await c.smtp_ehlo())
            await c.send("STARTTLS")
            assert (await c.line()).startswith("454 ")
            await c.send("NOOP")  # still plaintext, still talking
            assert (await c.line()).startswith("250 ")


async def test_starttls_advertised_after_tls(pki: TestPKI) -> None:
    with start_smtp(pki, starttls_advertised_after_tls=True) as server:
        async with await LineClient.open(server) as c:
            await c.line()
            await c.smtp_ehlo()
            await starttls(c, pki)
            assert "STARTTLS" in keywords(await c.smtp_ehlo())
            await c.send("STARTTLS")
            assert (await c.line()).startswith("554 ")


async def test_greeting_and_server_name(pki: TestPKI) -> None:
    with start_smtp(pki, greeting="custom banner here", server_name="mx.example.test") as server:
        async with await LineClient.open(server) as c:
            assert await c.line() == "220 custom banner here"
            assert (await c.smtp_ehlo())[0] == "250-mx.example.test"


async def test_implicit_tls(pki: TestPKI) -> None:
    with start_smtp(pki, implicit_tls=True) as server:
        assert server.implicit_tls and server.name == "smtps"
        async with await LineClient.open(server, tls=pki.client_context()) as c:
            assert (await c.line()).startswith("220 mail.example.test ")
            ehlo = keywords(await c.smtp_ehlo())
            assert "STARTTLS" not in ehlo and "AUTH PLAIN LOGIN" in ehlo
            await c.send("STARTTLS")
            assert (await c.line()).startswith("554 ")
            await c.send(f"AUTH PLAIN {GOOD_PLAIN}")  # aiosmtpd#281 worked around
            assert (await c.line()).startswith("235 ")
        assert server.plaintext_credentials == []


async def test_implicit_tls_with_plaintext_client(pki: TestPKI) -> None:
    with start_smtp(pki, implicit_tls=True) as server:
        async with await LineClient.open(server) as c:
            assert await c.nothing_within(0.2)  # waits for a ClientHello, says nothing


def _ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


@pytest.mark.skipif(not _ipv6_loopback(), reason="no IPv6 loopback")
async def test_ipv6_loopback(pki: TestPKI) -> None:
    with start_smtp(pki, host="::1") as server:
        assert server.host == "::1"
        async with await LineClient.open(server) as c:
            assert (await c.line()).startswith("220 ")

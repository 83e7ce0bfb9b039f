"""start_imap: STARTTLS, LOGIN/AUTHENTICATE and every option, with a plain asyncio client."""

from __future__ import annotations

import base64

from mailtls.testing import PASSWORD, USERNAME, TestPKI, start_imap
from tests.testing.testing_clients import LineClient

GOOD_PLAIN = base64.b64encode(f"\0{USERNAME}\0{PASSWORD}".encode()).decode()


def caps_of(line: str) -> list[str]:
    """Capabilities from '* CAPABILITY ...' or a greeting's '[CAPABILITY ...]'."""
    if "[CAPABILITY " in line:
        return line.split("[CAPABILITY ", 1)[1].split("]", 1)[0].split()
    assert line.startswith("* CAPABILITY ")
    return line.split()[2:]


async def starttls(c: LineClient, pki: TestPKI) -> None:
    assert await c.imap("s", "STARTTLS") == ["s OK Begin TLS negotiation now"]
    assert await c.starttls(pki.client_context()) == b""


async def test_starttls_and_capability_again(pki: TestPKI) -> None:
    with start_imap(pki) as server:
        async with await LineClient.open(server) as c:
            greeting = await c.line()
            assert greeting.startswith("* OK [CAPABILITY ")
            assert caps_of(greeting) == ["IMAP4rev1", "STARTTLS", "LOGINDISABLED"]
            reply = await c.imap("a", "CAPABILITY")
            assert caps_of(reply[0]) == ["IMAP4rev1", "STARTTLS", "LOGINDISABLED"]
            assert reply[1] == "a OK CAPABILITY completed"
            await starttls(c, pki)
            after = caps_of((await c.imap("b", "CAPABILITY"))[0])
            assert after == ["IMAP4rev1", "SASL-IR", "AUTH=PLAIN"]
            assert (await c.imap("c", f"LOGIN {USERNAME} {PASSWORD}"))[-1].startswith("c OK ")
            assert await c.imap("d", "LOGOUT") == [
                "* BYE mail.example.test logging out",
                "d OK LOGOUT completed",
            ]
            assert await c.reader.read() == b""
        assert server.plaintext_credentials == []


async def test_logindisabled_refuses_and_records(pki: TestPKI) -> None:
    with start_imap(pki) as server:
        async with await LineClient.open(server) as c:
            await c.line()
            reply = await c.imap("a", f'LOGIN {USERNAME} "{PASSWORD}"')
            assert reply == [
                "a NO [PRIVACYREQUIRED] Plaintext authentication disallowed on non-secure "
                "connections"
            ]
            reply = await c.imap("b", f"AUTHENTICATE PLAIN {GOOD_PLAIN}")
            assert reply[0].startswith("b NO [PRIVACYREQUIRED]")
        assert server.plaintext_credentials == [
            f'LOGIN {USERNAME} "{PASSWORD}"',
            f"AUTHENTICATE PLAIN {GOOD_PLAIN}",
        ]


async def test_plaintext_login_allowed(pki: TestPKI) -> None:
    with start_imap(pki, logindisabled=False) as server:
        async with await LineClient.open(server) as c:
            assert "LOGINDISABLED" not in caps_of(await c.line())
            assert (await c.imap("a", f"LOGIN {USERNAME} wrong"))[0].startswith(
                "a NO [AUTHENTICATIONFAILED]"
            )
            assert (await c.imap("b", f'LOGIN "{USERNAME}" "{PASSWORD}"'))[0].startswith("b OK ")
            assert (await c.imap("c", "LOGIN x y"))[0] == "c BAD Already authenticated"
        assert server.plaintext_credentials == [
            f"LOGIN {USERNAME} wrong",
            f'LOGIN "{USERNAME}" "{PASSWORD}"',
            "LOGIN x y",
        ]


async def test_auth_plain_before_tls(pki: TestPKI) -> None:
    with start_imap(pki, auth_plain_before_tls=True) as server:
        async with await LineClient.open(server) as c:
            caps = caps_of(await c.line())
            assert "AUTH=PLAIN" in caps and "SASL-IR" in caps and "LOGINDISABLED" in caps
            # continuation form
            await c.send("a AUTHENTICATE PLAIN")
            assert await c.line() == "+ "
            await c.send("*")
            assert await c.line() == "a BAD AUTHENTICATE cancelled"
            await c.send("b AUTHENTICATE PLAIN")
            assert await c.line() == "+ "
            await c.send(GOOD_PLAIN)
            assert (await c.line()).startswith("b OK ")
        assert server.plaintext_credentials == ["*", GOOD_PLAIN]


async def test_authenticate_after_tls(pki: TestPKI) -> None:
    with start_imap(pki) as server:
        async with await LineClient.open(server) as c:
            await c.line()
            await starttls(c, pki)
            assert (await c.imap("a", "AUTHENTICATE CRAM-MD5"))[0].startswith("a NO ")
            assert (await c.imap("b", f"AUTHENTICATE PLAIN {GOOD_PLAIN}"))[0].startswith("b OK ")
        assert server.plaintext_credentials == []


async def test_preauth(pki: TestPKI) -> None:
    with start_imap(pki, preauth=True) as server:
        async with await LineClient.open(server) as c:
            assert (await c.line()).startswith("* PREAUTH [CAPABILITY ")
            assert (await c.imap("a", "STARTTLS"))[0].startswith("a BAD ")


async def test_starttls_refused(pki: TestPKI) -> None:
    with start_imap(pki, starttls_refused=True) as server:
        async with await LineClient.open(server) as c:
            assert "STARTTLS" in caps_of(await c.line())
            assert (await c.imap("a", "STARTTLS"))[0].startswith("a NO ")
            assert await c.imap("b", "NOOP") == ["b OK NOOP completed"]


async def test_without_starttls(pki: TestPKI) -> None:
    with start_imap(pki, starttls=False) as server:
        async with await LineClient.open(server) as c:
            assert "STARTTLS" not in caps_of(await c.line())
            assert (await c.imap("a", "STARTTLS"))[0].startswith("a BAD ")


async def test_starttls_advertised_after_tls(pki: TestPKI) -> None:
    with start_imap(pki, starttls_advertised_after_tls=True) as server:
        async with await LineClient.open(server) as c:
            await c.line()
            await starttls(c, pki)
            assert "STARTTLS" in caps_of((await c.imap("a", "CAPABILITY"))[0])
            assert (await c.imap("b", "STARTTLS"))[0].startswith("b BAD ")


async def test_implicit_tls(pki: TestPKI) -> None:
    with start_imap(pki, implicit_tls=True) as server:
        assert server.name == "imaps"
        async with await LineClient.open(server, tls=pki.client_context()) as c:
            caps = caps_of(await c.line())
            assert "STARTTLS" not in caps and "LOGINDISABLED" not in caps and "AUTH=PLAIN" in caps
            assert (await c.imap("a", "STARTTLS"))[0].startswith("a BAD ")
            assert (await c.imap("b", f"LOGIN {USERNAME} {PASSWORD}"))[0].startswith("b OK ")
        assert server.plaintext_credentials == []


async def test_greeting_unknown_and_untagged(pki: TestPKI) -> None:
    with start_imap(pki, greeting="hello imap") as server:
        async with await LineClient.open(server) as c:
            assert (await c.line()).endswith("] hello imap")
            assert await c.imap("a", "SELECT INBOX") == ["a BAD Unknown command"]
            await c.send("lonely")
            assert (await c.line()).startswith("* BAD ")

"""The login mechanisms the full test servers do not choose (IMAP LOGIN, AUTHENTICATE without
SASL-IR, POP3 USER/PASS, SMTP AUTH LOGIN), against scripted implicit-TLS servers - some of
which echo the password back, which must still never reach the output."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Awaitable, Callable

from mailtls.model.credentials import b64, sasl_plain
from mailtls.testing import PASSWORD, USERNAME, TestPKI, start_raw
from tests.cli_runner import Run
from tests.client.client_helpers import assert_no_secret

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


async def _line(reader: asyncio.StreamReader) -> str:
    return (await reader.readline()).decode().rstrip("\r\n")


def _send(writer: asyncio.StreamWriter, *lines: str) -> None:
    writer.write("".join(f"{line}\r\n" for line in lines).encode())


def _imap(caps: str, received: list[str], echo: bool = False) -> Handler:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        _send(writer, "* OK scripted IMAP")
        while line := await _line(reader):
            tag, _, rest = line.partition(" ")
            command = rest.split(" ")[0].upper()
            if command == "CAPABILITY":
                _send(writer, f"* CAPABILITY {caps}", f"{tag} OK done")
            elif command == "LOGIN":
                received.append(rest)
                ok = rest == f'LOGIN "{USERNAME}" "{PASSWORD}"'
                _send(writer, f"{tag} OK in" if ok else f"{tag} NO [AUTHENTICATIONFAILED] {rest}"
                      if echo else f"{tag} NO [AUTHENTICATIONFAILED] no")
            elif command == "AUTHENTICATE":
                _send(writer, "+ ")
                payload = await _line(reader)
                received.append(payload)
                ok = payload == sasl_plain(USERNAME, PASSWORD)
                _send(writer, f"{tag} OK in" if ok else f"{tag} NO no")
            elif command == "LOGOUT":
                _send(writer, "* BYE", f"{tag} OK bye")
                await writer.drain()
                return
            else:
                _send(writer, f"{tag} BAD what")
            await writer.drain()

    return handler


def _pop3(received: list[str], echo: bool) -> Handler:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        _send(writer, "+OK scripted POP3")
        while line := await _line(reader):
            verb, _, arg = line.partition(" ")
            verb = verb.upper()
            if verb == "CAPA":
                _send(writer, "+OK", "USER", ".")
            elif verb == "USER":
                received.append(line)
                _send(writer, "+OK")
            elif verb == "PASS":
                received.append(line)
                ok = arg == PASSWORD
                _send(writer, "+OK in" if ok else f"-ERR [AUTH] bad {arg}" if echo else "-ERR no")
            elif verb == "QUIT":
                _send(writer, "+OK bye")
                await writer.drain()
                return
            else:
                _send(writer, "-ERR what")
            await writer.drain()

    return handler


def _smtp(received: list[str]) -> Handler:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        _send(writer, "220 scripted ESMTP")
        while line := await _line(reader):
            verb = line.split(" ")[0].upper()
            if verb == "EHLO":
                _send(writer, "250-scripted", "250 AUTH LOGIN CRAM-MD5")
            elif verb == "AUTH":
                _send(writer, "334 VXNlcm5hbWU6")
                await writer.drain()
                user = await _line(reader)
                _send(writer, "334 UGFzc3dvcmQ6")
                await writer.drain()
                password = await _line(reader)
                received.extend([user, password])
                ok = (base64.b64decode(user).decode(), base64.b64decode(password).decode()) == (
                    USERNAME, PASSWORD)
                # a server that repeats what it got: must still be scrubbed from the output
                _send(writer, "235 2.7.0 ok" if ok else f"535 5.7.8 bad {password}")
            elif verb == "QUIT":
                _send(writer, "221 bye")
                await writer.drain()
                return
            else:
                _send(writer, "502 what")
            await writer.drain()

    return handler


def test_imap_login_without_auth_plain(pki: TestPKI, login_check: Callable[..., Run]) -> None:
    received: list[str] = []
    with start_raw(_imap("IMAP4rev1", received), ssl_context=pki.server_context()) as srv:
        run = login_check(f"imaps={srv.port}", extra=("-v",))
    assert run.logins["imaps"]["mechanism"] == "LOGIN"
    assert run.logins["imaps"]["outcome"] == "succeeded"
    assert received == [f'LOGIN "{USERNAME}" "{PASSWORD}"']
    transcript = [t["text"] for e in run.endpoints for t in e["transcript"]]
    assert f'A2 LOGIN "{USERNAME}" ***' in transcript
    assert_no_secret(run.out, run.err)


def test_imap_login_quotes_and_an_echoing_server_is_scrubbed(
    pki: TestPKI, login_check: Callable[..., Run]
) -> None:
    received: list[str] = []
    odd = 'pa"ss\\word'
    handler = _imap("IMAP4rev1", received, echo=True)
    with start_raw(handler, ssl_context=pki.server_context()) as srv:
        run = login_check(f"imaps={srv.port}", password=odd, extra=("-v",))
    assert received == [f'LOGIN "{USERNAME}" "pa\\"ss\\\\word"']
    assert run.logins["imaps"]["outcome"] == "failed"
    for text in (run.out, run.err):
        assert odd not in text and 'pa\\"ss\\\\word' not in text
    assert "AUTHENTICATIONFAILED" in run.out


def test_imap_authenticate_plain_with_a_continuation(
    pki: TestPKI, login_check: Callable[..., Run]
) -> None:
    received: list[str] = []
    handler = _imap("IMAP4rev1 AUTH=PLAIN", received)
    with start_raw(handler, ssl_context=pki.server_context()) as srv:
        run = login_check(f"imaps={srv.port}", extra=("-v",))
    assert run.logins["imaps"]["mechanism"] == "AUTHENTICATE PLAIN"
    assert run.logins["imaps"]["outcome"] == "succeeded"
    assert received == [sasl_plain(USERNAME, PASSWORD)]
    assert_no_secret(run.out, run.err)


def test_imap_logindisabled_without_mechanism_is_unsupported(
    pki: TestPKI, login_check: Callable[..., Run]
) -> None:
    received: list[str] = []
    handler = _imap("IMAP4rev1 LOGINDISABLED AUTH=GSSAPI", received)
    with start_raw(handler, ssl_context=pki.server_context()) as srv:
        run = login_check(f"imaps={srv.port}")
    assert "auth.login.unsupported" in run.ids and received == []
    assert "AUTH=GSSAPI" in run.logins["imaps"]["reason"]


def test_pop3_user_pass_and_echoed_password(
    pki: TestPKI, login_check: Callable[..., Run]
) -> None:
    received: list[str] = []
    with start_raw(_pop3(received, echo=True), ssl_context=pki.server_context()) as srv:
        good = login_check(f"pop3s={srv.port}", extra=("-v",))
        bad = login_check(f"pop3s={srv.port}", password="wrong-" + PASSWORD, extra=("-v",))
    assert good.logins["pop3s"]["mechanism"] == "USER/PASS"
    assert good.logins["pop3s"]["outcome"] == "succeeded"
    assert bad.logins["pop3s"]["outcome"] == "failed"
    assert received[:2] == [f"USER {USERNAME}", f"PASS {PASSWORD}"]
    for run in (good, bad):
        assert_no_secret(run.out, run.err)
        assert "wrong-" not in run.out
    assert "PASS ***" in good.out


def test_smtp_auth_login_and_echoed_password(
    pki: TestPKI, login_check: Callable[..., Run]
) -> None:
    received: list[str] = []
    with start_raw(_smtp(received), ssl_context=pki.server_context()) as srv:
        good = login_check(f"submissions={srv.port}", extra=("-v",))
        bad = login_check(f"submissions={srv.port}", password="Wr0ng-pw!", extra=("-v",))
    assert good.logins["submissions"]["mechanism"] == "AUTH LOGIN"
    assert good.logins["submissions"]["outcome"] == "succeeded"
    assert bad.logins["submissions"]["outcome"] == "failed"
    assert received[:2] == [b64(USERNAME), b64(PASSWORD)]
    for run in (good, bad):
        assert_no_secret(run.out, run.err)
        assert b64("Wr0ng-pw!") not in run.out and "Wr0ng-pw!" not in run.out
    assert "*** (password)" in good.out

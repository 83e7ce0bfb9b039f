"""The one SASL exchange of ``mailtls serve`` (``Session.sasl``) as each protocol speaks it.

A real loopback connection per protocol to a session of a case that offers authentication in
plaintext: PLAIN and LOGIN, with and without an initial response, a ``*`` cancel at each
prompt, an unknown mechanism; the replies are the protocol's own, the credentials are recorded
by mechanism and never written into the transcript.
"""

from __future__ import annotations

import asyncio
import base64

import pytest

from mailtls.serve.cases import CASES_BY_ID, Protocol
from mailtls.serve.imap import IMAPSession
from mailtls.serve.pop3 import POP3Session
from mailtls.serve.record import ConnectionRecord, Secrets
from mailtls.serve.session import LINE_LIMIT, ServeContext, Session
from mailtls.serve.smtp import SMTPSession
from mailtls.testing.pki import TestPKI

USER, PASSWORD = "alice", "pw-Secret-81"
SESSIONS: dict[Protocol, type[Session]] = {
    "smtp": SMTPSession, "imap": IMAPSession, "pop3": POP3Session}
#: per protocol: the command prefix, continuation, and the first word of ok / failed /
#: cancelled / unsupported answers
SPEECH = {
    "smtp": ("AUTH", "334 ", "235", "535", "501", "504"),
    "pop3": ("AUTH", "+ ", "+OK Logged in", "-ERR [AUTH]", "-ERR Authentication cancelled",
             "-ERR Unsupported"),
    "imap": ("a1 AUTHENTICATE", "+ ", "a1 OK", "a1 NO [AUTHENTICATIONFAILED]",
             "a1 BAD AUTHENTICATE cancelled", "a1 NO Unsupported"),
}


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


async def _exchange(protocol: Protocol, pki: TestPKI,
                    script: list[str]) -> tuple[list[str], ConnectionRecord]:
    """Send the script's lines one by one; the first line of each answer, and the record."""
    case = CASES_BY_ID[f"{protocol}.starttls.stripped"]  # authentication offered in plaintext
    assert case.auth_before_tls
    ctx = ServeContext(pki=pki, secrets=Secrets(USER, PASSWORD, b"salt" * 4), idle_timeout=5)
    record = ConnectionRecord(index=1, peer="127.0.0.1:1", started=0.0)
    done = asyncio.Event()

    async def on_client(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await SESSIONS[protocol](reader, writer, case, record, ctx).run()
        finally:
            writer.close()
            done.set()

    server = await asyncio.start_server(on_client, "127.0.0.1", 0, limit=LINE_LIMIT)
    port = server.sockets[0].getsockname()[1]
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    answers: list[str] = []
    try:
        await asyncio.wait_for(reader.readline(), 5)  # the greeting
        for line in script:
            writer.write(line.encode() + b"\r\n")
            answers.append((await asyncio.wait_for(reader.readline(), 5)).decode().rstrip("\r\n"))
        writer.close()
        await asyncio.wait_for(done.wait(), 5)
    finally:
        server.close()
        await server.wait_closed()
    return answers, record


@pytest.mark.parametrize("protocol", ["smtp", "imap", "pop3"])
def test_plain_and_login_with_and_without_initial_response_cancel_and_unknown(
        protocol: Protocol) -> None:
    auth, go_on, ok, failed, cancelled, unsupported = SPEECH[protocol]
    script = [
        f"{auth} PLAIN {b64(chr(0) + USER + chr(0) + PASSWORD)}",  # 1: right, initial response
        f"{auth} PLAIN", b64(f"\0{USER}\0wrong"),  # 2-3: prompted, wrong password
        f"{auth} PLAIN", "*",  # 4-5: cancelled at the prompt
        f"{auth} LOGIN", b64(USER), b64(PASSWORD),  # 6-8: both prompts, right
        f"{auth} LOGIN {b64(USER)}", b64("wrong"),  # 9-10: user name as initial response
        f"{auth} LOGIN", b64(USER), "*",  # 11-13: cancelled at the password
        f"{auth} XOAUTH2 {b64('token')}",  # 14: unknown mechanism
    ]
    with TestPKI() as pki:
        answers, record = asyncio.run(_exchange(protocol, pki, script))
    username, password = go_on + b64("Username:"), go_on + b64("Password:")
    assert answers[0].startswith(ok)
    assert answers[1] == go_on and answers[2].startswith(failed)
    assert answers[3] == go_on and answers[4].startswith(cancelled)
    assert answers[5:8] == [username, password, answers[7]] and answers[7].startswith(ok)
    assert answers[8] == password and answers[9].startswith(failed)
    assert answers[10:12] == [username, password] and answers[12].startswith(cancelled)
    assert answers[13].startswith(unsupported)

    label = "AUTHENTICATE" if protocol == "imap" else "AUTH"
    assert [(c.mechanism, c.matches, c.tls) for c in record.credentials] == [
        (f"{label} PLAIN", True, False), (f"{label} PLAIN", False, False),
        (f"{label} LOGIN", True, False), (f"{label} LOGIN", False, False)]
    assert record.authenticated and not record.authenticated_tls
    transcript = "\n".join(entry.text for entry in record.transcript)
    for secret in (PASSWORD, b64(PASSWORD), b64(USER), b64("wrong")):
        assert secret not in transcript

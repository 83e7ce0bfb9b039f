"""The round trip of ``mailtls client --round-trip``: submit one uniquely tagged message through
the best secure submission setting, then look for it over IMAP or POP3 until it arrives or the
round-trip timeout passes, read its ``Received:`` and ``Authentication-Results:`` headers and
delete it. Records only (``RoundTrip``); ``checks.roundtrip`` judges.

Which settings: those of the client check that work and are secure (verified certificate for
the configured name, TLS 1.2+, TLS required), the recommended one first, implicit TLS before
STARTTLS (RFC 8314 §3.3). Credentials go only into verified TLS (``net.mailbox``).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass
from email.utils import format_datetime, make_msgid

from mailtls.errors import MailTLSError, NetworkError
from mailtls.model import ClientReport, Protocol, RoundTrip, SettingResult, SocketType
from mailtls.net import mailbox
from mailtls.net.stream import resolve
from mailtls.proto.received import hops

POLL_INTERVAL = 0.5


@dataclass(frozen=True)
class Route:
    protocol: str  # "smtp", "imap", "pop3"
    name: str  # the configured host name (SNI, certificate)
    port: int
    mode: mailbox.Mode

    def label(self) -> str:
        style = "implicit TLS" if self.mode == "implicit" else "STARTTLS"
        return f"{self.protocol} {self.name}:{self.port} {style}"


def routes(client: ClientReport, role: str) -> list[Route]:
    """The secure, working settings of ``role`` ("outgoing"/"incoming"), best first."""
    def key(r: SettingResult) -> tuple[int, int, int]:
        recommended = 0 if r in client.recommended else 1
        implicit = 0 if r.setting.socket is SocketType.SSL else 1
        pop = 1 if r.setting.protocol is Protocol.POP3 else 0  # IMAP: a mailbox, not a drop
        return (recommended, pop, implicit)

    out: list[Route] = []
    for r in sorted((r for r in client.settings if r.setting.role == role), key=key):
        s = r.setting
        if not (r.works and r.secure) or s.socket not in (SocketType.SSL, SocketType.STARTTLS):
            continue
        route = Route(s.protocol.value, s.host, s.port,
                      "implicit" if s.socket is SocketType.SSL else "starttls")
        if route not in out:
            out.append(route)
    return out


def test_message(address: str, tag: str, now: dt.datetime) -> bytes:
    domain = address.rsplit("@", 1)[-1]
    return (
        f"From: <{address}>\r\n"
        f"To: <{address}>\r\n"
        f"Subject: mailtls round trip {tag}\r\n"
        f"Date: {format_datetime(now)}\r\n"
        f"Message-ID: {make_msgid('mailtls-roundtrip', domain=domain)}\r\n"
        f"{mailbox.TAG_HEADER}: {tag}\r\n"
        "MIME-Version: 1.0\r\n"
        "Content-Type: text/plain; charset=us-ascii\r\n"
        "\r\n"
        "A test message of 'mailtls client --round-trip'. It deletes it when it arrives;\r\n"
        "if you can read this, delete it.\r\n"
    ).encode("ascii")


async def _addresses(name: str, given: Sequence[str]) -> list[str]:
    if given:
        return list(given)
    return await resolve(name)


async def run_round_trip(  # noqa: C901 (a split is still to do: issue 15)
    *, client: ClientReport, address: str, user: str, password: str, ca_file: str | None,
    timeout: float, connect_timeout: float, addresses: Sequence[str] = (),
    clock: dt.datetime | None = None,
) -> RoundTrip:
    """Submit, wait, find, delete. Never raises a ``MailTLSError``: failures are recorded."""
    tag = secrets.token_hex(10)
    attempts: list[str] = []
    senders, readers = routes(client, "outgoing"), routes(client, "incoming")
    if not senders or not readers:
        missing = "submission" if not senders else "IMAP/POP3"
        return RoundTrip(tag=tag, timeout=timeout, attempts=(), submission=None,
                         submission_tls=None, retrieval=None, retrieval_tls=None,
                         submitted=False, delivered=False, delivery_seconds=None,
                         error=f"no secure, working {missing} setting")
    try:
        ctx = mailbox.strict_context(ca_file)
    except NetworkError as exc:
        return RoundTrip(tag=tag, timeout=timeout, attempts=(), submission=None,
                         submission_tls=None, retrieval=None, retrieval_tls=None,
                         submitted=False, delivered=False, delivery_seconds=None,
                         error=str(exc))
    message = test_message(address, tag, clock or dt.datetime.now(dt.UTC))
    submitted: tuple[Route, mailbox.Submitted] | None = None
    for route in senders:
        try:
            for ip in await _addresses(route.name, addresses):
                try:
                    result = await mailbox.submit(
                        address=ip, port=route.port, name=route.name, mode=route.mode,
                        ctx=ctx, user=user, password=password, message=message,
                        sender=address, recipient=address, timeout=connect_timeout * 3)
                except NetworkError as exc:
                    attempts.append(f"submit via {route.label()} ({ip}): {exc}")
                    continue
                attempts.append(f"submit via {route.label()} ({ip}): {result.reply}")
                submitted = (route, result)
                break
        except MailTLSError as exc:
            attempts.append(f"submit via {route.label()}: {exc}")
        if submitted:
            break
    if submitted is None:
        return RoundTrip(tag=tag, timeout=timeout, attempts=tuple(attempts), submission=None,
                         submission_tls=None, retrieval=None, retrieval_tls=None,
                         submitted=False, delivered=False, delivery_seconds=None,
                         error="every secure submission setting failed")
    route, sent = submitted
    started = time.monotonic()
    deadline = started + timeout
    working: dict[Route, str] = {}  # reader -> address that answered
    last_error: str | None = None
    found: tuple[Route, mailbox.Found] | None = None
    while found is None and time.monotonic() < deadline:
        for reader in readers:
            if working and reader not in working:
                continue  # once one reader works, keep to it
            try:
                ips = [working[reader]] if reader in working else \
                    await _addresses(reader.name, addresses)
            except MailTLSError as exc:
                last_error = f"{reader.label()}: {exc}"
                continue
            for ip in ips:
                finder = mailbox.imap_find if reader.protocol == "imap" else mailbox.pop3_find
                remaining = max(1.0, deadline - time.monotonic())
                try:
                    hit = await asyncio.wait_for(asyncio.to_thread(
                        finder, address=ip, port=reader.port, name=reader.name,
                        mode=reader.mode, ctx=ctx, user=user, password=password, tag=tag,
                        timeout=min(connect_timeout * 3, remaining)), connect_timeout * 4)
                except (NetworkError, TimeoutError) as exc:
                    last_error = f"{reader.label()} ({ip}): {exc or 'timed out'}"
                    if last_error not in attempts:
                        attempts.append(last_error)
                    continue
                working[reader] = ip
                if hit is not None:
                    found = (reader, hit)
                break
            if found or working:
                break
        if found is None:
            await asyncio.sleep(POLL_INTERVAL)
    if found is None:
        reader_ok = next(iter(working), None)
        return RoundTrip(tag=tag, timeout=timeout, submission=route.label(),
                         submission_tls=sent.tls_version, submitted=True,
                         attempts=tuple(attempts),
                         retrieval=reader_ok.label() if reader_ok else None,
                         retrieval_tls=None, delivered=False, delivery_seconds=None,
                         error=None if working else last_error)
    reader, hit = found
    attempts.append(f"found via {reader.label()}")
    received = [v for k, v in hit.headers if k.lower() == "received"]
    auth = tuple(v for k, v in hit.headers if k.lower() == "authentication-results")
    return RoundTrip(tag=tag, timeout=timeout, submission=route.label(),
                     submission_tls=sent.tls_version, submitted=True, attempts=tuple(attempts),
                     retrieval=reader.label(), retrieval_tls=hit.tls_version, delivered=True,
                     delivery_seconds=round(time.monotonic() - started, 3),
                     hops=hops(received), authentication_results=auth, deleted=hit.deleted)

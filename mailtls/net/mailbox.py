"""The I/O of the round trip (``mailtls client --round-trip``): submit one message with
aiosmtplib, find it (and delete it) over IMAP or POP3 with the standard library's clients.

Every connection goes to a given address while TLS verifies the configured host name, with a
strict context: the chain against the system store or ``--ca-file``, the name (RFC 9525 via
OpenSSL's check), TLS 1.2 or newer. Credentials are sent only after that handshake succeeded
(STARTTLS is required, never opportunistic). Foreign exceptions are mapped to
``mailtls.errors.NetworkError`` with one line of text; the password never appears in it.
"""

from __future__ import annotations

import email.parser
import email.policy
import imaplib
import poplib
import re
import socket
import ssl
from dataclasses import dataclass
from typing import Literal

import aiosmtplib

from mailtls.errors import NetworkError

Mode = Literal["starttls", "implicit"]
#: The header that carries the round trip's unique tag.
TAG_HEADER = "X-Mailtls-Roundtrip"


def strict_context(ca_file: str | None) -> ssl.SSLContext:
    """Verify chain and name, TLS 1.2+ (what a careful mail client does; RFC 8314 §4.1)."""
    try:
        ctx = ssl.create_default_context(cafile=ca_file)
    except (OSError, ssl.SSLError) as exc:
        raise NetworkError(f"cannot load trust store {ca_file or 'system'}: {exc}") from None
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    return ctx


@dataclass(frozen=True)
class Submitted:
    tls_version: str | None
    cipher: str | None
    reply: str  # the server's answer to the end of DATA


def _fail(what: str, exc: BaseException, secret: str) -> NetworkError:
    text = str(exc).replace(secret, "***") if secret else str(exc)
    return NetworkError(f"{what}: {type(exc).__name__}: {text or 'no detail'}"[:300])


async def submit(*, address: str, port: int, name: str, mode: Mode, ctx: ssl.SSLContext,
                 user: str, password: str, message: bytes, sender: str, recipient: str,
                 timeout: float) -> Submitted:
    """One message through SMTP submission (RFC 6409) with AUTH inside verified TLS."""
    import asyncio

    loop = asyncio.get_running_loop()
    sock = socket.socket(socket.AF_INET6 if ":" in address else socket.AF_INET)
    sock.setblocking(False)
    try:
        await asyncio.wait_for(loop.sock_connect(sock, (address, port)), timeout)
    except (OSError, TimeoutError) as exc:
        sock.close()
        raise _fail(f"submission {name}:{port} connect", exc, password) from None
    try:
        # with a socket, hostname is only the TLS server name (SNI and the certificate check)
        client = aiosmtplib.SMTP(hostname=name, sock=sock, use_tls=mode == "implicit",
                                 start_tls=mode == "starttls", tls_context=ctx,
                                 timeout=timeout, local_hostname="mailtls.roundtrip.invalid")
    except ValueError as exc:
        sock.close()
        raise NetworkError(f"submission {name}:{port}: {exc}") from None
    try:
        await client.connect()
        ssl_object = client.get_transport_info("ssl_object")
        if ssl_object is None:
            raise NetworkError(f"submission {name}:{port}: no TLS session")
        await client.login(user, password)
        errors, reply = await client.sendmail(sender, [recipient], message)
        if errors:
            raise NetworkError(f"submission {name}:{port}: recipient refused: {errors}")
        return Submitted(ssl_object.version(), (ssl_object.cipher() or (None,))[0], reply)
    except NetworkError:
        raise
    except (aiosmtplib.SMTPException, OSError, ssl.SSLError, TimeoutError) as exc:
        raise _fail(f"submission {name}:{port}", exc, password) from None
    finally:
        transport = client.transport
        try:
            if client.is_connected:
                await client.quit()
        except (aiosmtplib.SMTPException, OSError, TimeoutError):
            client.close()
        await _closed(transport, sock)


async def _closed(transport: object, sock: socket.socket) -> None:
    """Wait for the TLS close to reach the socket (the raw transport closes it after the
    close_notify exchange; a loop that ends first would leave it open), else abort it."""
    import asyncio

    for _ in range(40):
        if sock.fileno() == -1:
            return
        await asyncio.sleep(0.025)
    raw = getattr(getattr(transport, "_ssl_protocol", None), "_transport", None) or transport
    if isinstance(raw, asyncio.Transport):
        raw.abort()
        await asyncio.sleep(0)
    sock.close()


@dataclass(frozen=True)
class Found:
    headers: tuple[tuple[str, str], ...]  # (name, value) in order, unfolded
    tls_version: str | None
    deleted: bool


class _IMAP(imaplib.IMAP4):
    def __init__(self, address: str, port: int, name: str, ctx: ssl.SSLContext,
                 implicit: bool, timeout: float) -> None:
        self._address, self._ctx, self._implicit = address, ctx, implicit
        super().__init__(name, port, timeout=timeout)

    def _create_socket(self, timeout: float | None) -> socket.socket:
        sock = socket.create_connection((self._address, self.port), timeout)
        if self._implicit:
            return self._ctx.wrap_socket(sock, server_hostname=self.host)
        return sock


class _POP3(poplib.POP3):
    def __init__(self, address: str, port: int, name: str, ctx: ssl.SSLContext,
                 implicit: bool, timeout: float) -> None:
        self._address, self._ctx, self._implicit = address, ctx, implicit
        super().__init__(name, port, timeout=timeout)

    def _create_socket(self, timeout: float) -> socket.socket:
        sock = socket.create_connection((self._address, self.port), timeout)
        if self._implicit:
            return self._ctx.wrap_socket(sock, server_hostname=self.host)
        return sock


def _headers(raw: bytes) -> tuple[tuple[str, str], ...]:
    msg = email.parser.BytesHeaderParser(policy=email.policy.compat32).parsebytes(raw)
    return tuple((k, re.sub(r"\s+", " ", str(v)).strip()) for k, v in msg.items())


def _tls_of(sock: object) -> str | None:
    return sock.version() if isinstance(sock, ssl.SSLSocket) else None


def imap_find(*, address: str, port: int, name: str, mode: Mode, ctx: ssl.SSLContext,
              user: str, password: str, tag: str, timeout: float) -> Found | None:
    """Log in (inside verified TLS), look for the tagged message in INBOX, delete it."""
    try:
        imap = _IMAP(address, port, name, ctx, mode == "implicit", timeout)
    except (OSError, imaplib.IMAP4.error, ssl.SSLError) as exc:
        raise _fail(f"IMAP {name}:{port}", exc, password) from None
    try:
        if mode == "starttls":
            imap.starttls(ssl_context=ctx)
        tls = _tls_of(imap.sock)
        if tls is None:
            raise NetworkError(f"IMAP {name}:{port}: no TLS session")
        imap.login(user, password)
        imap.select("INBOX")
        status, data = imap.uid("SEARCH", "HEADER", TAG_HEADER, tag)
        uids = data[0].split() if status == "OK" and data and data[0] else []
        if not uids:
            return None
        uid = uids[-1].decode()
        status, parts = imap.uid("FETCH", uid, "(BODY.PEEK[HEADER])")
        raw = next((p[1] for p in parts if isinstance(p, tuple)), b"")
        deleted = False
        if imap.uid("STORE", uid, "+FLAGS.SILENT", r"(\Deleted)")[0] == "OK":
            deleted = imap.expunge()[0] == "OK"
        return Found(_headers(raw), tls, deleted)
    except NetworkError:
        raise
    except (OSError, imaplib.IMAP4.error, ssl.SSLError, EOFError) as exc:
        raise _fail(f"IMAP {name}:{port}", exc, password) from None
    finally:
        try:
            imap.logout()
        except (OSError, imaplib.IMAP4.error, ssl.SSLError, EOFError):
            imap.shutdown()


def pop3_find(*, address: str, port: int, name: str, mode: Mode, ctx: ssl.SSLContext,
              user: str, password: str, tag: str, timeout: float) -> Found | None:
    """Log in (inside verified TLS), read the headers of each message, delete the tagged one."""
    try:
        pop = _POP3(address, port, name, ctx, mode == "implicit", timeout)
    except (OSError, poplib.error_proto, ssl.SSLError) as exc:
        raise _fail(f"POP3 {name}:{port}", exc, password) from None
    try:
        if mode == "starttls":
            pop.stls(context=ctx)
        tls = _tls_of(pop.sock)
        if tls is None:
            raise NetworkError(f"POP3 {name}:{port}: no TLS session")
        pop.user(user)
        pop.pass_(password)
        count = pop.stat()[0]
        needle = f"{TAG_HEADER}: {tag}".encode().lower()
        for number in range(count, 0, -1):
            lines = pop.top(number, 0)[1]
            raw = b"\r\n".join(lines) + b"\r\n"
            if needle in raw.lower():
                pop.dele(number)
                return Found(_headers(raw), tls, True)
        return None
    except NetworkError:
        raise
    except (OSError, poplib.error_proto, ssl.SSLError, EOFError) as exc:
        raise _fail(f"POP3 {name}:{port}", exc, password) from None
    finally:
        try:
            pop.quit()  # commits DELE (RFC 1939 §6)
        except (OSError, poplib.error_proto, ssl.SSLError, EOFError):
            pop.close()

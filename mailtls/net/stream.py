"""The only place that touches sockets and TLS.

A ``Stream`` is what httpcore calls a network stream: ``read``, ``write``, ``start_tls``,
``close``. Every foreign exception (OSError, ssl.SSLError, TimeoutError) is translated here,
once, into ``mailtls.errors``; callers never see anything else.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import functools
import socket
import ssl
import threading
import time
import warnings
from typing import Any

from mailtls.errors import (
    ConnectionClosed,
    ConnectRefused,
    ConnectTimeout,
    DeadlinePassed,
    HandshakeTimeout,
    NameNotResolved,
    NetworkError,
    ReadTimeout,
    TLSHandshakeError,
    Unreachable,
)
from mailtls.model.options import Timeouts as Timeouts  # re-exported; model/options.py owns it
from mailtls.net.budget import AddressBudget, take_slot
from mailtls.net.receive import ReceiveBudget

READ_CHUNK = 16384

_UNREACHABLE_ERRNOS = {
    errno.EHOSTUNREACH,
    errno.ENETUNREACH,
    errno.EACCES,
    errno.EPERM,
    errno.EADDRNOTAVAIL,
    errno.ENETDOWN,
    errno.EHOSTDOWN,
}


def peer_chain(obj: ssl.SSLObject) -> list[bytes]:
    """The chain as the server sent it, leaf first, as DER; for every TLS connection (mail
    ports and HTTPS alike).

    Python 3.13 has SSLObject.get_unverified_chain(); on 3.11 it exists only on the private
    ``_sslobj``. This is the one place that knows.
    """
    getter = getattr(obj, "get_unverified_chain", None)
    if getter is None:
        getter = getattr(getattr(obj, "_sslobj", None), "get_unverified_chain", None)
    chain: list[bytes] = []
    if getter is not None:
        with contextlib.suppress(Exception):
            for cert in getter() or []:
                chain.append(
                    cert
                    if isinstance(cert, bytes)
                    else cert.public_bytes(ssl._ssl.ENCODING_DER)  # type: ignore[attr-defined]
                )
    if not chain:
        with contextlib.suppress(Exception):
            leaf = obj.getpeercert(binary_form=True)
            if leaf:
                chain.append(leaf)
    return chain


def verifying_context(*, verify: bool, ca_file: str | None = None) -> ssl.SSLContext:
    """A client context with the chain check on (system store or ``ca_file``) or off; the
    host name is always matched by the caller."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    if verify:
        ctx.verify_mode = ssl.CERT_REQUIRED
        try:
            if ca_file:
                ctx.load_verify_locations(cafile=ca_file)
            else:
                ctx.load_default_certs()
        except (OSError, ssl.SSLError) as exc:
            raise NetworkError(f"cannot load trust store {ca_file or 'system'}: {exc}") from None
    else:
        ctx.verify_mode = ssl.CERT_NONE
    return ctx


@functools.lru_cache(maxsize=16)
def client_context(*, verify: bool, ca_file: str | None = None) -> ssl.SSLContext:
    """A client context that can *talk to* any server from TLS 1.0 up, so weak servers can be
    observed and judged instead of just failing.

    Verification is OpenSSL's chain check against the system store or ``ca_file``; the host name
    is matched by ``mailtls.pki.x509`` instead, so "untrusted" and "wrong name" are reported apart.
    Contexts are cached (loading the system store costs ~20 ms) and never changed after this.
    """
    ctx = verifying_context(verify=verify, ca_file=ca_file)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        ctx.minimum_version = ssl.TLSVersion.TLSv1
    # OpenSSL 3 allows TLS < 1.2 (and small keys) only at security level 0.
    ctx.set_ciphers("DEFAULT:@SECLEVEL=0")
    return ctx


async def resolve(host: str) -> list[str]:
    """Every address of ``host`` (A and AAAA), in the resolver's order, without duplicates.

    The system resolver blocks, so it runs in a daemon thread of its own: a resolver that hangs
    past the scan deadline must not keep the process alive (asyncio's default executor would
    be joined at exit).
    """
    loop = asyncio.get_running_loop()
    future: asyncio.Future[list[tuple[Any, ...]]] = loop.create_future()

    def lookup() -> None:
        try:
            infos = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
        except BaseException as exc:  # handed to the loop, re-raised there
            loop.call_soon_threadsafe(_settle, future, None, exc)
        else:
            loop.call_soon_threadsafe(_settle, future, infos, None)

    threading.Thread(target=lookup, name=f"resolve {host}", daemon=True).start()
    try:
        infos = await future
    except socket.gaierror as exc:
        raise NameNotResolved(f"{host}: {exc.strerror or exc}") from None
    except (OSError, UnicodeError) as exc:
        raise NameNotResolved(f"{host}: {exc}") from None
    addresses: list[str] = []
    for _family, _type, _proto, _canon, sockaddr in infos:
        address = str(sockaddr[0])
        if address not in addresses:
            addresses.append(address)
    if not addresses:
        raise NameNotResolved(f"{host}: no address")
    return addresses


def _settle(
    future: asyncio.Future[list[tuple[Any, ...]]],
    result: list[tuple[Any, ...]] | None,
    error: BaseException | None,
) -> None:
    if future.done():  # the caller gave up (deadline) before the resolver answered
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result or [])


def _map_connect_error(exc: OSError, where: str) -> NetworkError:
    if isinstance(exc, ConnectionRefusedError):
        return ConnectRefused(f"{where}: connection refused")
    if isinstance(exc, ConnectionResetError) or exc.errno == errno.ECONNRESET:
        # The handshake completed (something listens) and the reset came before we looked.
        return ConnectionClosed(f"{where}: the server reset the connection as soon as it "
                                "accepted it")
    if isinstance(exc, TimeoutError):
        return ConnectTimeout(f"{where}: no answer to connect (filtered?)")
    if exc.errno in _UNREACHABLE_ERRNOS:
        return Unreachable(f"{where}: {exc.strerror or exc}")
    if exc.errno == errno.ETIMEDOUT:
        return ConnectTimeout(f"{where}: connect timed out in the kernel")
    return Unreachable(f"{where}: {exc.strerror or exc}")


_NOT_TLS_REASONS = frozenset({"WRONG_VERSION_NUMBER", "HTTP_REQUEST", "PACKET_LENGTH_TOO_LONG",
                              "RECORD_LAYER_FAILURE"})


def _map_tls_error(exc: BaseException) -> TLSHandshakeError:
    if isinstance(exc, ssl.SSLCertVerificationError):
        return TLSHandshakeError(
            f"certificate verification failed: {exc.verify_message}",
            verify_code=exc.verify_code,
            verify_message=exc.verify_message,
        )
    if isinstance(exc, ssl.SSLError):
        reason = exc.reason or exc.strerror or str(exc)
        if reason in _NOT_TLS_REASONS:
            # OpenSSL read a record header that is no TLS record: the server answered the
            # ClientHello with something else, typically plaintext (an error line, or data sent
            # after a STARTTLS go-ahead that arrived after it).
            reason += " (the server's answer was not TLS)"
        return TLSHandshakeError(f"TLS handshake failed: {reason}")
    if isinstance(exc, ConnectionResetError):
        return TLSHandshakeError("TLS handshake failed: connection reset by the server")
    if isinstance(exc, (ConnectionError, EOFError, asyncio.IncompleteReadError)):
        return TLSHandshakeError("TLS handshake failed: the server closed the connection")
    return TLSHandshakeError(f"TLS handshake failed: {exc}")


class Stream:
    """A connected TCP stream that can be upgraded to TLS in place.

    Every read is charged to the stream's ``ReceiveBudget`` (bytes and lines, plaintext and TLS
    application data alike) and every wait is cut to its deadline: the one place where the
    bounds of a conversation are enforced, whichever probe reads.
    """

    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        timeouts: Timeouts,
        budget: ReceiveBudget | None = None,
        slot: AddressBudget | None = None,
    ) -> None:
        self._reader = reader
        self._writer = writer
        self._timeouts = timeouts
        self.budget = budget if budget is not None else ReceiveBudget(deadline=timeouts.deadline)
        self._closed = False
        self._slot = slot  # the connection budget's slot, given back on close

    @property
    def timeouts(self) -> Timeouts:
        return self._timeouts

    def time_left(self) -> float | None:
        """Seconds left before the budget's deadline (None: no deadline)."""
        return self.budget.remaining()

    async def read(self, timeout: float | None = None) -> bytes:
        """Whatever the peer sent next (at most one chunk). ReadTimeout / ConnectionClosed /
        ReceiveLimitExceeded (the budget's bytes or lines are used up)."""
        limit, cut = self.budget.clamp(self._timeouts.read if timeout is None else timeout)
        try:
            if limit <= 0:
                raise TimeoutError
            async with asyncio.timeout(limit):
                data = await self._reader.read(READ_CHUNK)
        except TimeoutError:
            raise ReadTimeout(f"no data from the server within {limit:g} s"
                              + (_TURN_OVER if cut else "")) from None
        except ssl.SSLError as exc:
            raise ConnectionClosed(f"TLS error while reading: {exc.reason or exc}") from None
        except OSError as exc:
            raise ConnectionClosed(f"connection lost: {exc.strerror or exc}") from None
        if not data:
            raise ConnectionClosed("the server closed the connection")
        self.budget.charge(data)
        return data

    async def write(self, data: bytes) -> None:
        limit, _cut = self.budget.clamp(self._timeouts.read)
        try:
            self._writer.write(data)
            async with asyncio.timeout(limit):
                await self._writer.drain()
        except TimeoutError:
            raise ReadTimeout("the server does not accept our data (send buffer full)") from None
        except (OSError, RuntimeError) as exc:
            raise ConnectionClosed(f"connection lost while sending: {exc}") from None

    def take_unread(self) -> bytes:
        """Bytes the transport received that nobody has read yet, removed from the stream.

        asyncio offers no public way to see them; before a TLS upgrade they must be taken out,
        or they would be handed to the TLS layer's reader as if they had arrived encrypted.
        """
        buffer: bytearray = getattr(self._reader, "_buffer", bytearray())
        data = bytes(buffer)
        buffer.clear()
        return data

    async def start_tls(self, context: ssl.SSLContext, server_hostname: str | None) -> float:
        """Upgrade in place; returns the handshake time in seconds."""
        started = time.monotonic()
        limit, cut = self.budget.clamp(self._timeouts.handshake)
        try:
            if limit <= 0:
                raise TimeoutError
            async with asyncio.timeout(limit):
                await self._writer.start_tls(
                    context,
                    server_hostname=server_hostname,
                    ssl_handshake_timeout=self._timeouts.handshake + 1,
                )
        except TimeoutError:
            raise HandshakeTimeout(
                f"TLS handshake did not finish within {limit:g} s" + (_TURN_OVER if cut else "")
            ) from None
        except (OSError, ssl.SSLError, EOFError, asyncio.IncompleteReadError) as exc:
            raise _map_tls_error(exc) from None
        return time.monotonic() - started

    @property
    def ssl_object(self) -> ssl.SSLObject | None:
        obj = self._writer.get_extra_info("ssl_object")
        return obj if isinstance(obj, ssl.SSLObject) else None

    def peer_chain_der(self) -> list[bytes]:
        """The chain as the server sent it, leaf first (``peer_chain``)."""
        obj = self.ssl_object
        return [] if obj is None else peer_chain(obj)

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            # A peer that resets or skips close_notify can make wait_closed raise or hang; past
            # the deadline there is no time to wait for it at all.
            wait, _cut = self.budget.clamp(1.0)
            if wait <= 0.05:
                with contextlib.suppress(Exception):
                    self._writer.transport.abort()
                return
            with contextlib.suppress(Exception):
                self._writer.close()
            with contextlib.suppress(Exception):
                async with asyncio.timeout(wait):
                    await self._writer.wait_closed()
            if not self._writer.transport.is_closing():  # pragma: no cover - belt and braces
                self._writer.transport.abort()
        finally:  # the slot is free once the connection is gone (also when cancelled)
            if self._slot is not None:
                self._slot.release()
                self._slot = None


_TURN_OVER = " (the time this probe had left before the scan deadline)"


async def open_stream(
    address: str, port: int, timeouts: Timeouts, budget: ReceiveBudget | None = None
) -> Stream:
    """TCP connect to an IP address; TLS, if any, is started by the caller with ``start_tls``.

    The stream gets ``budget``, or a fresh default one with ``timeouts.deadline``. Under a
    connection budget (``mailtls.net.budget``) this first waits for a slot for ``address``
    (no longer than the deadline); the connect timeout starts once the slot is there, and
    ``Stream.close`` gives the slot back."""
    where = f"{address} port {port}"
    budget = budget if budget is not None else ReceiveBudget(deadline=timeouts.deadline)
    left = budget.remaining()
    try:
        if left is not None and left <= 0:
            raise TimeoutError
        async with asyncio.timeout(left):
            slot = await take_slot(address)
    except TimeoutError:
        raise DeadlinePassed(f"{where}: no connection slot free in time{_TURN_OVER}") from None
    limit, cut = budget.clamp(timeouts.connect)
    try:
        if limit <= 0:
            raise TimeoutError
        async with asyncio.timeout(limit):
            # The StreamReader's own buffer stays small: we read in chunks as data comes.
            reader, writer = await asyncio.open_connection(address, port, limit=1 << 16)
    except TimeoutError:
        if slot is not None:
            slot.release()
        if cut:  # the turn ended, not the connect timeout: this says nothing about the port
            raise DeadlinePassed(f"{where}: no time left to connect{_TURN_OVER}") from None
        raise ConnectTimeout(f"{where}: no answer within {limit:g} s") from None
    except OSError as exc:
        if slot is not None:
            slot.release()
        raise _map_connect_error(exc, where) from None
    except BaseException:  # cancelled (the deadline): the slot must not leak
        if slot is not None:
            slot.release()
        raise
    return Stream(reader, writer, timeouts, budget, slot)

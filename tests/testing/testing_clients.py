"""Tiny plain clients for the test-server smoke tests (asyncio streams and a MemoryBIO one)."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
import time
from collections.abc import Callable

from mailtls.testing import RunningServer

SNI = "mail.example.test"
TIMEOUT = 3.0


class LineClient:
    """CRLF lines over asyncio streams, with a timeout on every read."""

    def __init__(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, timeout: float
    ) -> None:
        self.reader = reader
        self.writer = writer
        self.timeout = timeout
        self.broken = False

    @classmethod
    async def open(
        cls,
        server: RunningServer,
        *,
        tls: ssl.SSLContext | None = None,
        sni: str = SNI,
        timeout: float = TIMEOUT,
    ) -> LineClient:
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(
                server.host,
                server.port,
                ssl=tls,
                server_hostname=sni if tls else None,
                ssl_handshake_timeout=timeout if tls else None,
            ),
            timeout,
        )
        return cls(reader, writer, timeout)

    async def __aenter__(self) -> LineClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def line(self) -> str:
        raw = await asyncio.wait_for(self.reader.readline(), self.timeout)
        if not raw:
            raise ConnectionError("connection closed by server")
        return raw.rstrip(b"\r\n").decode("utf-8", "replace")

    async def until(self, last: Callable[[str], bool]) -> list[str]:
        lines = [await self.line()]
        while not last(lines[-1]):
            lines.append(await self.line())
        return lines

    async def send(self, text: str) -> None:
        self.writer.write(text.encode() + b"\r\n")
        await self.writer.drain()

    async def send_raw(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def starttls(self, ctx: ssl.SSLContext, sni: str = SNI) -> bytes:
        """Client-side upgrade; returns (and drops) plaintext the server sent after go-ahead."""
        buffer: bytearray = self.reader._buffer  # type: ignore[attr-defined]
        early = bytes(buffer)
        buffer.clear()
        try:
            await self.writer.start_tls(
                ctx, server_hostname=sni, ssl_handshake_timeout=self.timeout
            )
        except BaseException:
            # asyncio closed the raw transport, but the stream protocol never hears of it:
            # wait_closed() would hang until its timeout
            self.broken = True
            raise
        return early

    def tls_version(self) -> str | None:
        obj = self.writer.get_extra_info("ssl_object")
        return None if obj is None else obj.version()

    async def nothing_within(self, seconds: float) -> bool:
        """True if the server sends nothing (and does not close) within ``seconds``."""
        try:
            data = await asyncio.wait_for(self.reader.read(1), seconds)
        except TimeoutError:
            return True
        raise AssertionError(f"unexpected data from server: {data!r}")

    async def close(self) -> None:
        self.writer.close()
        if self.broken:
            return
        with contextlib.suppress(OSError, TimeoutError, ssl.SSLError):
            await asyncio.wait_for(self.writer.wait_closed(), self.timeout)

    # -- protocol helpers ------------------------------------------------------------------

    async def smtp_ehlo(self) -> list[str]:
        await self.send("EHLO client.example.test")
        return await self.until(lambda s: not s.startswith("250-"))

    async def imap(self, tag: str, command: str) -> list[str]:
        await self.send(f"{tag} {command}")
        return await self.until(lambda s: s.startswith(f"{tag} "))

    async def pop3_capa(self) -> list[str]:
        await self.send("CAPA")
        first = await self.line()
        if not first.startswith("+OK"):
            return [first]
        return [first, *await self.until(lambda s: s == ".")]


def client_ctx(*, verify: bool = True) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    if not verify:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    return ctx


class BioClient:
    """A blocking socket + ``ssl.MemoryBIO`` client that can pipeline the ClientHello.

    ``starttls_pipelined`` sends the STARTTLS command AND the ClientHello in ONE write, before
    the go-ahead has been received - the worst case for a server's buffered-bytes handling.
    """

    def __init__(self, server: RunningServer, timeout: float = TIMEOUT) -> None:
        self.sock = socket.create_connection(server.address, timeout=timeout)
        self.buffer = b""
        self.tls: ssl.SSLObject | None = None
        self.incoming = ssl.MemoryBIO()
        self.outgoing = ssl.MemoryBIO()

    def close(self) -> None:
        self.sock.close()

    def _recv(self) -> bytes:
        data = self.sock.recv(65536)
        if not data:
            raise ConnectionError("connection closed by server")
        return data

    def _fill(self) -> None:
        if self.tls is None:
            self.buffer += self._recv()
            return
        while True:
            try:
                self.buffer += self.tls.read(65536)
                return
            except ssl.SSLWantReadError:
                self.incoming.write(self._recv())

    def line(self) -> str:
        while b"\r\n" not in self.buffer:
            self._fill()
        raw, self.buffer = self.buffer.split(b"\r\n", 1)
        return raw.decode("utf-8", "replace")

    def until(self, last: Callable[[str], bool]) -> list[str]:
        lines = [self.line()]
        while not last(lines[-1]):
            lines.append(self.line())
        return lines

    def send(self, text: str) -> None:
        data = text.encode() + b"\r\n"
        if self.tls is None:
            self.sock.sendall(data)
        else:
            self.tls.write(data)
            self.sock.sendall(self.outgoing.read())

    def starttls_pipelined(self, command: str, ctx: ssl.SSLContext, sni: str = SNI) -> str:
        """Send ``command`` + ClientHello at once; finish the handshake; return the go-ahead."""
        tls = ctx.wrap_bio(self.incoming, self.outgoing, server_hostname=sni)
        with contextlib.suppress(ssl.SSLWantReadError):
            tls.do_handshake()
        hello = self.outgoing.read()
        self.sock.sendall(command.encode() + b"\r\n" + hello)  # ONE write
        go_ahead = self.line()  # whatever followed it in the same read belongs to TLS
        self.incoming.write(self.buffer)
        self.buffer = b""
        deadline = time.monotonic() + TIMEOUT
        while True:
            try:
                tls.do_handshake()
                break
            except ssl.SSLWantReadError:
                pending = self.outgoing.read()
                if pending:
                    self.sock.sendall(pending)
                if time.monotonic() > deadline:
                    raise TimeoutError("TLS handshake did not finish") from None
                self.incoming.write(self._recv())
        pending = self.outgoing.read()
        if pending:
            self.sock.sendall(pending)
        self.tls = tls
        return go_ahead

"""Internals of the loopback test servers: the background loop thread, connection tracking and
server-side TLS upgrades that never lose (or wrongly execute) bytes buffered before the switch.

Why not ``StreamWriter.start_tls()`` on the server side: on Python 3.11 (python/cpython#142352,
fixed only on 3.13+) it leaves bytes already buffered in the ``StreamReader`` behind. A ClientHello
that arrived together with (or right after) ``STARTTLS`` is then never seen by TLS and the
handshake hangs; and the plaintext bytes are read later as if they had come inside TLS. The
helpers here take the buffer explicitly, split it into plaintext that followed the command and
the TLS bytes that start at the first TLS handshake record, and feed the TLS part into the new
``SSLProtocol`` before reading resumes. The plaintext part is discarded by a correct server, or
replayed inside TLS by one configured with ``inject_vulnerable`` (CVE-2011-0411).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import ssl
import threading
import weakref
from asyncio.sslproto import SSLProtocol
from collections.abc import Coroutine
from typing import Any, TypeVar, cast

log = logging.getLogger("mailtls.testing")
log.addHandler(logging.NullHandler())

T = TypeVar("T")

#: How long a synchronous caller waits for the background loop (start/stop of one server).
CALL_TIMEOUT = 15.0

_TLS_RECORD_START = b"\x16\x03"  # handshake record, legacy version 3.x


class _LoopThread:
    """One private asyncio loop in one daemon thread, started lazily, shared by all servers."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self.errors: list[str] = []  # unexpected errors reported on the loop (for tests)

    def get(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None or self._thread is None or not self._thread.is_alive():
                loop = asyncio.new_event_loop()
                loop.set_exception_handler(self._on_error)
                ready = threading.Event()
                thread = threading.Thread(
                    target=self._run, args=(loop, ready), name="mailtls-test-servers", daemon=True
                )
                thread.start()
                ready.wait()
                self._loop, self._thread = loop, thread
            return self._loop

    def in_loop_thread(self) -> bool:
        thread = self._thread
        return thread is not None and thread is threading.current_thread()

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = CALL_TIMEOUT) -> T:
        """Run ``coro`` on the background loop and wait for its result (from another thread)."""
        if self.in_loop_thread():
            coro.close()
            raise RuntimeError("mailtls.testing: blocking call made from the server loop thread")
        future = asyncio.run_coroutine_threadsafe(coro, self.get())
        try:
            return future.result(timeout)
        except concurrent.futures.TimeoutError:
            future.cancel()
            raise TimeoutError(
                f"mailtls.testing: background loop call timed out ({timeout}s)"
            ) from None

    def shutdown(self, timeout: float = CALL_TIMEOUT) -> None:
        """Stop the loop thread (servers should be stopped first); restarted lazily."""
        if self.in_loop_thread():
            raise RuntimeError("mailtls.testing: shutdown() called from the server loop thread")
        with self._lock:
            loop, thread = self._loop, self._thread
            self._loop = self._thread = None
        if loop is None or thread is None:
            return
        if thread.is_alive():
            loop.call_soon_threadsafe(loop.stop)
            thread.join(timeout)

    def _on_error(self, loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        message = str(context.get("message", "error"))
        exc = context.get("exception")
        self.errors.append(f"{message}: {exc!r}" if exc is not None else message)
        log.debug("background loop: %s", message, exc_info=exc)

    @staticmethod
    def _run(loop: asyncio.AbstractEventLoop, ready: threading.Event) -> None:
        asyncio.set_event_loop(loop)
        loop.call_soon(ready.set)
        try:
            loop.run_forever()
            pending = asyncio.all_tasks(loop)
            for task in pending:
                task.cancel()
            if pending:
                loop.run_until_complete(asyncio.wait(pending, timeout=CALL_TIMEOUT))
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.run_until_complete(loop.shutdown_default_executor())
        finally:
            asyncio.set_event_loop(None)
            loop.close()


LOOP = _LoopThread()


class Connections:
    """Open connections of one listener: raw transports and handler tasks, closed by stop()."""

    def __init__(self) -> None:
        self.transports: weakref.WeakSet[asyncio.BaseTransport] = weakref.WeakSet()
        self.tasks: set[asyncio.Task[Any]] = set()
        self.closed = False

    def add_transport(self, transport: asyncio.BaseTransport) -> None:
        if self.closed:
            _abort(transport)
        else:
            self.transports.add(transport)

    def add_task(self, task: asyncio.Task[Any] | None) -> None:
        if task is None:
            return
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        if self.closed:
            task.cancel()

    async def close_all(self) -> None:
        self.closed = True
        for transport in list(self.transports):
            _abort(transport)
        tasks = [t for t in self.tasks if t is not asyncio.current_task()]
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=5)
        # let the transports' connection_lost callbacks run (they close the sockets)
        for _ in range(3):
            await asyncio.sleep(0)


def _abort(transport: asyncio.BaseTransport) -> None:
    if isinstance(transport, asyncio.Transport):
        transport.abort()  # no-op once the connection is lost
    else:
        transport.close()


# -- buffered bytes and TLS -------------------------------------------------------------------


def take_buffered(reader: asyncio.StreamReader) -> bytes:
    """Remove and return what the reader has buffered but nobody has read yet."""
    buffer: bytearray = reader._buffer  # type: ignore[attr-defined]
    data = bytes(buffer)
    buffer.clear()
    reader._paused = False  # type: ignore[attr-defined]
    return data


def push_front(reader: asyncio.StreamReader, data: bytes) -> None:
    """Put ``data`` in front of what the reader has buffered (it is read next)."""
    if data:
        buffer: bytearray = reader._buffer  # type: ignore[attr-defined]
        buffer[:0] = data


def split_early(data: bytes) -> tuple[bytes, bytes]:
    """Split bytes received after a STARTTLS command into (plaintext, TLS).

    TLS starts at the first TLS handshake record header at the start of the data or of a line.
    """
    if not data:
        return b"", b""
    if data.startswith(_TLS_RECORD_START):
        return b"", data
    index = data.find(b"\n" + _TLS_RECORD_START)
    if index < 0:
        return data, b""
    return data[: index + 1], data[index + 1 :]


class _ServerSSLProtocol(SSLProtocol):
    """asyncio's SSLProtocol, but a failed handshake still sends OpenSSL's alert to the client.

    (asyncio drops the pending alert and just closes, so clients would see a bare reset or EOF
    instead of e.g. "tlsv1 alert protocol version", unlike with a real mail server.)
    """

    def _on_handshake_complete(self, handshake_exc: BaseException | None) -> None:
        transport = self._transport
        if handshake_exc is not None and isinstance(transport, asyncio.WriteTransport):
            try:
                alert = self._outgoing.read()  # type: ignore[attr-defined]
                if alert and not transport.is_closing():
                    transport.write(alert)
            except Exception:  # best effort only
                pass
        super()._on_handshake_complete(handshake_exc)


def new_server_tls(
    app_protocol: asyncio.BaseProtocol,
    ctx: ssl.SSLContext,
    waiter: asyncio.Future[None] | None,
    *,
    call_connection_made: bool,
    handshake_timeout: float,
) -> SSLProtocol:
    """A server-side SSLProtocol for ``app_protocol``; attach it with ``attach_tls``.

    Without a ``waiter`` a failed handshake just closes the connection.
    """
    loop = asyncio.get_running_loop()
    if waiter is None:
        waiter = loop.create_future()
        waiter.add_done_callback(_consume_result)
    return _ServerSSLProtocol(
        loop,
        app_protocol,
        ctx,
        waiter,
        server_side=True,
        call_connection_made=call_connection_made,
        ssl_handshake_timeout=cast(int, handshake_timeout),  # typeshed says int; float works
    )


def _consume_result(future: asyncio.Future[None]) -> None:
    if not future.cancelled():
        future.exception()  # retrieved: no "exception was never retrieved" log


def attach_tls(raw: asyncio.Transport, ssl_protocol: SSLProtocol, early: bytes) -> None:
    """Put ``ssl_protocol`` on ``raw`` and start the handshake, feeding ``early`` TLS bytes first.

    Synchronous, so nothing can arrive in between: every byte after the switch goes to TLS.
    """
    raw.pause_reading()
    raw.set_protocol(ssl_protocol)
    ssl_protocol.connection_made(raw)
    view = memoryview(early)
    while view:
        buffer = ssl_protocol.get_buffer(len(view))
        n = min(len(buffer), len(view))
        buffer[:n] = view[:n]
        ssl_protocol.buffer_updated(n)
        view = view[n:]
    if not raw.is_closing():
        raw.resume_reading()


async def upgrade_stream(
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    ctx: ssl.SSLContext,
    *,
    early: bytes,
    handshake_timeout: float,
) -> None:
    """Server-side TLS on an asyncio stream pair, replacing ``StreamWriter.start_tls()``.

    The caller has taken the reader's buffer (``take_buffered``) and passes the TLS part as
    ``early``. Raises the handshake error (the connection is closed then).
    """
    loop = asyncio.get_running_loop()
    raw = writer.transport
    assert isinstance(raw, asyncio.Transport)
    protocol = raw.get_protocol()
    waiter: asyncio.Future[None] = loop.create_future()
    ssl_protocol = new_server_tls(
        protocol, ctx, waiter, call_connection_made=False, handshake_timeout=handshake_timeout
    )
    attach_tls(raw, ssl_protocol, early)
    try:
        await waiter
    except BaseException:
        raw.abort()
        raise
    app_transport = ssl_protocol._app_transport
    writer._transport = app_transport  # type: ignore[attr-defined]
    reader._transport = app_transport  # type: ignore[attr-defined]
    protocol._replace_writer(writer)  # type: ignore[attr-defined]

"""Blocking loopback servers in a thread, for TLS peers that are not asyncio (ssl sockets,
tlslite-ng): shared by tests/tls and tests/tlsscan. Binds 127.0.0.1 only."""

from __future__ import annotations

import contextlib
import socket
import threading
import warnings
from collections.abc import Callable
from typing import Any

HOST = "127.0.0.1"


class ThreadedServer:
    """A blocking accept loop on 127.0.0.1 in a daemon thread.

    ``handler(sock)`` does the server side of one connection (e.g. a TLS handshake that fails
    once the client hangs up), with a 5 s socket timeout; every exception it raises is
    swallowed. Connections are served one at a time in the accept thread, or with
    ``concurrent`` each in a thread of its own. ``accepted`` counts the connections.
    """

    def __init__(
        self, handler: Callable[[socket.socket], None], *, concurrent: bool = False,
        backlog: int = 32, name: str | None = None,
    ) -> None:
        self._handler = handler
        self._concurrent = concurrent
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.bind((HOST, 0))
        self._sock.listen(backlog)
        self._sock.settimeout(0.1)
        self.port: int = self._sock.getsockname()[1]
        self.accepted = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name=name)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except OSError:
                continue
            self.accepted += 1
            if self._concurrent:
                threading.Thread(target=self._serve, args=(conn,), daemon=True).start()
            else:
                self._serve(conn)

    def _serve(self, conn: socket.socket) -> None:
        with contextlib.suppress(Exception), conn:
            conn.settimeout(5)
            self._handler(conn)

    def __enter__(self) -> ThreadedServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)
        self._sock.close()


def tlslite_api() -> Any:
    """tlslite-ng's api module (its import warns about asyncore), or skip the test."""
    import pytest

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        return pytest.importorskip("tlslite.api")

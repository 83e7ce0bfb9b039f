"""Honest network conditions on loopback for tests (no mocks): a port that drops SYNs."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import contextmanager

import pytest


@contextmanager
def syn_dropping_port(address: str = "127.0.0.1", port: int = 0) -> Iterator[int]:
    """A port whose SYNs are dropped: a listener with a full accept queue.

    Linux drops a SYN when the accept queue is full (tcp_abort_on_overflow=0), so a connect
    times out exactly as behind a dropping firewall; no mock involved. SO_REUSEADDR lets a
    fixed port (25) be bound again while the previous test's connection is in TIME_WAIT.
    """
    listener = socket.socket()
    filler = socket.socket()
    try:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            listener.bind((address, port))
        except OSError as exc:
            pytest.skip(f"cannot bind {address}:{port} here: {exc}")
        listener.listen(0)
        bound = listener.getsockname()[1]
        filler.settimeout(1)
        filler.connect((address, bound))
        with socket.socket() as probe:
            probe.settimeout(0.5)
            try:
                probe.connect((address, bound))
            except TimeoutError:
                pass
            else:
                pytest.skip("this kernel does not drop SYNs on a full accept queue")
        yield bound
    finally:
        filler.close()
        listener.close()

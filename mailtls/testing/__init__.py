"""Loopback test servers and a throw-away test PKI, for the test suite and ``mailtls demo``.

>>> from mailtls.testing import TestPKI, start_smtp, stop_all
>>> with TestPKI() as pki, start_smtp(pki, cert="expired") as server:
...     ...  # connect to server.host, server.port (127.0.0.1, OS-chosen port)

All servers of a process share one private asyncio loop in one background daemon thread; see
``mailtls.testing.servers``. Hostile/scripted servers are in ``mailtls.testing.hostile``.
"""

from __future__ import annotations

from .imap import start_imap
from .pki import CERT_KINDS, DEFAULT_NAMES, WRONG_NAME, CertKind, TestPKI
from .pop3 import start_pop3
from .servers import (
    PASSWORD,
    USERNAME,
    IMAPOptions,
    POP3Options,
    RunningServer,
    ServerOptions,
    SMTPOptions,
    StreamHandler,
    running_servers,
    start_raw,
    started_servers,
    stop_all,
    upgrade_to_tls,
)
from .smtp import start_smtp

__all__ = [
    "CERT_KINDS",
    "DEFAULT_NAMES",
    "PASSWORD",
    "USERNAME",
    "WRONG_NAME",
    "CertKind",
    "IMAPOptions",
    "POP3Options",
    "RunningServer",
    "SMTPOptions",
    "ServerOptions",
    "StreamHandler",
    "TestPKI",
    "running_servers",
    "start_imap",
    "start_pop3",
    "start_raw",
    "start_smtp",
    "started_servers",
    "stop_all",
    "upgrade_to_tls",
]

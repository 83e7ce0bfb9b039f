"""Server-side STARTTLS and bytes buffered before the switch (python/cpython#142352).

* A ClientHello pipelined with the STARTTLS command (one write, before the go-ahead) must reach
  TLS: a server using ``StreamWriter.start_tls()`` on 3.11 leaves it in its StreamReader and the
  handshake hangs.
* Plaintext commands pipelined after STARTTLS must be discarded by a correct server, and
  executed inside TLS by one started with ``inject_vulnerable=True`` (CVE-2011-0411).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from mailtls.testing import RunningServer, TestPKI, start_imap, start_pop3, start_raw, start_smtp
from tests.testing.testing_clients import BioClient, LineClient

Starter = Callable[..., RunningServer]

# protocol -> (start, STARTTLS command, first command inside TLS, first line of its reply)
CASES: dict[str, tuple[Starter, str, str, str]] = {
    "smtp": (start_smtp, "STARTTLS", "EHLO client.example.test", "250-mail.example.test"),
    "imap": (start_imap, "a STARTTLS", "b CAPABILITY", "* CAPABILITY IMAP4rev1 SASL-IR AUTH=PLAIN"),
    "pop3": (start_pop3, "STLS", "CAPA", "+OK Capability list follows"),
}
# protocol -> (injected plaintext command, first line of its reply)
INJECTED = {
    "smtp": ("NOOP", "250 OK"),
    "imap": ("i NOOP", "i OK NOOP completed"),
    "pop3": ("NOOP", "+OK"),
}


def _greet(c: BioClient, protocol: str) -> None:
    c.line()
    if protocol == "smtp":
        c.send("EHLO client.example.test")
        c.until(lambda s: s.startswith("250 "))


@pytest.mark.parametrize("protocol", CASES)
def test_pipelined_client_hello(pki: TestPKI, protocol: str) -> None:
    start, command, probe, first = CASES[protocol]
    with start(pki) as server:
        c = BioClient(server)
        try:
            _greet(c, protocol)
            go_ahead = c.starttls_pipelined(command, pki.client_context())
            assert not go_ahead.startswith(("5", "4", "-ERR")) and "BAD" not in go_ahead
            assert c.tls is not None and c.tls.version() == "TLSv1.3"
            c.send(probe)
            assert c.line() == first
        finally:
            c.close()


def test_naive_start_tls_loses_the_pipelined_client_hello(pki: TestPKI) -> None:
    """Documents the 3.11 gotcha the servers work around (the client times out here)."""

    async def naive(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"+OK ready\r\n")
        await reader.readline()
        writer.write(b"+OK go\r\n")
        await writer.drain()
        await writer.start_tls(pki.server_context(), ssl_handshake_timeout=1.0)

    with start_raw(naive, name="naive") as server:
        c = BioClient(server, timeout=0.5)
        try:
            c.line()
            with pytest.raises(TimeoutError):
                c.starttls_pipelined("STLS", pki.client_context())
        finally:
            c.close()


async def _inject(pki: TestPKI, protocol: str, *, vulnerable: bool) -> list[str]:
    start, command, probe, _ = CASES[protocol]
    injected, _ = INJECTED[protocol]
    with start(pki, inject_vulnerable=vulnerable) as server:
        async with await LineClient.open(server) as c:
            await c.line()
            if protocol == "smtp":
                await c.smtp_ehlo()
            await c.send_raw(f"{command}\r\n{injected}\r\n".encode())  # one write
            await c.line()  # the go-ahead
            assert await c.starttls(pki.client_context()) == b""
            await c.send(probe)
            return [await c.line(), await c.line()]


@pytest.mark.parametrize("protocol", CASES)
async def test_plaintext_after_starttls_is_discarded(pki: TestPKI, protocol: str) -> None:
    lines = await _inject(pki, protocol, vulnerable=False)
    assert lines[0] == CASES[protocol][3]  # the probe's reply comes first: nothing injected ran
    assert INJECTED[protocol][1] not in lines


@pytest.mark.parametrize("protocol", CASES)
async def test_inject_vulnerable_executes_plaintext_inside_tls(pki: TestPKI, protocol: str) -> None:
    lines = await _inject(pki, protocol, vulnerable=True)
    assert lines[0] == INJECTED[protocol][1]  # the injected command's reply, inside TLS
    assert lines[1] == CASES[protocol][3]


@pytest.mark.parametrize("protocol", CASES)
def test_plaintext_then_client_hello_in_one_write(pki: TestPKI, protocol: str) -> None:
    """Injected plaintext AND the ClientHello in one write: TLS still works, nothing runs."""
    start, command, probe, first = CASES[protocol]
    injected, _ = INJECTED[protocol]
    with start(pki) as server:
        c = BioClient(server)
        try:
            _greet(c, protocol)
            c.starttls_pipelined(f"{command}\r\n{injected}", pki.client_context())
            c.send(probe)
            assert c.line() == first
        finally:
            c.close()

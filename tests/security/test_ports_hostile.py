"""The other ports' defects the real servers of the interop suite do not show, against
scripted loopback servers over real sockets: FTP and NNTP that run commands pipelined after
AUTH TLS / STARTTLS inside TLS (CVE-2011-1575 / CVE-2012-3523 class), FTP that refuses
PROT P, NNTP that still lists STARTTLS under TLS, HTTPS with a short or broken HSTS field."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest

from mailtls.testing import TestPKI
from mailtls.testing._runtime import push_front
from mailtls.testing.hostile import garbage, tarpit
from mailtls.testing.servers import RunningServer, start_raw, upgrade_to_tls


async def _send(writer: asyncio.StreamWriter, *lines: str) -> None:
    writer.write("".join(f"{line}\r\n" for line in lines).encode())
    await writer.drain()


def ftp_server(pki: TestPKI, *, injectable: bool, prot_p: bool) -> RunningServer:
    ctx = pki.server_context("good")

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await _send(writer, "220 scripted FTP")
        tls = False
        while line := (await reader.readline()).decode(errors="replace").strip():
            verb = line.partition(" ")[0]
            verb = verb.upper()
            if verb == "FEAT":
                await _send(writer, "211-Features:", " AUTH TLS", " PBSZ", " PROT", "211 End")
            elif verb == "AUTH" and not tls:
                await _send(writer, "234 Proceed with negotiation.")
                injected = await upgrade_to_tls(reader, writer, ctx)
                tls = True
                if injectable:
                    push_front(reader, injected)
            elif verb == "USER":
                await _send(writer, "530 Non-anonymous sessions must use encryption.")
            elif verb == "SYST":
                await _send(writer, "215 UNIX Type: L8")
            elif verb in ("NOOP", "PBSZ"):
                await _send(writer, "200 OK")
            elif verb == "PROT":
                await _send(writer, "200 PROT now Private." if prot_p else
                            "536 Requested PROT level not supported.")
            elif verb == "QUIT":
                await _send(writer, "221 Goodbye.")
                return
            else:
                await _send(writer, "500 Unknown command.")

    return start_raw(handler, name="ftp-scripted")


def nntp_server(pki: TestPKI, *, injectable: bool) -> RunningServer:
    ctx = pki.server_context("good")

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await _send(writer, "200 scripted NNTP ready")
        tls = False
        while line := (await reader.readline()).decode(errors="replace").strip():
            verb = line.split(" ", 1)[0].upper()
            if verb == "CAPABILITIES":
                # a confused TLS layer: STARTTLS listed inside TLS too (RFC 4642 §2.2.2)
                await _send(writer, "101 Capability list:", "VERSION 2", "READER", "STARTTLS",
                            ".")
            elif verb == "STARTTLS" and not tls:
                await _send(writer, "382 Continue with TLS negotiation")
                injected = await upgrade_to_tls(reader, writer, ctx)
                tls = True
                if injectable:
                    push_front(reader, injected)
            elif verb == "AUTHINFO":
                await _send(writer, "483 Encryption required")
            elif verb == "DATE":
                await _send(writer, "111 20261206050000")
            elif verb == "QUIT":
                await _send(writer, "205 Bye!")
                return
            else:
                await _send(writer, "500 What?")

    return start_raw(handler, name="nntp-scripted")


def https_server(pki: TestPKI, hsts: str | None) -> RunningServer:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while (await reader.readline()).strip():
            pass
        fields = ["HTTP/1.1 200 OK", "Content-Length: 0", "Connection: close"]
        if hsts is not None:
            fields.append(f"Strict-Transport-Security: {hsts}")
        await _send(writer, *fields, "")

    return start_raw(handler, ssl_context=pki.server_context("good"), name="https-scripted")


def _probe(run: Any, name: str) -> dict[str, Any]:
    (ep,) = run.endpoints
    return next(p for p in ep["security"] if p["name"] == name)


@pytest.mark.parametrize("factory", [
    lambda pki: ftp_server(pki, injectable=True, prot_p=True),
    lambda pki: nntp_server(pki, injectable=True),
], ids=["ftp", "nntp"])
def test_command_injection_found(factory: Callable[[TestPKI], RunningServer], pki: TestPKI,
                                 mailtls: Any) -> None:
    with factory(pki) as server:
        proto = "ftp" if "ftp" in server.name else "nntp"
        run = mailtls(f"{proto}={server.port}", deep=True)
    probe = _probe(run, "command_injection")
    assert (probe["verdict"], probe["detail"]) == ("failed", "executed"), probe
    finding = run.finding(f"{proto}.starttls.command_injection")
    assert finding["severity"] == "fail" and run.code == 2
    answer = "215 UNIX Type: L8" if proto == "ftp" else "111 20261206050000"
    assert answer in finding["evidence"]


@pytest.mark.parametrize("factory", [
    lambda pki: ftp_server(pki, injectable=False, prot_p=True),
    lambda pki: nntp_server(pki, injectable=False),
], ids=["ftp", "nntp"])
def test_command_injection_not_found(factory: Callable[[TestPKI], RunningServer],
                                     pki: TestPKI, mailtls: Any) -> None:
    with factory(pki) as server:
        proto = "ftp" if "ftp" in server.name else "nntp"
        run = mailtls(f"{proto}={server.port}", deep=True)
    probe = _probe(run, "command_injection")
    assert (probe["verdict"], probe["detail"]) == ("passed", "discarded"), probe
    assert f"{proto}.starttls.command_injection" not in run.ids


def test_ftp_prot_p_refused(pki: TestPKI, mailtls: Any) -> None:
    with ftp_server(pki, injectable=False, prot_p=False) as server:
        run = mailtls(f"ftp={server.port}", deep=True)
    assert run.ids == {"ftp.data.unprotected"}, run.findings
    assert "536 Requested PROT level not supported." in run.finding(
        "ftp.data.unprotected")["evidence"]


def test_nntp_starttls_still_listed_under_tls(pki: TestPKI, mailtls: Any) -> None:
    with nntp_server(pki, injectable=False) as server:
        run = mailtls(f"nntp={server.port}")
    assert run.ids == {"nntp.starttls.advertised_after_tls"}, run.findings


@pytest.mark.parametrize(("hsts", "expected"), [
    ("max-age=63072000; includeSubDomains", set()),
    ("max-age=600", {"http.hsts.short_max_age"}),
    ("includeSubDomains", {"http.hsts.invalid"}),
    (None, {"http.hsts.missing"}),
])
def test_https_hsts(hsts: str | None, expected: set[str], pki: TestPKI, mailtls: Any) -> None:
    with https_server(pki, hsts) as server:
        run = mailtls(f"https={server.port}", extra=("--quick",))
    assert run.ids == expected, run.findings
    assert run.endpoints[0]["tls"]["version"] == "TLSv1.3"


@pytest.mark.parametrize("service", ["ldap", "http"])
def test_silent_server_where_the_client_speaks_first(service: str, pki: TestPKI,
                                                     mailtls: Any) -> None:
    with tarpit() as server:
        run = mailtls(f"{service}={server.port}")
    assert run.ids == {"session.broken"}, run.findings
    assert "did not answer" in run.finding("session.broken")["summary"]
    assert run.code == 2


@pytest.mark.parametrize("service", ["ldap", "ftp", "nntp", "http"])
def test_garbage_is_a_protocol_error_not_a_traceback(service: str, pki: TestPKI,
                                                     mailtls: Any) -> None:
    with garbage() as server:
        run = mailtls(f"{service}={server.port}")
    assert run.ids == {"session.protocol_error"}, run.findings
    assert run.err == ""

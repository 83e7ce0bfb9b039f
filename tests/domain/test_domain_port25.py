"""The port-25 question from this network (outbound port 25 blocking, OP25B), simulated honestly on
loopback addresses of their own: a port 25 whose accept queue is full drops SYNs exactly as an
egress block does; control hosts (--port25-control) tell a block here from one at the server; a
masked dialogue and a port 25 unlike its siblings are signs of interception."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest

from mailtls.testing import RunningServer, TestPKI, start_raw, start_smtp
from tests.domain.domain_dns import FakeDNS, load_zone
from tests.domain.domain_helpers import DomainRun
from tests.netsim import syn_dropping_port

Make = Callable[..., FakeDNS]
Run = Callable[..., DomainRun]
TARGET, CONTROL, CONTROL_OK = "127.0.0.125", "127.0.0.126", "127.0.0.127"
FAST = ("--connect-timeout", "1")


@contextmanager
def dropping_port25(address: str) -> Iterator[None]:
    """Port 25 of ``address`` drops SYNs (a listener with a full accept queue)."""
    with syn_dropping_port(address, 25):
        yield


@pytest.fixture
def no_dns(make_dns: Make) -> FakeDNS:
    """A resolver for runs that must not need one (every name here is an address)."""
    return make_dns(load_zone("fallback.test", {"IMPLICIT": "127.0.0.5"}))


@pytest.fixture
def servers() -> Iterator[list[RunningServer]]:
    started: list[RunningServer] = []
    yield started
    for s in started:
        s.stop()


def _start(servers: list[RunningServer], factory: Callable[..., RunningServer], *args: object,
           **kwargs: object) -> RunningServer:
    try:
        server = factory(*args, **kwargs)
    except OSError as exc:
        pytest.skip(f"cannot bind a test server: {exc}")
    servers.append(server)
    return server


def test_controls_that_time_out_too_mean_a_block_on_this_network(
    run: Run, no_dns: FakeDNS
) -> None:
    with dropping_port25(TARGET), dropping_port25(CONTROL):
        r = run("mail.example.test", "--address", TARGET, "--only", "smtp",
                "--port25-control", CONTROL, *FAST, dns=no_dns, command="check")
        alone = run("mail.example.test", "--address", TARGET, "--only", "smtp", *FAST,
                    dns=no_dns, command="check")
    finding = r.finding("smtp.port25.blocked_from_here")
    assert finding["severity"] == "unknown"
    assert "appears blocked from this network" in finding["summary"]
    assert f"control {CONTROL} {CONTROL}:25: filtered" in finding["evidence"]
    assert [c["state"] for c in r.report["port25_controls"]] == ["filtered"]
    assert r.host_names == ["mail.example.test"]  # the control is not a host of the report
    assert r.code == 3
    assert "smtp.port25.blocked_from_here" not in alone.ids and "port.filtered" in alone.ids


def test_a_control_that_answers_puts_the_block_at_the_server(
    run: Run, no_dns: FakeDNS, pki: TestPKI, servers: list[RunningServer]
) -> None:
    _start(servers, start_smtp, pki, host=CONTROL_OK, port=25)
    with dropping_port25(TARGET):
        r = run("mail.example.test", "--address", TARGET, "--only", "smtp",
                "--port25-control", CONTROL_OK, *FAST, dns=no_dns, command="check")
    finding = r.finding("smtp.port25.filtered_at_server")
    assert finding["severity"] == "fail" and "not on this side" in finding["summary"]
    assert "smtp.port25.blocked_from_here" not in r.ids
    assert r.code == 2


def test_mx_of_a_domain_with_port25_blocked_here(run: Run, make_dns: Make) -> None:
    zone = load_zone("fallback.test", {"IMPLICIT": TARGET})
    with dropping_port25(TARGET), dropping_port25(CONTROL):
        r = run("implicit.fallback.test", "--port25-control", CONTROL, *FAST,
                dns=make_dns(zone))
    endpoint = r.host("implicit.fallback.test")["endpoints"][0]
    assert (endpoint["port"], endpoint["state"]) == (25, "filtered")
    assert r.finding("smtp.port25.blocked_from_here")["severity"] == "unknown"


async def _masked_smtp(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """What a Cisco ASA with ESMTP inspection makes of a server: banner and EHLO masked,
    STARTTLS gone."""
    writer.write(b"220 ****************************************\r\n")
    await writer.drain()
    while line := await reader.readline():
        verb = line.strip().upper()
        if verb.startswith(b"EHLO"):
            writer.write(b"250-XXXXXXXXXXXXXXXXXXXXXXXXX\r\n250-PIPELINING\r\n250-XXXXXXXA\r\n"
                         b"250 8BITMIME\r\n")
        elif verb.startswith(b"QUIT"):
            writer.write(b"221 bye\r\n")
            await writer.drain()
            return
        else:
            writer.write(b"502 5.5.2 no\r\n")
        await writer.drain()


def test_masked_dialogue_is_could_not_test_not_a_failure(
    run: Run, no_dns: FakeDNS, pki: TestPKI, servers: list[RunningServer]
) -> None:
    _start(servers, start_raw, _masked_smtp, host="127.0.0.128", port=25)
    _start(servers, start_smtp, pki, host="127.0.0.129", port=25, starttls=False)
    masked = run("mail.example.test", "--address", "127.0.0.128", "--only", "smtp",
                 dns=no_dns, command="check")
    finding = masked.finding("smtp.port25.masked")
    assert finding["severity"] == "unknown" and "XXXXXXXA" in finding["summary"]
    assert masked.finding("smtp.starttls.not_offered")["severity"] == "unknown"
    plain = run("mail.example.test", "--address", "127.0.0.129", "--only", "smtp",
                dns=no_dns, command="check")
    assert "smtp.port25.masked" not in plain.ids
    assert plain.finding("smtp.starttls.not_offered")["severity"] == "fail"


def test_port25_unlike_its_siblings_is_a_sign_of_interception(
    run: Run, no_dns: FakeDNS, pki: TestPKI, servers: list[RunningServer]
) -> None:
    address = "127.0.0.130"
    proxy = _start(servers, start_smtp, pki, host=address, port=25, cert="self_signed",
                   server_name="relay.isp.example")
    submission = _start(servers, start_smtp, pki, host=address)
    r = run("mail.example.test", "--address", address, "--only", "smtp", "--service",
            f"submission={submission.port}", dns=no_dns, command="check")
    finding = r.finding("smtp.port25.intercepted")
    assert finding["severity"] == "warn" and finding["endpoint"] == f"{address}:25"
    assert "relay.isp.example" in finding["summary"] and "issuer differ" in finding["summary"]
    proxy.stop()
    renamed = _start(servers, start_smtp, pki, host=address, port=25,
                     server_name="relay.isp.example")
    one_sign = run("mail.example.test", "--address", address, "--only", "smtp", "--service",
                   f"submission={submission.port}", dns=no_dns, command="check")
    assert one_sign.finding("smtp.port25.intercepted")["severity"] == "info"
    renamed.stop()
    _start(servers, start_smtp, pki, host=address, port=25)
    same = run("mail.example.test", "--address", address, "--only", "smtp", "--service",
               f"submission={submission.port}", dns=no_dns, command="check")
    assert "smtp.port25.intercepted" not in same.ids

"""Open, refused, filtered, unresolved: kept apart, never a traceback, the right exit code."""

from __future__ import annotations

import asyncio
import shutil
import socket
import subprocess
import sys
import time
from typing import Any

import pytest

from mailtls.model import SERVICES, PortState
from mailtls.model.options import ScanOptions
from mailtls.net.stream import Timeouts
from mailtls.scan.host import PlannedService, ScanRequest, scan
from mailtls.testing import TestPKI, start_smtp
from tests.netsim import syn_dropping_port


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_requested_port_refused_is_could_not_test(mailtls: Any) -> None:
    run = mailtls(f"submission={_free_port()}")
    assert run.endpoints[0]["state"] == "refused"
    finding = run.finding("port.refused")
    assert finding["severity"] == "unknown"
    assert "host.no_open_port" in run.ids
    assert run.code == 3


def test_requested_port_filtered(mailtls: Any, filtered_port: int) -> None:
    started = time.monotonic()
    run = mailtls(f"imaps={filtered_port}")
    assert time.monotonic() - started < 10
    assert run.endpoints[0]["state"] == "filtered"
    assert run.finding("port.filtered")["severity"] == "unknown"
    assert run.code == 3


def _plan(*pairs: tuple[str, int]) -> tuple[PlannedService, ...]:
    return tuple(PlannedService(SERVICES[name], port, False) for name, port in pairs)


def test_closed_port_of_the_default_plan_is_information(pki: TestPKI) -> None:
    with start_smtp(pki, implicit_tls=True) as server:
        request = ScanRequest(hosts=("mail.example.test",), addresses=("127.0.0.1",),
                              plan=_plan(("submissions", server.port), ("pop3", _free_port())),
                              options=ScanOptions(ca_file=pki.ca_file(), timeouts=Timeouts(2, 3, 3),
                                                  timeout=10))
        report = asyncio.run(scan(request))
    (finding,) = [f for f in report.findings if f.id == "port.refused"]
    assert finding.severity.label == "info"
    assert {f.id for f in report.findings} == {"port.refused"}


def test_port_25_timeout_while_other_ports_answer_is_diagnosed(pki: TestPKI) -> None:
    """The ISP block of outbound 25, simulated honestly on a loopback address of its own: its
    port 25 drops SYNs (a full accept queue) while submission on the same address answers."""
    address = "127.0.0.25"
    with syn_dropping_port(address, 25), start_smtp(pki, host=address) as submission:
        request = ScanRequest(hosts=("mail.example.test",), addresses=(address,),
                              plan=_plan(("smtp", 25), ("submission", submission.port)),
                              options=ScanOptions(ca_file=pki.ca_file(),
                                                  timeouts=Timeouts(1.5, 3, 3), timeout=10))
        report = asyncio.run(scan(request))
        alone = asyncio.run(scan(ScanRequest(
            hosts=("mail.example.test",), addresses=(address,), plan=_plan(("smtp", 25)),
            options=ScanOptions(timeouts=Timeouts(1.5, 3, 3), timeout=10))))
    states = {o.endpoint.service.name: o.state for o in report.hosts[0].observations}
    assert states == {"smtp": PortState.FILTERED, "submission": PortState.OPEN}
    ids = [f.id for f in report.findings]
    assert ids == ["smtp.port25.blocked_from_here"]
    assert "probably blocked from this network" in report.findings[0].summary
    assert [f.id for f in alone.findings] == ["port.filtered", "host.no_open_port"]


def test_every_address_of_a_name_is_checked(pki: TestPKI, mailtls: Any) -> None:
    with start_smtp(pki, implicit_tls=True) as server:
        run = mailtls(f"submissions={server.port}", host="localhost",
                      extra=("--address", "127.0.0.1", "--address", "127.0.0.2"))
    assert [e["address"] for e in run.endpoints] == ["127.0.0.1", "127.0.0.2"]
    states = {e["address"]: e["state"] for e in run.endpoints}
    assert states == {"127.0.0.1": "open", "127.0.0.2": "refused"}


def test_resolution_of_localhost_without_address(pki: TestPKI, capsys: Any) -> None:
    from mailtls.cli.app import main

    with start_smtp(pki, implicit_tls=True) as server:
        code = main(["check", "localhost", "--service", f"submissions={server.port}",
                     "--ca-file", pki.ca_file(), "--format", "json"])
    out = capsys.readouterr().out
    assert '"addresses": [\n        "127.0.0.1"' in out
    assert code == 0


@pytest.mark.skipif(shutil.which("unshare") is None, reason="needs unshare(1)")
def test_unresolvable_name_in_an_isolated_network_namespace() -> None:
    """No DNS query may leave this machine: resolve inside an empty network namespace."""
    probe = subprocess.run(["unshare", "-n", "true"], capture_output=True)
    if probe.returncode != 0:
        pytest.skip("cannot create a network namespace here")
    result = subprocess.run(
        ["unshare", "-n", sys.executable, "-m", "mailtls", "check", "no-such-host.invalid",
         "--format", "json", "--timeout", "10"],
        capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 3, result.stderr
    assert '"host.unresolved"' in result.stdout
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    "argv",
    [
        ["check", ""],
        ["check", "mail.example.test", "--service", "submission=0"],
        ["check", "mail.example.test", "--service", "submission=70000"],
        ["check", "mail.example.test", "--service", "submission=abc"],
        ["check", "mail.example.test", "--service", "nosuch=25"],
        ["check", "mail.example.test", "--only", "smtp,bogus"],
        ["check", "http://mail.example.test/"],
        ["check", "a" * 300],
        ["check", "mail.example.test", "--timeout", "-1"],
        ["check", "mail.example.test", "--ca-file", "/nonexistent/ca.pem"],
        ["check"],
        ["nosuchcommand"],
        [],
    ],
)
def test_bad_input_is_one_line_and_exit_3(argv: list[str]) -> None:
    result = subprocess.run([sys.executable, "-m", "mailtls", *argv], capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 3, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    if argv:
        assert len(result.stderr.strip().splitlines()) <= 3  # argparse may print usage first
        assert "error" in result.stderr

"""Fixtures of the mail-domain tests: a PKI whose certificate names the test domain's hosts, a
loopback DNS server per test (every DNS question goes there: --resolver), a well-run site of
loopback servers (two MX hosts, submissions, IMAPS, an MTA-STS web server) and a runner.

No test reaches beyond loopback: names are under .test, every run passes --resolver, and the
DNS server refuses names outside its zones.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from mailtls.testing import TestPKI, start_imap, start_smtp
from tests.cli_runner import run_cli
from tests.domain.domain_dns import FakeDNS
from tests.domain.domain_helpers import (
    MX1,
    MX2,
    NAMES,
    STS,
    DomainRun,
    PolicyResponse,
    Site,
    free_port_on,
    start_policy_server,
)


@pytest.fixture(scope="session")
def pki() -> Iterator[TestPKI]:
    with TestPKI(NAMES) as p:
        yield p


@pytest.fixture
def make_dns() -> Iterator[Callable[..., FakeDNS]]:
    servers: list[FakeDNS] = []

    def make(*zones: str, **options: object) -> FakeDNS:
        server = FakeDNS(*zones, **options).start()  # type: ignore[arg-type]
        servers.append(server)
        return server

    yield make
    for server in servers:
        server.stop()


@pytest.fixture(scope="session")
def site(pki: TestPKI) -> Iterator[Site]:
    port = free_port_on(MX1, MX2)
    servers = (
        start_smtp(pki, host=MX1, port=port, server_name="mx1.example.test"),
        start_smtp(pki, host=MX2, port=port, server_name="mx2.example.test"),
        start_smtp(pki, implicit_tls=True),
        start_imap(pki, implicit_tls=True),
    )
    policy = start_policy_server(pki, STS)
    yield Site(pki, *servers, policy)
    for s in (*servers, policy.server):
        s.stop()


@pytest.fixture
def good_site(site: Site) -> Site:
    site.policy.response = PolicyResponse()
    return site


@pytest.fixture
def run(capsys: pytest.CaptureFixture[str], pki: TestPKI) -> Callable[..., DomainRun]:
    """``mailtls ARGS`` in-process, JSON, --quick, the test CA, the given loopback resolver."""

    def go(*args: str, dns: FakeDNS, command: str = "domain", json_out: bool = True,
           quick: bool = True) -> DomainRun:
        # the defaults first, so that a test's own options win
        argv = [command, "--resolver", dns.address, "--ca-file", pki.ca_file(),
                "--timeout", "20", "--connect-timeout", "2", "--read-timeout", "3",
                "--handshake-timeout", "3", "--dns-timeout", "2", *args]
        if quick:
            argv.append("--quick")
        if json_out:
            argv += ["--format", "json"]
        return run_cli(capsys, argv, DomainRun)

    return go

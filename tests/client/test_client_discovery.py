"""``mailtls client ADDRESS``: discovery as clients do it - autoconfig over HTTPS, the
.well-known URL, MX-based autoconfig, SRV records, Thunderbird's guesses - against a loopback
DNS server (--resolver) and a loopback HTTPS server (--https-port); nothing leaves loopback."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from importlib import resources
from typing import Any

import jsonschema
import pytest

from mailtls.testing import TestPKI, start_imap, start_smtp
from tests.cli_runner import Run
from tests.client.client_helpers import ADDRESS, DOMAIN, WebServer, autoconfig_xml, start_web, zone
from tests.domain.domain_dns import FakeDNS

SCHEMA = json.loads(resources.files("mailtls").joinpath("schema/report-1.json").read_text())
MAIL = f"mail.{DOMAIN}"
Cli = Callable[..., Run]


class Mail:
    def __init__(self, pki: TestPKI) -> None:
        self.smtp = start_smtp(pki)
        self.smtps = start_smtp(pki, implicit_tls=True)
        self.imap = start_imap(pki)
        self.imaps = start_imap(pki, implicit_tls=True)

    def ports(self) -> tuple[str, ...]:
        return ("--service", f"submission={self.smtp.port}",
                "--service", f"submissions={self.smtps.port}",
                "--service", f"imap={self.imap.port}", "--service", f"imaps={self.imaps.port}",
                "--service", "pop3=1", "--service", "pop3s=1")

    def stop(self) -> None:
        for s in (self.smtp, self.smtps, self.imap, self.imaps):
            s.stop()


@pytest.fixture
def mail(client_pki: TestPKI) -> Iterator[Mail]:
    m = Mail(client_pki)
    yield m
    m.stop()


@pytest.fixture
def web(client_pki: TestPKI) -> Iterator[WebServer]:
    w = start_web(client_pki)
    yield w
    w.stop()


def _dns(*records: str, extra: tuple[str, ...] = ()) -> FakeDNS:
    return FakeDNS(zone(DOMAIN, *records), *extra).start()


def _steps(run: Run) -> dict[str, dict[str, Any]]:
    return {s["method"]: s for s in run.client["discovery"]}


def _pick(run: Run, client: str, role: str) -> dict[str, Any]:
    found: list[dict[str, Any]] = [p for p in run.client["picks"]
                                   if p["client"].startswith(client) and p["role"] == role]
    assert found, (client, role)
    return found[0]


def test_autoconfig_srv_and_what_each_client_picks(
    mail: Mail, web: WebServer, client_cli: Cli
) -> None:
    web.routes[(f"autoconfig.{DOMAIN}", "/mail/config-v1.1.xml")] = (200, autoconfig_xml(
        ("incoming", "imap", MAIL, mail.imaps.port, "SSL"),
        ("outgoing", "smtp", MAIL, mail.smtp.port, "STARTTLS"),
    ))
    dns = _dns(
        "autoconfig IN A 127.0.0.1", "@ IN A 127.0.0.1", "mail IN A 127.0.0.1",
        "@ IN MX 10 mail",
        f"_imaps._tcp IN SRV 0 1 {mail.imaps.port} mail",
        f"_submissions._tcp IN SRV 0 1 {mail.smtps.port} mail",
        "_pop3._tcp IN SRV 0 0 0 .",
    )
    try:
        run = client_cli(ADDRESS, "--resolver", dns.address, "--https-port", str(web.port),
                         *mail.ports())
        text = client_cli(ADDRESS, "--resolver", dns.address, "--https-port", str(web.port),
                          *mail.ports(), json_out=False)
    finally:
        dns.stop()
    jsonschema.validate(run.report, SCHEMA)
    steps = _steps(run)
    assert steps["autoconfig"]["outcome"] == "found"
    assert steps["autoconfig-well-known"]["outcome"] == "not_found"
    assert steps["mx-autoconfig"]["outcome"] == "skipped"  # the MX is in the domain itself
    assert steps["srv"]["outcome"] == "found"
    assert steps["guess"]["outcome"] == "skipped"
    # autoconfig and .well-known asked with the address, as Thunderbird does
    assert (f"autoconfig.{DOMAIN}", f"/mail/config-v1.1.xml?emailaddress={ADDRESS}") in \
        web.requests
    assert (DOMAIN, f"/.well-known/autoconfig/mail/config-v1.1.xml?emailaddress={ADDRESS}") in \
        web.requests
    thunderbird = _pick(run, "Thunderbird", "outgoing")
    assert thunderbird["setting"]["port"] == mail.smtp.port and thunderbird["secure"] is True
    srv = _pick(run, "RFC 6186", "outgoing")
    assert srv["setting"]["port"] == mail.smtps.port and srv["secure"] is True
    assert _pick(run, "Thunderbird", "incoming")["setting"]["port"] == mail.imaps.port
    recommended = {r["setting"]["role"]: r["setting"] for r in run.client["recommended"]}
    assert recommended["outgoing"]["socket"] == "ssl"
    assert recommended["outgoing"]["port"] == mail.smtps.port
    assert "client.better_available" in run.client_ids
    assert run.code == 0, [(f["id"], f["summary"]) for f in run.findings
                           if f["severity"] != "info"]
    assert "what each client would set up" in text.out and "discovery" in text.out


def test_untrusted_autoconfig_then_thunderbirds_guess(
    client_pki: TestPKI, mail: Mail, client_cli: Cli
) -> None:
    web = start_web(client_pki, kind="self_signed")
    web.routes[(f"autoconfig.{DOMAIN}", "/mail/config-v1.1.xml")] = (200, autoconfig_xml(
        ("incoming", "imap", MAIL, mail.imap.port, "plain"),
    ))
    dns = _dns("autoconfig IN A 127.0.0.1", "mail IN A 127.0.0.1")
    try:
        run = client_cli(ADDRESS, "--resolver", dns.address, "--https-port", str(web.port),
                         *mail.ports())
    finally:
        dns.stop()
        web.stop()
    steps = _steps(run)
    assert steps["autoconfig"]["outcome"] == "untrusted"
    assert steps["autoconfig"]["settings"] == []  # never used
    assert steps["autoconfig-well-known"]["outcome"] == "not_found"  # client.test: no A
    assert steps["guess"]["outcome"] == "found"
    assert "client.autoconfig.untrusted" in run.client_ids
    pick = _pick(run, "Thunderbird", "incoming")
    assert pick["setting"]["host"] == MAIL and pick["setting"]["socket"] == "ssl"
    assert pick["secure"] is True and pick["note"].startswith("from guess")
    assert _pick(run, "Thunderbird", "outgoing")["setting"]["socket"] == "ssl"
    assert _pick(run, "Thunderbird for Android", "incoming")["setting"] is None


def test_mx_based_autoconfig_and_an_insecure_pick(
    mail: Mail, web: WebServer, client_cli: Cli
) -> None:
    web.routes[("autoconfig.mxhost.test", "/mail/config-v1.1.xml")] = (200, autoconfig_xml(
        ("incoming", "imap", MAIL, mail.imap.port, "plain"),
        ("outgoing", "smtp", MAIL, mail.smtps.port, "SSL"),
        domain="mxhost.test",
    ))
    dns = FakeDNS(
        zone(DOMAIN, "@ IN MX 10 mx1.mxhost.test.", "mail IN A 127.0.0.1"),
        zone("mxhost.test", "autoconfig IN A 127.0.0.1", "mx1 IN A 127.0.0.1"),
    ).start()
    try:
        run = client_cli(ADDRESS, "--resolver", dns.address, "--https-port", str(web.port),
                         *mail.ports())
    finally:
        dns.stop()
    mx_steps = [s for s in run.client["discovery"] if s["method"] == "mx-autoconfig"]
    assert [s["outcome"] for s in mx_steps] == ["found"]  # mxhost.test: one derived domain
    assert "autoconfig.mxhost.test" in mx_steps[0]["target"]
    pick = _pick(run, "Thunderbird", "incoming")
    assert pick["setting"]["socket"] == "plain" and pick["secure"] is False
    assert {"client.pick.insecure", "client.plaintext.tls_available"} <= run.client_ids
    # a provider's config found through the MX need not list the hosted domain
    assert "client.autoconfig.domain_missing" not in run.client_ids
    assert run.code == 2


def test_nothing_found_is_could_not_test(client_cli: Cli) -> None:
    dns = _dns()
    try:
        run = client_cli(ADDRESS, "--resolver", dns.address, "--https-port", "1")
    finally:
        dns.stop()
    assert run.code == 3
    assert "client.discovery.nothing_found" in run.client_ids
    assert {s["outcome"] for s in run.client["discovery"]} <= {"not_found", "skipped"}
    assert run.report["hosts"] == []

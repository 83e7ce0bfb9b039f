"""``mailtls client --config FILE``: every server, port and socket type of a configuration the
user has is checked against loopback servers; mismatches are client.* findings."""

from __future__ import annotations

import json
import plistlib
from collections.abc import Callable
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema

from mailtls.testing import PASSWORD, TestPKI, start_imap, start_pop3, start_smtp
from tests.cli_runner import Run
from tests.client.client_helpers import ADDRESS, DOMAIN, assert_no_secret, autoconfig_xml

SCHEMA = json.loads(resources.files("mailtls").joinpath("schema/report-1.json").read_text())
MAIL = f"mail.{DOMAIN}"
Cli = Callable[..., Run]


class Site:
    """Submission (587-like), submissions, IMAP, IMAPS and a plaintext-only POP3."""

    def __init__(self, pki: TestPKI) -> None:
        self.smtp = start_smtp(pki)
        self.smtps = start_smtp(pki, implicit_tls=True)
        self.imap = start_imap(pki)
        self.imaps = start_imap(pki, implicit_tls=True)
        self.pop3 = start_pop3(pki, starttls=False, user_before_tls=True)
        self.servers = (self.smtp, self.smtps, self.imap, self.imaps, self.pop3)

    def ports(self) -> tuple[str, ...]:
        """--service overrides: where the standard services of this site are."""
        out = ("--address", "127.0.0.1",
               "--service", f"submission={self.smtp.port}",
               "--service", f"submissions={self.smtps.port}",
               "--service", f"imap={self.imap.port}", "--service", f"imaps={self.imaps.port}",
               "--service", f"pop3={self.pop3.port}")
        return out

    def stop(self) -> None:
        for s in self.servers:
            s.stop()


def _by(run: Run, host: str, port: int) -> dict[str, Any]:
    found: list[dict[str, Any]] = [r for r in run.client["settings"]
                                   if r["setting"]["host"] == host and r["setting"]["port"] == port]
    assert found, (host, port)
    return found[0]


def test_autoconfig_file_mismatches(client_pki: TestPKI, client_cli: Cli, tmp_path: Path) -> None:
    site = Site(client_pki)
    try:
        config = tmp_path / "config-v1.1.xml"
        config.write_bytes(autoconfig_xml(
            ("incoming", "imap", MAIL, site.imaps.port, "STARTTLS"),  # STARTTLS on "993"
            ("incoming", "imap", MAIL, site.imap.port, "plain"),  # plaintext, TLS available
            ("incoming", "pop3", MAIL, site.pop3.port, "plain"),  # plaintext, none available
            ("outgoing", "smtp", MAIL, site.smtp.port, "SSL"),  # SSL on "587"
            ("outgoing", "smtp", MAIL, site.smtps.port, "SSL"),  # right
        ))
        run = client_cli(ADDRESS, "--config", str(config), *site.ports(), "--service", "pop3s=1")
    finally:
        site.stop()
    jsonschema.validate(run.report, SCHEMA)
    assert run.code == 2
    assert run.client["config_kind"] == "autoconfig"
    ids = run.client_ids
    assert {"client.starttls_on_implicit_port", "client.plaintext.tls_available",
            "client.plaintext", "client.ssl_on_starttls_port"} <= ids
    assert "client.setting.broken" not in ids
    good = _by(run, MAIL, site.smtps.port)
    assert good["works"] and good["secure"] and good["verdict"].startswith("works: SSL/TLS")
    assert not _by(run, MAIL, site.imaps.port)["works"]
    plain = run.client_finding("client.plaintext.tls_available")
    assert str(site.imap.port) in plain["summary"]
    recommended = {r["setting"]["role"]: r["setting"] for r in run.client["recommended"]}
    assert recommended["incoming"]["port"] == site.imaps.port
    assert recommended["incoming"]["socket"] == "ssl"
    assert recommended["incoming"]["username"] == ADDRESS
    assert recommended["outgoing"]["port"] == site.smtps.port
    # the client findings count in the summary and the exit code
    assert run.report["summary"]["findings"]["fail"] >= 4


def test_prefs_js_with_try_starttls_and_text_table(
    client_pki: TestPKI, client_cli: Cli, tmp_path: Path
) -> None:
    site = Site(client_pki)
    try:
        prefs = tmp_path / "prefs.js"
        prefs.write_text("\n".join([
            'user_pref("mail.accountmanager.accounts", "account1");',
            'user_pref("mail.account.account1.server", "server1");',
            f'user_pref("mail.server.server1.hostname", "{MAIL}");',
            'user_pref("mail.server.server1.type", "imap");',
            f'user_pref("mail.server.server1.port", {site.imap.port});',
            'user_pref("mail.server.server1.socketType", 2);',
            f'user_pref("mail.smtpserver.smtp1.hostname", "{MAIL}");',
            f'user_pref("mail.smtpserver.smtp1.port", {site.smtp.port});',
            'user_pref("mail.smtpserver.smtp1.try_ssl", 1);',
        ]))
        run = client_cli("--config", str(prefs), *site.ports(), json_out=False)
        data = client_cli("--config", str(prefs), *site.ports())
    finally:
        site.stop()
    assert run.code == 2
    assert "client.starttls.not_required" in run.out
    assert "client.better_available" in run.out  # STARTTLS works, implicit TLS too
    assert "most secure configuration that works" in run.out
    assert "SSL/TLS" in run.out and str(site.imaps.port) in run.out
    imap = _by(data, MAIL, site.imap.port)
    assert imap["works"] and imap["secure"] and imap["setting"]["socket"] == "starttls"
    assert data.client_finding("client.starttls.not_required")["severity"] == "fail"


def test_mobileconfig_password_and_unset_port(
    client_pki: TestPKI, client_cli: Cli, tmp_path: Path
) -> None:
    site = Site(client_pki)
    try:
        profile = {
            "PayloadType": "Configuration",
            "PayloadContent": [{
                "PayloadType": "com.apple.mail.managed",
                "PayloadDisplayName": "Test mail",
                "EmailAccountType": "EmailTypeIMAP",
                "EmailAddress": ADDRESS,
                "IncomingMailServerHostName": MAIL,
                "IncomingMailServerPortNumber": site.imaps.port,
                "IncomingMailServerUseSSL": True,
                "IncomingMailServerAuthentication": "EmailAuthPassword",
                "IncomingPassword": "profile-secret-Zq9",
                "OutgoingMailServerHostName": MAIL,
                "OutgoingMailServerUseSSL": True,
                "OutgoingMailServerAuthentication": "EmailAuthPassword",
            }],
        }
        path = tmp_path / "mail.mobileconfig"
        path.write_bytes(plistlib.dumps(profile))
        run = client_cli("--config", str(path), *site.ports())
        text = client_cli("--config", str(path), *site.ports(), json_out=False)
    finally:
        site.stop()
    jsonschema.validate(run.report, SCHEMA)
    assert run.client["config_kind"] == "mobileconfig"
    assert {"client.profile.password_stored", "client.profile.outgoing_port_unset"} <= \
        run.client_ids
    assert _by(run, MAIL, site.imaps.port)["secure"]
    for r in (run, text):
        assert "profile-secret-Zq9" not in r.out and "profile-secret-Zq9" not in r.err
    # 25, 587, 465 tried, none of them open here: the outgoing server does not work
    outgoing = [r for r in run.client["settings"] if r["setting"]["role"] == "outgoing"]
    assert [r["setting"]["port"] for r in outgoing] == [25, 587, 465]


def test_login_through_a_config_file(
    client_pki: TestPKI, client_cli: Cli, tmp_path: Path
) -> None:
    site = Site(client_pki)
    try:
        config = tmp_path / "c.xml"
        config.write_bytes(autoconfig_xml(
            ("incoming", "imap", MAIL, site.imaps.port, "SSL"),
            ("outgoing", "smtp", MAIL, site.smtps.port, "SSL"),
        ))
        run = client_cli(ADDRESS, "--config", str(config), *site.ports(), "--user", "user",
                         "-v", password=PASSWORD)
    finally:
        site.stop()
    logins = {r["setting"]["port"]: r["login"] for r in run.client["settings"]}
    assert logins[site.imaps.port] == "succeeded" and logins[site.smtps.port] == "succeeded"
    assert site.pop3.credentials == []
    assert_no_secret(run.out, run.err)


def test_bad_config_file_is_a_usage_error(client_cli: Cli, tmp_path: Path) -> None:
    bad = tmp_path / "broken.xml"
    bad.write_text("<clientConfig><emailProvider>")
    run = client_cli("--config", str(bad))
    assert run.code == 3 and "not well-formed" in run.err
    missing = client_cli("--config", str(tmp_path / "nope.xml"))
    assert missing.code == 3 and "no such file" in missing.err
    neither = client_cli()
    assert neither.code == 3 and "--config" in neither.err
    not_address = client_cli("example.com")
    assert not_address.code == 3 and "e-mail address" in not_address.err


def test_configured_authentication_must_be_offered(
    client_pki: TestPKI, client_cli: Cli, tmp_path: Path
) -> None:
    """OAuth2 configured, the server offers PLAIN/LOGIN only: client.auth.not_offered;
    "no authentication" on the outgoing server: client.auth.none."""
    with start_smtp(client_pki, implicit_tls=True) as smtps, \
            start_imap(client_pki, implicit_tls=True) as imaps:
        config = tmp_path / "auth.xml"
        config.write_text(
            '<clientConfig version="1.1"><emailProvider id="client.test">'
            f'<incomingServer type="imap"><hostname>{MAIL}</hostname><port>{imaps.port}</port>'
            "<socketType>SSL</socketType><authentication>OAuth2</authentication>"
            "</incomingServer>"
            f'<outgoingServer type="smtp"><hostname>{MAIL}</hostname><port>{smtps.port}</port>'
            "<socketType>SSL</socketType><authentication>none</authentication>"
            "</outgoingServer></emailProvider></clientConfig>")
        run = client_cli("--config", str(config), "--address", "127.0.0.1",
                         "--service", f"imaps={imaps.port}", "--service", "imap=1",
                         "--service", f"submissions={smtps.port}", "--service", "submission=1")
    not_offered = run.client_finding("client.auth.not_offered")
    assert "OAuth2" in not_offered["summary"] and "PLAIN" in not_offered["summary"]
    assert run.client_finding("client.auth.none")["severity"] == "warn"

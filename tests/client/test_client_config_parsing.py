"""The pure parsers of mailtls.formats.clientconfig: autoconfig XML, Thunderbird prefs.js, Apple
.mobileconfig (plain and CMS-signed), against the sample files in fixtures/clientconfig/."""

from __future__ import annotations

import plistlib
from pathlib import Path

import pytest

from mailtls.formats.clientconfig import ConfigError, parse_config, service_for
from mailtls.model import Protocol, SocketType
from tests.profile_signing import sign_profile

FIXTURES = Path(__file__).parents[2] / "fixtures" / "clientconfig"


def _table(parsed: object) -> list[tuple[str, str, str, int, str]]:
    return [(s.role, s.protocol.value, s.host, s.port, s.socket.value)
            for s in parsed.settings]  # type: ignore[attr-defined]


def test_autoconfig_sample_with_placeholders() -> None:
    data = (FIXTURES / "config-v1.1.xml").read_bytes()
    parsed = parse_config(data, "config-v1.1.xml", "jane@example.com")
    assert parsed.kind == "autoconfig"
    assert parsed.domains == ("example.com",)
    assert _table(parsed) == [
        ("incoming", "imap", "imap.example.com", 993, "ssl"),
        ("incoming", "pop3", "pop.example.com", 995, "starttls"),
        ("outgoing", "smtp", "smtp.example.com", 587, "ssl"),
    ]
    imap, pop, smtp = parsed.settings
    assert imap.username == "jane@example.com" and pop.username == "jane"
    assert smtp.authentication == ("OAuth2", "password-cleartext")
    assert [s.priority for s in parsed.settings] == [1, 2, 4]
    assert any("exchange" in n for n in parsed.notes)


@pytest.mark.parametrize(("data", "message"), [
    (b"<clientConfig><emailProvider>", "not well-formed"),
    (b"<html><body>hello</body></html>", "<html>"),
    (b"<clientConfig version='1.1'/>", "no <emailProvider>"),
    (b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]><clientConfig/>', "DOCTYPE"),
    (b"<clientConfig><emailProvider><incomingServer type='imap'><hostname>x</hostname>"
     b"<socketType>Magic</socketType></incomingServer></emailProvider></clientConfig>",
     "no usable"),
])
def test_autoconfig_refuses_what_clients_ignore(data: bytes, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_config(data, "x.xml")


def test_prefs_js_sample() -> None:
    data = (FIXTURES / "prefs.js").read_bytes()
    parsed = parse_config(data, "prefs.js")
    assert parsed.kind == "prefs.js"
    # server2 (Local Folders) is not mail; server9 belongs to no account any more
    assert _table(parsed) == [
        ("incoming", "imap", "imap.example.com", 993, "ssl"),
        ("incoming", "pop3", "pop.legacy.example", 110, "plain"),
        ("outgoing", "smtp", "smtp.example.com", 587, "starttls"),
        ("outgoing", "smtp", "smtp.legacy.example", 465, "try_starttls"),
    ]
    imap = parsed.settings[0]
    assert imap.configured == "socketType=3" and imap.authentication == ("password-cleartext",)
    assert imap.source == "prefs.js mail.server.server1" and imap.username == "jane@example.com"


def test_prefs_js_default_port_and_socket() -> None:
    text = (b'user_pref("mail.server.server1.hostname", "mail.example.org");\n'
            b'user_pref("mail.server.server1.type", "imap");\n'
            b'user_pref("mail.server.server1.socketType", 3);\n'
            b'user_pref("mail.smtpserver.smtp1.hostname", "mail.example.org");\n')
    parsed = parse_config(text, "prefs.js")
    assert _table(parsed) == [("incoming", "imap", "mail.example.org", 993, "ssl"),
                              ("outgoing", "smtp", "mail.example.org", 587, "plain")]


def test_mobileconfig_sample_never_keeps_the_password() -> None:
    data = (FIXTURES / "example.mobileconfig").read_bytes()
    parsed = parse_config(data, "example.mobileconfig")
    assert parsed.kind == "mobileconfig" and not parsed.signed
    assert parsed.address == "jane@example.com"
    # the outgoing port is unset: Apple tries 25, 587, 465, with UseSSL as STARTTLS/implicit
    assert _table(parsed) == [
        ("incoming", "imap", "imap.example.com", 993, "ssl"),
        ("outgoing", "smtp", "smtp.example.com", 25, "starttls"),
        ("outgoing", "smtp", "smtp.example.com", 587, "starttls"),
        ("outgoing", "smtp", "smtp.example.com", 465, "ssl"),
    ]
    assert parsed.unset_outgoing_port
    assert len(parsed.stored_passwords) == 1 and "IncomingPassword" in parsed.stored_passwords[0]
    assert "hunter2" not in repr(parsed)


@pytest.mark.parametrize("form", ["xml", "binary"])
def test_signed_mobileconfig_is_read(form: str) -> None:
    profile = {
        "PayloadType": "Configuration",
        "PayloadContent": [{
            "PayloadType": "com.apple.mail.managed",
            "EmailAccountType": "EmailTypePOP",
            "IncomingMailServerHostName": "pop.example.net",
            "IncomingMailServerUseSSL": False,
            "OutgoingMailServerHostName": "smtp.example.net",
            "OutgoingMailServerPortNumber": 587,
            "OutgoingMailServerUseSSL": True,
            "OutgoingMailServerAuthentication": "EmailAuthNone",
        }],
    }
    fmt = plistlib.FMT_XML if form == "xml" else plistlib.FMT_BINARY
    data = sign_profile(plistlib.dumps(profile, fmt=fmt))
    parsed = parse_config(data, "signed.mobileconfig")
    assert parsed.signed
    assert _table(parsed) == [("incoming", "pop3", "pop.example.net", 110, "plain"),
                              ("outgoing", "smtp", "smtp.example.net", 587, "starttls")]
    assert parsed.settings[1].authentication == ("EmailAuthNone",)


def test_unknown_files_are_a_usage_error() -> None:
    with pytest.raises(ConfigError):
        parse_config(b"just some text", "notes.txt")
    with pytest.raises(ConfigError, match="e-mail"):
        parse_config(plistlib.dumps({"PayloadType": "Configuration", "PayloadContent": []}),
                     "empty.mobileconfig")


def test_service_for_each_socket() -> None:
    assert service_for(Protocol.IMAP, SocketType.SSL).name == "imaps"
    assert service_for(Protocol.IMAP, SocketType.PLAIN).name == "imap"
    assert service_for(Protocol.SMTP, SocketType.TRY_STARTTLS).name == "submission"
    assert service_for(Protocol.POP3, SocketType.SSL).name == "pop3s"

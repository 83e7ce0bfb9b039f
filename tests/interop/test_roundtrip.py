"""``mailtls client ADDRESS --round-trip`` end to end against the real Postfix + Dovecot of the
``delivery`` profile (127.0.0.30): submitted with AUTH inside verified TLS, delivered by Postfix
over LMTP into Dovecot, found over IMAP (or POP3) and deleted; a message that cannot arrive is
a CRITICAL finding after the round-trip timeout, not a hang."""

from __future__ import annotations

import imaplib
import json
import ssl
import time
from collections.abc import Iterator
from importlib import resources
from pathlib import Path

import jsonschema
import pytest

from tests.cli_runner import cli_output
from tests.interop.interop_servers import (
    DELIVERY,
    HOST,
    LMTP_PROGRAM,
    PASSWORD,
    USER,
    MailServer,
    running,
)

SCHEMA = json.loads(resources.files("mailtls").joinpath("schema/report-1.json").read_text())

AUTOCONFIG = """<?xml version="1.0" encoding="UTF-8"?>
<clientConfig version="1.1">
  <emailProvider id="example.test">
    <domain>example.test</domain>
    <incomingServer type="{incoming}">
      <hostname>{host}</hostname>
      <port>{in_port}</port>
      <socketType>SSL</socketType>
      <username>%EMAILLOCALPART%</username>
      <authentication>password-cleartext</authentication>
    </incomingServer>
    <outgoingServer type="smtp">
      <hostname>{host}</hostname>
      <port>{out_port}</port>
      <socketType>{out_socket}</socketType>
      <username>%EMAILLOCALPART%</username>
      <authentication>password-cleartext</authentication>
    </outgoingServer>
  </emailProvider>
</clientConfig>
"""


@pytest.fixture(scope="module")
def delivery(interop_available: None) -> Iterator[tuple[str, MailServer]]:
    if not LMTP_PROGRAM.exists():
        pytest.skip("dovecot-lmtpd is not installed (scripts/install-interop)")
    with running([DELIVERY]) as (pki, servers):
        yield str(pki.ca_file), servers[DELIVERY.name]


def _config(tmp_path: Path, *, incoming: str = "imap", in_port: int = 993,
            out_port: int = 465, out_socket: str = "SSL") -> str:
    path = tmp_path / "config-v1.1.xml"
    path.write_text(AUTOCONFIG.format(incoming=incoming, host=HOST, in_port=in_port,
                                      out_port=out_port, out_socket=out_socket))
    return str(path)


def _round_trip(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
                ca: str, config: str, address: str, *extra: str) -> tuple[int, str, str]:
    monkeypatch.setenv("MAILTLS_PASSWORD", PASSWORD)
    return cli_output(capsys, "client", address, "--config", config, "--address",
                      DELIVERY.address, "--ca-file", ca, "--user", USER, "--round-trip",
                      "--timeout", "30", *extra)


def _inbox_count(ca: str) -> int:
    ctx = ssl.create_default_context(cafile=ca)
    ctx.check_hostname = False  # connected by address; the name is checked by the tests above
    with imaplib.IMAP4_SSL(DELIVERY.address, 993, ssl_context=ctx) as imap:
        imap.login(USER, PASSWORD)
        _, data = imap.select("INBOX")
        return int(data[0] or 0)


@pytest.mark.parametrize(("incoming", "in_port", "out_port", "out_socket"), [
    ("imap", 993, 465, "SSL"),
    ("pop3", 995, 587, "STARTTLS"),
])
def test_round_trip_delivers_and_deletes(
    delivery: tuple[str, MailServer], tmp_path: Path, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch, incoming: str, in_port: int, out_port: int,
    out_socket: str,
) -> None:
    ca, server = delivery
    config = _config(tmp_path, incoming=incoming, in_port=in_port, out_port=out_port,
                     out_socket=out_socket)
    started = time.monotonic()
    code, out, err = _round_trip(capsys, monkeypatch, ca, config, f"{USER}@example.test",
                                 "--round-trip-timeout", "20", "--format", "json")
    wall = time.monotonic() - started
    assert out, err
    doc = json.loads(out)
    jsonschema.validate(doc, SCHEMA)
    rt = doc["client"]["round_trip"]
    assert rt["delivered"] is True, (rt, server.logs())
    assert rt["submitted"] and rt["deleted"]
    assert rt["submission"].startswith(f"smtp {HOST}:{out_port}")
    assert rt["retrieval"].startswith(f"{incoming} {HOST}:{in_port}")
    assert rt["submission_tls"] in ("TLSv1.2", "TLSv1.3")
    assert 0 < rt["delivery_seconds"] < 20 and wall < 60
    # Dovecot's LMTP hop (local, over the socket) on top, then Postfix's submission hop
    kinds = [(h["with"], h["tls"]) for h in rt["hops"]]
    assert kinds[0] == ("LMTP", "local"), rt["hops"]
    assert ("ESMTPSA", "tls") in kinds, rt["hops"]
    submission_hop = next(h for h in rt["hops"] if h["with"] == "ESMTPSA")
    assert submission_hop["detail"].startswith(rt["submission_tls"])
    assert rt["authentication_results"] == []  # no milter adds them in this profile
    ids = {f["id"] for f in doc["client"]["findings"]}
    assert "roundtrip.delivered" in ids
    assert not {i for i in ids if i.startswith("roundtrip.") and i != "roundtrip.delivered"}
    assert code in (0, 1), err
    assert PASSWORD not in out + err
    assert _inbox_count(ca) == 0  # the test message is gone


def test_round_trip_nagios(delivery: tuple[str, MailServer], tmp_path: Path,
                           capsys: pytest.CaptureFixture[str],
                           monkeypatch: pytest.MonkeyPatch) -> None:
    ca, _ = delivery
    code, out, _ = _round_trip(capsys, monkeypatch, ca, _config(tmp_path),
                               f"{USER}@example.test", "--round-trip-timeout", "20",
                               "--format", "nagios")
    status = out.splitlines()[0]
    assert status.startswith(("MAILTLS OK", "MAILTLS WARNING")), out
    assert "delivered=1;;1:;0;1" in status and "delivery_time=" in status
    assert code in (0, 1)


def test_message_that_never_arrives_is_a_finding_not_a_hang(
    delivery: tuple[str, MailServer], tmp_path: Path, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Sent to nobody@example.test (Dovecot's LMTP refuses it; the bounce goes to that same
    unknown address): the mailbox of 'user' never sees it."""
    ca, _ = delivery
    started = time.monotonic()
    code, out, _ = _round_trip(capsys, monkeypatch, ca, _config(tmp_path),
                               "nobody@example.test", "--round-trip-timeout", "3",
                               "--format", "prometheus")
    assert code == 2
    assert time.monotonic() - started < 40
    assert "mailtls_roundtrip_delivered 0" in out
    code, out, _ = _round_trip(capsys, monkeypatch, ca, _config(tmp_path),
                               "nobody@example.test", "--round-trip-timeout", "2")
    assert code == 2
    assert "roundtrip.not_delivered" in out and "NOT delivered within 2 s" in out

"""Open relay on port 25: opt-in (--relay-test), reserved domains only, never DATA."""

from __future__ import annotations

from typing import Any

from mailtls.probes.security import RELAY_DOMAIN
from mailtls.testing import TestPKI, start_smtp

RELAY = ("--relay-test",)


def test_open_relay(pki: TestPKI, secure: Any) -> None:
    with start_smtp(pki, auth_required=False, open_relay=True) as server:
        run = secure(f"smtp={server.port}", extra=RELAY)
    probe = run.probe("open_relay")
    assert probe["verdict"] == "failed" and probe["detail"] == "relayed"
    finding = run.finding("smtp.open_relay")
    assert finding["severity"] == "fail" and run.code == 2
    assert any(": 250 " in line for line in finding["evidence"])
    sent = [t["text"] for t in probe["transcript"] if t["dir"] == "C"]
    rcpts = [s for s in sent if s.startswith("RCPT")]
    assert len(rcpts) >= 6
    # every recipient is in the reserved .invalid domain; every transaction is reset; no DATA
    assert all(RELAY_DOMAIN in r for r in rcpts)
    assert sent.count("RSET") == sum(s.startswith("MAIL") for s in sent)
    assert "DATA" not in sent
    # relaying is tried the way a sender would: over STARTTLS when the server offers it
    assert all(t["tls"] for t in probe["transcript"] if t["text"].startswith("RCPT"))


def test_relay_refused(pki: TestPKI, secure: Any) -> None:
    with start_smtp(pki, auth_required=False) as server:
        run = secure(f"smtp={server.port}", extra=RELAY)
    probe = run.probe("open_relay")
    assert probe["verdict"] == "passed" and probe["detail"] == "refused"
    assert all("554 5.7.1" in line for line in probe["evidence"] if "RCPT" in line)
    assert "smtp.open_relay" not in run.ids and run.code == 0


def test_relay_without_anonymous_transactions(pki: TestPKI, secure: Any) -> None:
    with start_smtp(pki) as server:  # MAIL needs AUTH
        run = secure(f"smtp={server.port}", extra=RELAY)
    probe = run.probe("open_relay")
    assert probe["verdict"] == "passed" and probe["detail"] == "mail_refused"
    assert run.code == 0


def test_relay_untestable_is_unknown_because_it_was_asked_for(
    pki: TestPKI, secure: Any
) -> None:
    with start_smtp(pki, auth_required=False, greylist=True) as server:
        run = secure(f"smtp={server.port}", extra=RELAY)
    probe = run.probe("open_relay")
    assert probe["verdict"] == "inconclusive" and probe["detail"] == "temporary"
    (finding,) = [f for f in run.findings("starttls.probe_inconclusive")
                  if "open_relay" in f["summary"]]
    assert finding["severity"] == "unknown" and run.code == 3


def test_relay_is_opt_in_and_port_25_only(pki: TestPKI, secure: Any) -> None:
    with start_smtp(pki, auth_required=False, open_relay=True) as server:
        default = secure(f"smtp={server.port}")
        submission = secure(f"submission={server.port}", extra=RELAY)
    assert "open_relay" not in default.probes()
    assert "open_relay" not in submission.probes()
    assert "smtp.open_relay" not in default.ids | submission.ids
    assert default.run.report["options"]["relay_test"] is False
    assert submission.run.report["options"]["relay_test"] is True

"""Command injection after STARTTLS (CVE-2011-0411 class): every verdict, for every protocol."""

from __future__ import annotations

from typing import Any

import pytest

from mailtls.testing import TestPKI, hostile, start_imap, start_pop3
from mailtls.testing.hostile import MailProtocol
from tests.security.security_helpers import PROTOCOLS, SERVICE, STARTERS

WORD = {"smtp": "STARTTLS", "imap": "STARTTLS", "pop3": "STLS"}


@pytest.mark.parametrize("proto", PROTOCOLS)
def test_server_that_runs_pipelined_commands_inside_tls(
    proto: MailProtocol, pki: TestPKI, secure: Any
) -> None:
    with STARTERS[proto](pki, inject_vulnerable=True) as server:
        run = secure(f"{SERVICE[proto]}={server.port}")
    probe = run.probe("command_injection")
    assert probe["verdict"] == "failed" and probe["detail"] in ("executed", "executed_late")
    finding = run.finding(f"{proto}.starttls.command_injection")
    assert finding["severity"] == "fail" and run.code == 2
    assert finding["reference"].endswith("CVE-2011-0411")
    # The evidence is the server's own answer to what we pipelined, received inside TLS.
    answer = {"smtp": "250-", "imap": " OK NOOP completed", "pop3": "+OK Capability list"}[proto]
    assert any(answer in line for line in finding["evidence"])
    inside = [t for t in probe["transcript"] if t["dir"] == "S" and t["tls"]]
    assert any(answer in t["text"] for t in inside)
    # Both commands went out in one write, and the transcript says so.
    lines = probe["transcript"]
    note = next(i for i, t in enumerate(lines) if "in one write" in t["text"])
    first, second = lines[note - 2], lines[note - 1]
    assert first["dir"] == second["dir"] == "C" and not first["tls"]
    assert first["text"].endswith(WORD[proto])
    assert second["text"].split()[-1 if proto == "pop3" else 0] in ("EHLO", "CAPA") or \
        second["text"].endswith(" NOOP")
    assert probe["connections"] == 1


@pytest.mark.parametrize("proto", PROTOCOLS)
def test_server_that_discards_pipelined_commands(
    proto: MailProtocol, pki: TestPKI, secure: Any
) -> None:
    with STARTERS[proto](pki) as server:
        run = secure(f"{SERVICE[proto]}={server.port}")
    probe = run.probe("command_injection")
    # No silence is waited out: the sentinel's answer ends the probe.
    assert any(t["text"].startswith("sentinel:") for t in probe["transcript"])
    assert probe["verdict"] == "passed" and probe["detail"] == "discarded"
    assert not {i for i in run.ids if "command_injection" in i or "inconclusive" in i}
    assert run.code == 0, run.run.findings
    # The real command got its answer inside TLS, and nothing came before it.
    assert probe["evidence"][-1].startswith(("250", "A1 OK", "+OK"))


def test_random_tokens_differ_between_runs(pki: TestPKI, secure: Any) -> None:
    with start_imap(pki) as server:
        first = secure(f"imap={server.port}").probe("command_injection")
        second = secure(f"imap={server.port}").probe("command_injection")

    def injected(probe: dict[str, Any]) -> str:
        text: str = next(t["text"] for t in probe["transcript"] if t["text"].endswith(" NOOP"))
        return text

    assert injected(first) != injected(second)


@pytest.mark.parametrize("proto", PROTOCOLS)
def test_server_that_takes_pipelined_bytes_as_tls(
    proto: MailProtocol, pki: TestPKI, secure: Any
) -> None:
    """RFC 9051 §6.2.1 option 1: the failed handshake is acceptable behaviour."""
    with hostile.pipelined_as_tls(pki, proto) as server:
        run = secure(f"{SERVICE[proto]}={server.port}")
    probe = run.probe("command_injection")
    assert probe["verdict"] == "passed"
    assert probe["detail"] in ("handshake_failed", "pipelined_as_tls", "closed")
    assert "RFC 9051" in probe["reason"] or probe["detail"] == "closed"
    assert f"{proto}.starttls.command_injection" not in run.ids
    assert run.endpoint()["tls"] is not None  # STARTTLS alone works on this server


@pytest.mark.parametrize("proto", PROTOCOLS)
def test_server_that_answers_pipelined_commands_in_plaintext(
    proto: MailProtocol, pki: TestPKI, secure: Any
) -> None:
    with hostile.answers_pipelined_in_plaintext(pki, proto) as server:
        run = secure(f"{SERVICE[proto]}={server.port}")
    probe = run.probe("command_injection")
    assert probe["verdict"] == "passed" and probe["detail"] == "plaintext_answer"
    assert f"{proto}.starttls.command_injection" not in run.ids
    # Reused, not duplicated: the existing finding for plaintext after the go-ahead, as a warning.
    (finding,) = run.findings("starttls.data_after_go_ahead")
    assert finding["severity"] == "warn"
    assert any("in plaintext" in line for line in finding["evidence"])
    # The basic probe (nothing pipelined) saw no such data.
    assert run.endpoint()["data_after_go_ahead"] is None


@pytest.mark.parametrize("proto", PROTOCOLS)
def test_silent_server_is_inconclusive(proto: MailProtocol, pki: TestPKI, secure: Any) -> None:
    with hostile.silent_after_tls(pki, proto) as server:
        run = secure(f"{SERVICE[proto]}={server.port}", extra=("--read-timeout", "1"))
    probe = run.probe("command_injection")
    assert probe["verdict"] == "inconclusive"
    assert "no answer to a real command" in probe["reason"]
    inconclusive = [f for f in run.findings("starttls.probe_inconclusive")
                    if "command_injection" in f["summary"]]
    assert len(inconclusive) == 1 and inconclusive[0]["severity"] == "info"
    assert f"{proto}.starttls.command_injection" not in run.ids


@pytest.mark.parametrize("proto", PROTOCOLS)
@pytest.mark.parametrize("options", [{"starttls_refused": True}, {"starttls": False}],
                         ids=["refused", "not-offered"])
def test_not_testable_without_working_starttls(
    proto: MailProtocol, options: dict[str, Any], pki: TestPKI, secure: Any
) -> None:
    with STARTERS[proto](pki, **options) as server:
        run = secure(f"{SERVICE[proto]}={server.port}")
    probe = run.probe("command_injection")
    assert probe["verdict"] == "not_testable" and probe["connections"] == 0
    # Already reported by the basic probe; "not testable" adds no finding of its own.
    assert "starttls.probe_inconclusive" not in run.ids
    assert f"{proto}.starttls.command_injection" not in run.ids


def test_pop3_without_capa_is_still_probed(pki: TestPKI, secure: Any) -> None:
    """No CAPA, so no STLS advertisement: the basic probe tries STLS anyway, and so do we."""
    with start_pop3(pki, capa=False, inject_vulnerable=True) as server:
        run = secure(f"pop3={server.port}")
    assert run.probe("command_injection")["verdict"] == "failed"


@pytest.mark.parametrize("proto", PROTOCOLS)
def test_vulnerable_server_answering_late_is_caught_by_order_not_by_waiting(
    proto: MailProtocol, pki: TestPKI, secure: Any
) -> None:
    """The injected command is answered 1.2 s after the handshake: longer than any silence a
    prober might wait out, yet the answer comes before the sentinel's, and that decides."""
    with hostile.runs_pipelined_inside_tls(pki, proto, delay=1.2) as server:
        run = secure(f"{SERVICE[proto]}={server.port}")
    probe = run.probe("command_injection")
    assert probe["verdict"] == "failed" and probe["detail"] == "executed", probe["reason"]
    answer = {"smtp": "250-", "imap": " OK NOOP completed", "pop3": "+OK Capability list"}[proto]
    assert any(answer in line for line in probe["evidence"])
    assert run.code == 2


def test_imap_answer_after_the_sentinel_is_executed_late(pki: TestPKI, secure: Any) -> None:
    """IMAP answers carry tags, so even an answer after the sentinel's NOOP is told apart."""
    with hostile.runs_pipelined_inside_tls(pki, "imap", after_next=True) as server:
        run = secure(f"imap={server.port}")
    probe = run.probe("command_injection")
    assert probe["verdict"] == "failed" and probe["detail"] == "executed_late", probe["reason"]
    assert "imap.starttls.command_injection" in run.ids


@pytest.mark.parametrize("proto", PROTOCOLS)
def test_sentinel_goes_out_in_one_write_inside_tls(
    proto: MailProtocol, pki: TestPKI, secure: Any
) -> None:
    with STARTERS[proto](pki) as server:
        run = secure(f"{SERVICE[proto]}={server.port}")
    lines = run.probe("command_injection")["transcript"]
    at = next(i for i, t in enumerate(lines) if t["text"].startswith("sentinel:"))
    sent = lines[at + 1 : at + 3]
    assert all(t["dir"] == "C" and t["tls"] for t in sent)
    end = "LOGOUT" if proto == "imap" else "QUIT"
    assert [t["text"].split()[-1] for t in sent] == ["NOOP", end]

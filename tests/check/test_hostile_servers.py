"""Hostile and broken servers: a clear verdict for that port, the rest of the report intact,
no traceback, and the scan ends within its deadline."""

from __future__ import annotations

import time
import unicodedata
from collections.abc import Callable
from typing import Any

import pytest

from mailtls.testing import TestPKI, hostile, start_smtp
from mailtls.testing.hostile import MailProtocol


def _with_good_neighbour(pki: TestPKI, mailtls: Any, service: str, make: Callable[[], Any],
                         **kw: Any) -> Any:
    with make() as bad, start_smtp(pki, implicit_tls=True) as good:
        started = time.monotonic()
        run = mailtls(f"{service}={bad.port}", f"submissions={good.port}", **kw)
        run.elapsed = time.monotonic() - started
    by_port = {e["port"]: e for e in run.endpoints}
    assert by_port[good.port]["tls"]["version"] == "TLSv1.3", "the rest of the report is intact"
    assert "Traceback" not in run.err
    run.bad = by_port[bad.port]
    return run


def test_tarpit_never_speaks(pki: TestPKI, mailtls: Any) -> None:
    run = _with_good_neighbour(pki, mailtls, "submission", hostile.tarpit)
    assert run.finding("session.no_greeting")["severity"] == "fail"
    assert run.bad["error_kind"] == "greeting_timeout"
    assert run.elapsed < 3 + 3 + 5  # read timeout, then the TLS attempt, plus slack


@pytest.mark.parametrize("proto", ["smtp", "imap", "pop3"])
def test_too_many_connections(proto: MailProtocol, pki: TestPKI, mailtls: Any) -> None:
    service = {"smtp": "submission", "imap": "imap", "pop3": "pop3"}[proto]
    run = _with_good_neighbour(pki, mailtls, service,
                               lambda: hostile.too_many_connections(proto))
    finding = run.finding("session.rejected")
    assert finding["severity"] == "unknown"  # rate limiting: could not test, not broken
    assert run.bad["greeting_ok"] is False
    assert run.code == 3


def test_binary_garbage_greeting(pki: TestPKI, mailtls: Any) -> None:
    run = _with_good_neighbour(pki, mailtls, "submission", hostile.garbage)
    finding = run.finding("session.protocol_error")
    assert finding["evidence"]
    # No terminal control or bidi override survives into the report.
    text = "".join(finding["evidence"]) + "".join(t["text"] for t in run.bad["transcript"])
    assert not [ch for ch in text if unicodedata.category(ch) == "Cc" and ch != "\t"]
    assert not set(text) & {chr(c) for c in (*range(0x202A, 0x202F), *range(0x2066, 0x206A))}


def test_endless_multiline_reply(pki: TestPKI, mailtls: Any) -> None:
    run = _with_good_neighbour(pki, mailtls, "submission", hostile.endless_multiline)
    assert "session.protocol_error" in run.ids
    assert "reply" in run.finding("session.protocol_error")["summary"].lower()
    assert len(run.bad["transcript"]) <= 402  # the transcript is capped too


def test_endless_multiline_greeting(pki: TestPKI, mailtls: Any) -> None:
    run = _with_good_neighbour(pki, mailtls, "submission",
                               lambda: hostile.endless_multiline("greeting"))
    assert "session.protocol_error" in run.ids


def test_megabyte_line_without_crlf(pki: TestPKI, mailtls: Any) -> None:
    run = _with_good_neighbour(pki, mailtls, "submission", hostile.long_line)
    assert "line" in run.finding("session.protocol_error")["summary"].lower()


def test_greeting_one_byte_at_a_time_is_bounded_by_the_read_timeout(
    pki: TestPKI, mailtls: Any
) -> None:
    """Each byte arrives well within the read timeout, but the read timeout bounds the whole
    reply (a slowloris greeting is as unusable as a silent one)."""
    run = _with_good_neighbour(pki, mailtls, "submission",
                               lambda: hostile.slow_greeting("smtp", interval=0.5),
                               extra=("--timeout", "20"))
    assert run.elapsed < 3 + 3 + 3  # read timeout, the TLS attempt, slack
    assert run.bad["error_kind"] == "greeting_timeout"
    assert "did not complete" in run.bad["error"]
    assert any("[incomplete]" in t["text"] for t in run.bad["transcript"])
    assert "session.no_greeting" in run.ids


def test_scan_deadline_bounds_the_whole_scan(pki: TestPKI, mailtls: Any) -> None:
    """A read timeout longer than the whole scan: each silent port's wait is cut to its turn
    of the deadline, so all are diagnosed (not "not tested") and the scan ends in time."""
    with hostile.tarpit() as a, hostile.tarpit() as b, hostile.tarpit() as c:
        started = time.monotonic()
        run = mailtls(f"submission={a.port}", f"imap={b.port}", f"pop3={c.port}",
                      extra=("--timeout", "1.5", "--read-timeout", "30"))
        elapsed = time.monotonic() - started
    assert elapsed < 1.5 + 0.5
    assert {e["error_kind"] for e in run.endpoints} == {"greeting_timeout"}
    assert [f["id"] for f in run.findings] == ["session.no_greeting"] * 3
    assert all(e["transcript"] for e in run.endpoints), "what was seen is kept"
    assert run.code == 2


def test_ehlo_answered_with_421_is_rate_limiting_not_missing_starttls(
    pki: TestPKI, mailtls: Any
) -> None:
    from mailtls.testing import start_raw

    async def handler(reader: Any, writer: Any) -> None:
        writer.write(b"220 mail.example.test ESMTP\r\n")
        await writer.drain()
        await reader.readline()
        writer.write(b"421 4.7.0 Too many connections from your address\r\n")
        await writer.drain()
        writer.close()

    run = _with_good_neighbour(pki, mailtls, "submission", lambda: start_raw(handler))
    assert "smtp.starttls.not_offered" not in run.ids
    assert "421" in run.finding("session.rejected")["summary"]
    assert run.code == 3

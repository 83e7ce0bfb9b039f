"""Politeness: a server that rate-limits is backed off from and reported as rate limiting, never
as broken; --slow keeps to one connection per address at a time with pauses in between."""

from __future__ import annotations

import statistics
from typing import Any

import pytest

from mailtls.probes import tlsscan
from tests.tlsscan.tlsscan_servers import (
    Concurrency,
    Protocol,
    openssl_server,
    rate_limited_server,
    server_context,
)

SERVICE = {"smtp": "submission", "imap": "imap", "pop3": "pop3"}


@pytest.fixture(autouse=True)
def _quick_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tlsscan, "BACKOFF_SECONDS", 0.05)


def _notes(endpoint: dict[str, Any]) -> list[str]:
    return [t["text"] for t in endpoint["transcript"] if t["dir"] == "*"]


@pytest.mark.parametrize("protocol", ["smtp", "pop3"])
def test_rate_limit_window_is_waited_out(protocol: Protocol, deep: Any) -> None:
    """421 / -ERR once 8 connections came within 0.3 s: back off, slow down, finish the scan
    with the same result as against the same server without a limit."""
    ctx = server_context()
    limited, accepted, refused = rate_limited_server(ctx, protocol, allowed=8, window=0.3)
    with limited, openssl_server(ctx, protocol) as free:
        run = deep(f"{SERVICE[protocol]}={limited.port}", f"{SERVICE[protocol]}={free.port}")

    assert refused, "the server never limited the scan: the test proves nothing"
    scan, control = run.scan(limited.port), run.scan(free.port)
    assert scan["versions"] == control["versions"]
    assert scan["suites"] == control["suites"]
    assert scan["errors"] == []
    assert "tls.scan.incomplete" not in run.ids(limited.port)
    assert run.ids(limited.port) == run.ids(free.port)
    ids = {f["id"] for f in run.run.findings if f["endpoint"].endswith(f":{limited.port}")}
    assert not {i for i in ids if i.startswith(("session.", "port."))}, ids
    assert any(n.startswith("rate limited: the server turned") for n in _notes(
        run.endpoint(limited.port)
    ))
    # it slowed down instead of hammering: only a few connections were turned away
    assert len(refused) <= len(accepted) // 4


def test_imap_bye_gives_up_and_says_so(deep: Any) -> None:
    """A server that keeps answering BYE: stop after a few tries; report "rate limited", and
    draw no conclusion from what could not be tested."""
    limited, accepted, refused = rate_limited_server(
        server_context(), "imap", allowed=12, window=3600
    )
    assert not accepted and not refused  # counted from the first connection on
    with limited:
        run = deep(f"imap={limited.port}")

    scan = run.scan(limited.port)
    assert scan["errors"][0].startswith("rate limited: greeting * BYE Too many connections")
    assert "gave up after" in scan["errors"][0]
    # it stopped: the enumeration's refused connections are the retries of one, plus those in
    # flight when the first was turned away (at most the budget of 5 at once), no more
    assert scan["connections"] <= 11 + tlsscan.RETRIES + 5
    incomplete = run.finding(limited.port, "tls.scan.incomplete")
    assert "rate limited" in incomplete["summary"] and "--slow" in incomplete["summary"]
    assert "rate limited" in incomplete["evidence"][0]
    assert len(accepted) == 12 and refused
    # TLS 1.3 was negotiated by the basic probe: accepted, though the enumeration never got there
    assert scan["versions"]["TLS 1.3"] is True
    # nothing is claimed absent on the strength of an unfinished scan
    assert not run.ids(limited.port) & {
        "tls.version.no_tls12", "tls.version.no_tls13", "tls.cipher.forward_secrecy_missing",
    }


def test_slow_mode_one_connection_at_a_time(
    mailtls: Any, deep: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tlsscan, "SLOW_PAUSE_SECONDS", 0.02)
    normal, slow = Concurrency(), Concurrency()
    ctx = server_context()
    with openssl_server(ctx, implicit=True, concurrency=normal) as a, openssl_server(
        ctx, implicit=True, concurrency=normal
    ) as b:
        text = mailtls(f"submissions={a.port}", f"submissions={b.port}", deep=True,
                       json_out=False, trust=False, extra=("-v", "--no-color"))
    with openssl_server(ctx, implicit=True, concurrency=slow) as a, openssl_server(
        ctx, implicit=True, concurrency=slow
    ) as b:
        run = deep(f"submissions={a.port}", f"submissions={b.port}", extra=("--slow",))

    assert normal.peak > 1  # by default the two ports are probed at the same time
    assert slow.peak == 1
    assert run.run.report["options"]["slow"] is True
    gaps = [t2 - t1 for t1, t2 in zip(slow.accepted, slow.accepted[1:], strict=False)]
    assert statistics.median(gaps) >= 0.02
    for port in (a.port, b.port):
        assert run.scan(port)["versions"]["TLS 1.3"] is True
        assert "tls.scan.incomplete" not in run.ids(port)
    # -v shows how many connections each port cost, and how many the enumeration made
    assert "for the TLS enumeration in" in text.out
    assert text.out.count("connection(s) (") >= 2


def test_deadline_stops_the_enumeration_not_the_report(
    deep: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A scan deadline that arrives mid-enumeration: what was found is reported, the rest is
    untested, and the port is not lost as "not tested"."""
    monkeypatch.setattr(tlsscan, "SLOW_PAUSE_SECONDS", 0.2)
    monkeypatch.setattr(tlsscan, "DEADLINE_MARGIN_SECONDS", 0.5)
    with openssl_server(server_context(), implicit=True) as server:
        run = deep(f"submissions={server.port}", extra=("--slow", "--timeout", "2.5"))

    scan = run.scan(server.port)
    assert any("deadline" in e for e in scan["errors"])
    assert scan["connections"] <= 12  # 0.2 s apart, stopped 0.5 s before the 2.5 s deadline
    assert len(scan["suites"]["TLS 1.2"]) < 13  # the full list has 13 (see the cipher tests)
    assert scan["versions"]["TLS 1.3"] is True  # from the basic probe's handshake
    assert "tls.scan.incomplete" in run.ids(server.port)
    assert not run.ids(server.port) & {"tls.version.no_tls12", "tls.version.no_tls13"}

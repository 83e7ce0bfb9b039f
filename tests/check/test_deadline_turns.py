"""The overall deadline holds, and every port gets its turn: a host whose seven ports all
accept TCP and never speak, checked with read and handshake timeouts longer than the whole
scan, ends within ``--timeout`` and diagnoses every port as ``session.no_greeting`` (before the
turns, ports waiting for a connection slot ended as ``port.not_tested``)."""

from __future__ import annotations

import contextlib

import pytest

from mailtls.scan.host import Turns
from mailtls.testing import TestPKI, hostile
from mailtls.testing.matrix import run_measured

SERVICES = ("smtp", "submission", "submissions", "imap", "imaps", "pop3", "pop3s")


@pytest.mark.parametrize(("timeout", "extra"), [
    (3.0, ("--quick",)),
    (5.0, ()),  # deep probes queued too: they must not take the silent ports' turns
    (8.0, ("--max-connections", "2")),  # four waves of ports
])
def test_a_silent_seven_port_host_is_diagnosed_within_the_deadline(
    pki: TestPKI, timeout: float, extra: tuple[str, ...]
) -> None:
    with contextlib.ExitStack() as stack:
        ports = [stack.enter_context(hostile.tarpit()).port for _ in SERVICES]
        argv = ["check", "mail.example.test", "--address", "127.0.0.1", "--timeout",
                f"{timeout:g}", "--format", "json", *extra]
        for service, port in zip(SERVICES, ports, strict=True):
            argv += ["--service", f"{service}={port}"]
        out = run_measured(argv, limit=60)
    assert "Traceback" not in out.stderr
    report = out.report
    endpoints = report["hosts"][0]["endpoints"]
    assert out.code == 2, [(e["error_kind"], e["error"]) for e in endpoints]
    assert report["seconds"] <= timeout + 0.5, "from the process start to the report"
    assert out.seconds <= timeout + 1.0, "wall time, exit included (a busy machine adds some)"
    assert [e["error_kind"] for e in endpoints] == ["greeting_timeout"] * 7
    ids = [f["id"] for f in report["hosts"][0]["findings"]]
    assert sorted(ids) == ["session.no_greeting"] * 7


def test_turns_share_the_time_left_between_the_waves_still_to_come() -> None:
    turns = Turns(limit=5, end=20.0)
    for _ in range(7):
        turns.enqueue()
    first = [turns.start(0.0) for _ in range(5)]
    assert first == [10.0] * 5  # 2 waiting behind 5 slots: two waves in 20 s
    turns.finish()
    assert turns.start(9.0) == 14.5  # one still waits for a slot: half of what is left
    turns.finish()
    assert turns.start(10.0) == 20.0  # the last one gets all that is left
    alone = Turns(limit=1, end=10.0)
    for _ in range(4):
        alone.enqueue()
    assert alone.start(0.0) == 2.5
    alone.finish()
    assert alone.start(1.0) == pytest.approx(1.0 + 9.0 / 3)
    free = Turns(limit=10, end=6.0)
    for _ in range(8):
        free.enqueue()
    assert [free.start(0.0) for _ in range(8)] == [6.0] * 8  # one wave: all the time

"""The hostile matrix: every protocol x phase x behaviour (``mailtls.testing.hostile``), on
plaintext (STARTTLS) and implicit-TLS ports, each checked by a real ``mailtls check`` in a child
process whose wall time and peak RSS are measured.

Used by tests/check/test_hostile_matrix.py (a few children per protocol, every case on its own
port) and benchmarks/hostile_matrix.py (one child per case).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from mailtls.model.credentials import PASSWORD_ENV

from .hostile import BEHAVIOURS, IMPLICIT_PHASES, PHASES, Behaviour, MailProtocol, Phase

__all__ = ["Case", "Outcome", "cases", "check_argv", "expected_findings", "run_measured"]

PROTOCOLS: tuple[MailProtocol, ...] = ("smtp", "imap", "pop3")
_SERVICE = {("smtp", False): "submission", ("smtp", True): "submissions",
            ("imap", False): "imap", ("imap", True): "imaps",
            ("pop3", False): "pop3", ("pop3", True): "pop3s"}  # fmt: skip


@dataclass(frozen=True)
class Case:
    protocol: MailProtocol
    phase: Phase
    behaviour: Behaviour
    implicit: bool

    @property
    def service(self) -> str:
        return _SERVICE[(self.protocol, self.implicit)]

    @property
    def name(self) -> str:
        return f"{self.service}-{self.phase}-{self.behaviour}"


def cases(
    protocols: Sequence[MailProtocol] = PROTOCOLS, behaviours: Sequence[Behaviour] = BEHAVIOURS
) -> list[Case]:
    """Every case: protocol x port kind x phase (the phases of that kind of port) x behaviour."""
    out = []
    for protocol in protocols:
        for behaviour in behaviours:
            for implicit in (False, True):
                for phase in IMPLICIT_PHASES if implicit else PHASES:
                    out.append(Case(protocol, phase, behaviour, implicit))
    return out


def expected_findings(case: Case) -> set[str]:
    """The finding ids of which the port must show at least one."""
    if case.phase == "commands":
        return set()  # the basic probe succeeds; the deep probes' verdicts are checked apart
    if case.behaviour in ("silence", "drip"):
        return {"session.no_greeting"} if case.phase == "greeting" else {"session.broken"}
    if case.behaviour in ("close", "reset"):
        return {"session.broken"}
    if (case.protocol, case.phase, case.behaviour) == ("pop3", "starttls", "endless_lines"):
        # "+OK" and then lines: a go-ahead followed by plaintext, which is what it is
        return {"starttls.data_after_go_ahead"}
    return {"session.protocol_error"}


# Runs mailtls's CLI in the child and reports, on the last stderr line, the child's own peak RSS
# (VmHWM: ru_maxrss would count the parent's memory shared before exec) and when main() returned
# (seconds since the process started: the rest of the wall time is exit and scheduling).
_WRAPPER = """
import sys, time
from mailtls.cli import main
from mailtls.cli.runclock import process_started
code = main(sys.argv[1:])
returned = time.monotonic() - process_started()
sys.stdout.flush()
with open("/proc/self/status") as status:
    kb = next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))
print(f"measured={kb} {returned:.3f}", file=sys.stderr)
raise SystemExit(code)
"""


@dataclass
class Outcome:
    code: int
    seconds: float  # wall time of the child, start-up included
    peak_rss_mb: float
    stdout: str
    stderr: str
    main_seconds: float = 0.0  # from the child's start to main()'s return

    @property
    def report(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(self.stdout)
        return data

    def endpoint(self, port: int) -> dict[str, Any]:
        return next(e for h in self.report["hosts"] for e in h["endpoints"] if e["port"] == port)

    def findings(self, port: int) -> set[str]:
        return {f["id"] for h in self.report["hosts"] for f in h["findings"]
                if str(f.get("endpoint") or "").endswith(f":{port}")}


def check_argv(
    ca_file: str, services: Sequence[tuple[str, int]], *, deadline: float, quick: bool,
    read_timeout: float = 2.0, user: str | None = None, max_connections: int = 10,
) -> list[str]:
    """``mailtls check`` of loopback ports with short timeouts, JSON out; ``user``: the login
    test too (its replies are a phase of the matrix)."""
    argv = ["check", "mail.example.test", "--address", "127.0.0.1", "--ca-file", ca_file,
            "--timeout", f"{deadline:g}", "--read-timeout", f"{read_timeout:g}",
            "--handshake-timeout", f"{read_timeout:g}", "--connect-timeout", "2",
            "--max-connections", str(max_connections), "--format", "json"]
    for service, port in services:
        argv += ["--service", f"{service}={port}"]
    if user is not None:
        argv += ["--user", user]
    return [*argv, "--quick"] if quick else argv


def run_measured(
    argv: Sequence[str], *, limit: float = 120.0, password: str | None = None
) -> Outcome:
    """``mailtls ARGV`` in a child process: exit code, wall time, peak RSS, output.
    ``password``: for ``--user``, handed over in the environment (never argv)."""
    env = dict(os.environ)
    if password is not None:
        env[PASSWORD_ENV] = password
    # Files, not pipes: a parent slow to drain a pipe (a busy test process) would hold the
    # child's exit back and be measured as the child's time.
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        started = time.monotonic()
        proc = subprocess.run([sys.executable, "-c", _WRAPPER, *argv], stdout=out, stderr=err,
                              text=True, timeout=limit, check=False, env=env)
        seconds = time.monotonic() - started
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
    lines = stderr.rstrip().splitlines()
    rss_kb, returned = 0, 0.0
    if lines and lines[-1].startswith("measured="):
        kb, returned_text = lines.pop().removeprefix("measured=").split()
        rss_kb, returned = int(kb), float(returned_text)
    return Outcome(proc.returncode, round(seconds, 3), round(rss_kb / 1024, 1), stdout,
                   "\n".join(lines), returned)

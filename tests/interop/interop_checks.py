"""What the interop tests need around a mailtls run: the run itself and its parsed report."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from typing import Any

from tests.interop.interop_servers import HOST, InteropPKI, MailServer

CHECK_TIMEOUT = 90.0  # mailtls's own deadline is 60 s
# mailtls runs as a user runs it: the installed package, not whatever ./mailtls the current
# directory holds ("python -m" puts the cwd first on sys.path).
NEUTRAL_CWD = tempfile.gettempdir()


@dataclass
class CheckResult:
    """One ``mailtls check`` run: exit code, parsed report, wall-clock time."""

    profile: str
    args: tuple[str, ...]
    exit_code: int
    report: dict[str, Any]
    wall_seconds: float
    stderr: str

    @property
    def host(self) -> dict[str, Any]:
        hosts = self.report["hosts"]
        assert len(hosts) == 1, hosts
        result: dict[str, Any] = hosts[0]
        return result

    def endpoint(self, port: int) -> dict[str, Any]:
        for e in self.host["endpoints"]:
            if e["port"] == port:
                result: dict[str, Any] = e
                return result
        raise KeyError(f"no endpoint for port {port} in the report of {self.profile}")

    def findings(self, port: int | None = None) -> list[dict[str, Any]]:
        out = self.host["findings"]
        if port is None:
            return list(out)
        return [f for f in out if f["endpoint"] is not None and f["endpoint"].endswith(f":{port}")]

    def ids_by_port(self) -> dict[int, set[str]]:
        """Finding ids per port; host-level findings (no endpoint) under port 0."""
        out: dict[int, set[str]] = {}
        for f in self.host["findings"]:
            port = int(f["endpoint"].rsplit(":", 1)[1]) if f["endpoint"] else 0
            out.setdefault(port, set()).add(f["id"])
        return out

    def describe(self) -> str:
        lines = [f"mailtls {' '.join(self.args)} -> exit {self.exit_code}"]
        lines += [
            f"  {f['severity']:7} {f['id']:34} {f['endpoint']}: {f['summary']}"
            for f in self.host["findings"]
        ]
        if self.stderr.strip():
            lines.append(f"  stderr: {self.stderr.strip()[:2000]}")
        return "\n".join(lines)


@dataclass
class Interop:
    pki: InteropPKI
    servers: dict[str, MailServer]


RUNS: list[CheckResult] = []  # every run, for the timing table at the end of the session


def run_mailtls(
    interop: Interop, profile: str, *extra: str, timeout: float = CHECK_TIMEOUT
) -> CheckResult:
    server = interop.servers[profile]
    args = (
        "check", HOST, "--address", server.address,
        "--ca-file", str(interop.pki.ca_file), "--format", "json", *extra,
    )
    started = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-m", "mailtls", *args],
        capture_output=True, text=True, timeout=timeout, check=False,
        env={**os.environ, "NO_COLOR": "1"}, cwd=NEUTRAL_CWD,
    )
    wall = round(time.monotonic() - started, 2)
    try:
        report = json.loads(proc.stdout)
    except json.JSONDecodeError as exc:
        raise AssertionError(
            f"mailtls printed no JSON report for {profile} (exit {proc.returncode}):\n"
            f"{proc.stdout[:2000]}\n{proc.stderr[:2000]}"
        ) from exc
    result = CheckResult(profile, args, proc.returncode, report, wall, proc.stderr)
    RUNS.append(result)
    return result

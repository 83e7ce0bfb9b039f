"""Shared pieces of the peer, RTT and growth benchmarks: the private network namespace, the
real Postfix + Dovecot of the interop suite, and running and parsing each tool.

Nothing here is a test. Everything connects to 127.0.0.0/8 only, inside a network namespace
of the benchmark's own (``in_private_netns`` re-runs the script under ``unshare -n``).
"""

from __future__ import annotations

import compileall
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).resolve().parent / "results"
sys.path.insert(0, str(ROOT))  # the interop servers: tests.interop.interop_servers

PORTS = {"smtp": 25, "submission": 587, "submissions": 465, "imap": 143, "imaps": 993,
         "pop3": 110, "pop3s": 995}
VERSIONS = ("SSLv2", "SSLv3", "TLS 1.0", "TLS 1.1", "TLS 1.2", "TLS 1.3")
TIMEOUT = 600.0
_NETNS_FLAG = "MAILTLS_BENCH_NETNS"


def in_private_netns() -> None:
    """Re-run this script in a new network namespace with only loopback up (once)."""
    if os.environ.get(_NETNS_FLAG) == "1":
        return
    if os.geteuid() != 0:
        sys.exit("this benchmark needs root (private network namespace, Postfix and Dovecot)")
    # An installed mailtls has its bytecode (pip compiles at install time); a checkout under
    # PYTHONDONTWRITEBYTECODE=1 would recompile ~70 modules in every timed process (~0.1 s).
    compileall.compile_dir(str(ROOT / "mailtls"), quiet=1)
    argv = [sys.executable, *sys.argv]
    env = {**os.environ, _NETNS_FLAG: "1"}
    script = 'ip link set lo up && exec "$@"'
    code = subprocess.call(["unshare", "-n", "--", "sh", "-c", script, "sh", *argv], env=env)
    sys.exit(code)


def sslyze_exe() -> str | None:
    path = os.environ.get("SSLYZE", "/tmp/sslyze-venv/bin/sslyze")
    return path if os.path.exists(path) else shutil.which("sslyze")


def tool_version(argv: Sequence[str]) -> str:
    try:
        proc = subprocess.run(list(argv), capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return "?"
    text = (proc.stdout or proc.stderr).strip().splitlines()
    return text[0][:80] if text else "?"


@dataclass
class Run:
    """One tool run: wall seconds, CPU seconds of the process, and what it found per port."""

    tool: str
    seconds: float
    cpu: float
    found: dict[int, dict[str, set[str]]] = field(default_factory=dict)  # port -> version -> suites
    report: dict[str, Any] | None = None
    error: str | None = None
    connections: dict[int, int] = field(default_factory=dict)  # per port, counted by a relay
    # CPU seconds the whole machine spent while it ran (the tool, the servers, everything):
    # on 2 cores the floor of the wall time is this / 2
    machine_cpu: float | None = None


def machine_busy_seconds() -> float | None:
    """CPU seconds the machine has spent busy since boot, all cores (/proc/stat), or None."""
    try:
        with open("/proc/stat") as stat:
            fields = [int(v) for v in stat.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    idle = fields[3] + fields[4]  # idle, iowait
    return (sum(fields) - idle) / os.sysconf("SC_CLK_TCK")


def busy_since(before: float | None) -> float | None:
    after = machine_busy_seconds()
    return None if before is None or after is None else round(after - before, 3)


def timed(argv: Sequence[str], *, cwd: str, env: dict[str, str] | None = None
          ) -> tuple[float, float, subprocess.CompletedProcess[str]]:
    """(wall s, CPU s of the child, the process) for one run of ``argv``."""
    before = os.times()
    started = time.monotonic()
    proc = subprocess.run(list(argv), capture_output=True, text=True, timeout=TIMEOUT, cwd=cwd,
                          env=env)
    wall = time.monotonic() - started
    after = os.times()
    cpu = (after.children_user - before.children_user) + (
        after.children_system - before.children_system)
    return wall, cpu, proc


def mailtls_argv(host: str, address: str, ca_file: str, *extra: str) -> list[str]:
    return [sys.executable, "-m", "mailtls", "check", host, "--address", address,
            "--ca-file", ca_file, "--format", "json", *extra]


def run_mailtls(host: str, address: str, ca_file: str, tmp: str, *extra: str) -> Run:
    busy = machine_busy_seconds()
    wall, cpu, proc = timed(mailtls_argv(host, address, ca_file, *extra), cwd=tmp,
                            env={**os.environ, "NO_COLOR": "1"})
    try:
        report = json.loads(proc.stdout)
    except json.JSONDecodeError:
        return Run("mailtls", wall, cpu, error=(proc.stderr or proc.stdout)[:300],
                   machine_cpu=busy_since(busy))
    found: dict[int, dict[str, set[str]]] = {}
    for endpoint in report["hosts"][0]["endpoints"]:
        scan = endpoint.get("tls_scan") or {}
        found[endpoint["port"]] = {v: set(s) for v, s in (scan.get("suites") or {}).items() if s}
    return Run("mailtls", wall, cpu, found, report, machine_cpu=busy_since(busy))


def _label(version: str) -> str:
    v = version.strip().upper().replace("V", "v").replace("TLSv", "TLS ").replace("_", ".")
    table = {"TLS 1.0": "TLS 1.0", "TLS 1.1": "TLS 1.1", "TLS 1.2": "TLS 1.2",
             "TLS 1.3": "TLS 1.3", "SSLv3": "SSLv3", "SSLv2": "SSLv2"}
    return table.get(v, version)


def nmap_argv(address: str, scripts: str, out: str) -> list[str]:
    ports = ",".join(str(p) for p in PORTS.values())
    return ["nmap", "-Pn", "-n", "-p", ports, "--script", scripts, "-oX", out, address]


def run_nmap(address: str, tmp: str, scripts: str = "ssl-enum-ciphers,ssl-cert") -> Run:
    out = os.path.join(tmp, "nmap.xml")
    with_suppress_unlink(out)
    busy = machine_busy_seconds()
    wall, cpu, _proc = timed(nmap_argv(address, scripts, out), cwd=tmp)
    machine = busy_since(busy)
    found: dict[int, dict[str, set[str]]] = {}
    try:
        root = ET.parse(out).getroot()
    except (OSError, ET.ParseError) as exc:
        return Run("nmap", wall, cpu, error=str(exc), machine_cpu=machine)
    for port in root.iter("port"):
        number = int(port.get("portid") or 0)
        script = next((s for s in port.iter("script") if s.get("id") == "ssl-enum-ciphers"),
                      None)
        if script is None:
            continue
        versions: dict[str, set[str]] = {}
        for table in script.findall("table"):
            version = _label(table.get("key") or "")
            for cipher in table.iterfind("./table[@key='ciphers']/table"):
                name = (cipher.findtext("elem[@key='name']") or "").replace("TLS_AKE_WITH_", "TLS_")
                versions.setdefault(version, set()).add(name)
        found[number] = versions
    return Run("nmap", wall, cpu, found, machine_cpu=machine)


def sslyze_argv(exe: str, host: str, address: str, out: str) -> list[str]:
    targets = [f"{host}:{port}{{{address}}}" for port in PORTS.values()]
    return [exe, "--quiet", f"--json_out={out}", "--starttls", "auto", "--sslv2", "--sslv3",
            "--tlsv1", "--tlsv1_1", "--tlsv1_2", "--tlsv1_3", "--elliptic_curves", *targets]


def run_sslyze(host: str, address: str, tmp: str) -> Run:
    exe = sslyze_exe()
    if exe is None:
        return Run("sslyze", 0.0, 0.0, error="sslyze not installed (see benchmarks/README.md)")
    out = os.path.join(tmp, "sslyze.json")
    with_suppress_unlink(out)
    busy = machine_busy_seconds()
    wall, cpu, proc = timed(sslyze_argv(exe, host, address, out), cwd=tmp)
    machine = busy_since(busy)
    found: dict[int, dict[str, set[str]]] = {}
    try:
        results = json.loads(Path(out).read_text())["server_scan_results"]
    except (OSError, ValueError, KeyError):
        return Run("sslyze", wall, cpu, error=(proc.stderr or proc.stdout)[-300:],
                   machine_cpu=machine)
    keys = {"ssl_2_0": "SSLv2", "ssl_3_0": "SSLv3", "tls_1_0": "TLS 1.0", "tls_1_1": "TLS 1.1",
            "tls_1_2": "TLS 1.2", "tls_1_3": "TLS 1.3"}
    for result in results:
        port = int(result["server_location"]["port"])
        versions: dict[str, set[str]] = {}
        for key, version in keys.items():
            attempt = (result.get("scan_result") or {}).get(f"{key}_cipher_suites") or {}
            if attempt.get("status") != "COMPLETED":
                continue
            names = {c["cipher_suite"]["name"]
                     for c in attempt["result"]["accepted_cipher_suites"]}
            if names:
                versions[version] = names
        found[port] = versions
    return Run("sslyze", wall, cpu, found, machine_cpu=machine)


def with_suppress_unlink(path: str) -> None:
    if os.path.exists(path):
        os.unlink(path)


def agreement(ours: dict[int, dict[str, set[str]]], theirs: dict[int, dict[str, set[str]]],
              versions: Sequence[str] = VERSIONS[1:]) -> tuple[int, int, list[str]]:
    """(ports where both found the same suites per version, ports compared, differences)."""
    same, compared, diffs = 0, 0, []
    for port, mine in sorted(ours.items()):
        if port not in theirs:
            diffs.append(f"{port}: no result")
            continue
        compared += 1
        a = {(v, s) for v, names in mine.items() if v in versions for s in names}
        b = {(v, s) for v, names in theirs[port].items() if v in versions for s in names}
        if a == b:
            same += 1
        else:
            diffs.append(f"{port}: only mailtls {sorted(a - b)[:3]}, only peer {sorted(b - a)[:3]}")
    return same, compared, diffs


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


def write_results(name: str, data: dict[str, Any]) -> Path:
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(data, indent=1, sort_keys=True, default=str) + "\n")
    return path

"""mailtls's TLS enumeration next to sslyze, testssl.sh, sslscan and nmap's ssl-enum-ciphers.

Starts loopback mail servers from mailtls.testing (an implicit-TLS SMTP on 465, STARTTLS SMTP
on 587 and IMAP on 143, a legacy TLS 1.0/1.1-only POP3S on 995), runs every tool against every
server one after the other, and compares what each found: protocol versions and cipher suites
(as IANA names), and the wall time of each run (the tool's whole process, start-up included).
Prints a table; writes benchmarks/results/tls_peers.json.

    python benchmarks/tls_peers.py [--peers mailtls,sslyze,testssl,sslscan,nmap] [--runs 3]
                                   [--testssl-runs 1]

Everything connects to --bind (default 127.0.0.77) only. testssl.sh is given the name
"localhost" (mapped to loopback by /etc/hosts), --ip and --nodns none, so it resolves nothing.
sslyze is taken from a separate venv (it pins its own cryptography):
    python3 -m venv /tmp/sslyze-venv && /tmp/sslyze-venv/bin/pip install sslyze
and found through $SSLYZE (default /tmp/sslyze-venv/bin/sslyze). The others are Debian
packages: apt-get install -y testssl.sh sslscan nmap.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import re
import shutil
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mailtls.testing import RunningServer, TestPKI, start_imap, start_pop3, start_smtp
from mailtls.tls import suites as ciphersuites

RESULTS = Path(__file__).parent / "results"
VERSIONS = ("SSLv2", "SSLv3", "TLS 1.0", "TLS 1.1", "TLS 1.2", "TLS 1.3")
PEERS = ("mailtls", "sslyze", "testssl", "sslscan", "nmap")
TIMEOUT = 300.0


@dataclass
class Target:
    name: str
    service: str  # mailtls service name
    protocol: str  # smtp / imap / pop3
    starttls: bool
    port: int = 0
    standard_port: bool = True  # bound where nmap expects the service (it needs that)


@dataclass
class Found:
    """What one tool reported about one server."""

    versions: dict[str, bool] = field(default_factory=dict)  # only the versions it tested
    suites: dict[str, set[str]] = field(default_factory=dict)
    seconds: list[float] = field(default_factory=list)  # wall time of each run
    error: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def pairs(self) -> set[tuple[str, str]]:
        return {(v, s) for v, names in self.suites.items() for s in names}


# --- servers -----------------------------------------------------------------------------------
def _free(host: str, port: int) -> bool:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the servers do
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def start_servers(pki: TestPKI, bind: str) -> tuple[list[Target], list[RunningServer]]:
    plan: list[tuple[Target, int, Callable[..., RunningServer], dict[str, Any]]] = [
        (Target("smtps-465 (implicit)", "submissions", "smtp", False), 465, start_smtp,
         {"implicit_tls": True}),
        (Target("smtp-587 (STARTTLS)", "submission", "smtp", True), 587, start_smtp, {}),
        (Target("imap-143 (STARTTLS)", "imap", "imap", True), 143, start_imap, {}),
        (Target("pop3s-995 legacy TLS 1.0/1.1", "pop3s", "pop3", False), 995, start_pop3,
         {"implicit_tls": True, "cert": "rsa", "maximum_version": ssl.TLSVersion.TLSv1_1}),
    ]
    targets, servers = [], []
    for target, port, start, options in plan:
        if not _free(bind, port):
            print(f"{bind}:{port} is taken: {target.name} gets another port (nmap then needs "
                  "-sV for STARTTLS, which it times too)", file=sys.stderr)
            port, target.standard_port = 0, False
        server = start(pki, host=bind, port=port, **options)
        target.port = server.port
        targets.append(target)
        servers.append(server)
    return targets, servers


def serve(bind: str) -> int:
    """Child process: start the servers, print them as one JSON line, serve until stdin ends.

    (A separate process, as a real server is: tools timed against servers living in the
    benchmark's own process were slowed down by it, nmap by a factor of 100.)
    """
    logging.getLogger("asyncio").setLevel(logging.ERROR)  # "eof_received() ... ssl" chatter
    with TestPKI() as pki:
        targets, servers = start_servers(pki, bind)
        print(json.dumps({"ca_file": pki.ca_file(), "targets": [t.__dict__ for t in targets]}),
              flush=True)
        sys.stdin.read()
        for server in servers:
            server.stop()
    return 0


@contextlib.contextmanager
def server_process(bind: str) -> Iterator[tuple[str, list[Target]]]:
    child = subprocess.Popen(
        [sys.executable, __file__, "--serve", "--bind", bind],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )
    try:
        assert child.stdout is not None and child.stdin is not None
        info = json.loads(child.stdout.readline())
        yield info["ca_file"], [Target(**t) for t in info["targets"]]
    finally:
        if child.stdin is not None:
            child.stdin.close()
        try:
            child.wait(10)
        except subprocess.TimeoutExpired:
            child.kill()


# --- running the tools -------------------------------------------------------------------------
def _timed(argv: list[str], cwd: str) -> tuple[float, subprocess.CompletedProcess[str]]:
    for name in os.listdir(cwd):  # output files of the previous run (testssl appends to its)
        os.unlink(os.path.join(cwd, name))
    started = time.monotonic()
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=TIMEOUT, cwd=cwd)
    return time.monotonic() - started, proc


def _label(version: str) -> str:
    """Any tool's spelling -> "SSLv3", "TLS 1.2", ..."""
    v = version.strip().replace("_", ".").upper().replace("TLSV", "TLS ").replace("TLS ", "TLS")
    v = v.replace("SSLV", "SSLv").replace("SSL ", "SSLv").replace("V.", "v")
    table = {"SSLv2": "SSLv2", "SSLv3": "SSLv3", "SSLv2.0": "SSLv2", "SSLv3.0": "SSLv3",
             "TLS1": "TLS 1.0", "TLS1.0": "TLS 1.0", "TLS1.1": "TLS 1.1", "TLS1.2": "TLS 1.2",
             "TLS1.3": "TLS 1.3"}
    return table.get(v.replace(" ", ""), version)


def _iana(code: int) -> str:
    return ciphersuites.suite_name(code)


def run_mailtls(t: Target, bind: str, ca_file: str, tmp: str) -> Found:
    argv = [sys.executable, "-m", "mailtls", "check", "localhost", "--address", bind,
            "--service", f"{t.service}={t.port}", "--ca-file", ca_file, "--format", "json"]
    seconds, proc = _timed(argv, tmp)
    report = json.loads(proc.stdout)
    endpoint = report["hosts"][0]["endpoints"][0]
    scan = endpoint["tls_scan"]
    found = Found(seconds=[seconds])
    found.versions = {v: bool(ok) for v, ok in scan["versions"].items() if ok is not None}
    found.suites = {v: set(names) for v, names in scan["suites"].items() if names}
    found.extra = {"enumeration_seconds": scan["seconds"], "connections": scan["connections"],
                   "check_seconds": endpoint["seconds"], "errors": scan["errors"],
                   "groups": scan["groups"], "ecdhe_groups": scan["ecdhe_groups"]}
    return found


def _sslyze() -> str | None:
    path = os.environ.get("SSLYZE", "/tmp/sslyze-venv/bin/sslyze")
    return path if os.path.exists(path) else shutil.which("sslyze")


def run_sslyze(t: Target, bind: str, ca_file: str, tmp: str) -> Found:
    exe = _sslyze()
    if exe is None:
        return Found(error="sslyze not installed")
    out = os.path.join(tmp, "sslyze.json")
    argv = [exe, "--quiet", f"--json_out={out}", "--sslv2", "--sslv3", "--tlsv1", "--tlsv1_1",
            "--tlsv1_2", "--tlsv1_3", "--elliptic_curves"]
    if t.starttls:
        argv += ["--starttls", t.protocol]
    seconds, _ = _timed([*argv, f"{bind}:{t.port}"], tmp)
    result = json.loads(Path(out).read_text())["server_scan_results"][0]
    found = Found(seconds=[seconds])
    if result.get("scan_status") != "COMPLETED":
        found.error = str(result.get("connectivity_error_trace") or result.get("scan_status"))
        return found
    keys = {"ssl_2_0": "SSLv2", "ssl_3_0": "SSLv3", "tls_1_0": "TLS 1.0", "tls_1_1": "TLS 1.1",
            "tls_1_2": "TLS 1.2", "tls_1_3": "TLS 1.3"}
    for key, version in keys.items():
        attempt = result["scan_result"].get(f"{key}_cipher_suites") or {}
        if attempt.get("status") != "COMPLETED":
            continue
        names = {c["cipher_suite"]["name"] for c in attempt["result"]["accepted_cipher_suites"]}
        found.versions[version] = bool(names)
        if names:
            found.suites[version] = names
    curves = (result["scan_result"].get("elliptic_curves") or {}).get("result") or {}
    found.extra["curves"] = [c["name"] for c in curves.get("supported_curves") or []]
    return found


def run_testssl(t: Target, bind: str, ca_file: str, tmp: str) -> Found:
    exe = shutil.which("testssl") or shutil.which("testssl.sh")
    if exe is None:
        return Found(error="testssl.sh not installed")
    out = os.path.join(tmp, "testssl.json")
    argv = [exe, "--nodns", "none", "--ip", bind, "--quiet", "--color", "0", "--warnings", "off",
            "-p", "-E", "--jsonfile", out]
    if t.starttls:
        argv += ["-t", t.protocol]
    seconds, _ = _timed([*argv, f"localhost:{t.port}"], tmp)
    found = Found(seconds=[seconds])
    names = {"SSLv2": "SSLv2", "SSLv3": "SSLv3", "TLS1": "TLS 1.0", "TLS1_1": "TLS 1.1",
             "TLS1_2": "TLS 1.2", "TLS1_3": "TLS 1.3"}
    for entry in json.loads(Path(out).read_text()):
        ident, text = entry["id"], entry["finding"]
        if ident in names:
            found.versions[names[ident]] = text.startswith("offered")
        elif ident.startswith("cipher-") and "_x" in ident:
            proto, _, hexcode = ident.removeprefix("cipher-").rpartition("_x")
            version = _label(proto.replace("tls1", "TLS1").replace("ssl", "SSLv"))
            found.suites.setdefault(version, set()).add(_iana(int(hexcode, 16)))
        elif ident == "scanProblem":
            found.error = text
    return found


def run_sslscan(t: Target, bind: str, ca_file: str, tmp: str) -> Found:
    exe = shutil.which("sslscan")
    if exe is None:
        return Found(error="sslscan not installed")
    out = os.path.join(tmp, "sslscan.xml")
    argv = [exe, "--no-colour", f"--xml={out}"]
    if t.starttls:
        argv.append(f"--starttls-{t.protocol}")
    seconds, proc = _timed([*argv, f"{bind}:{t.port}"], tmp)
    found = Found(seconds=[seconds])
    root = ET.parse(out).getroot() if os.path.getsize(out) else None
    test = root.find("ssltest") if root is not None else None
    if test is None:
        lines = (proc.stdout + proc.stderr).splitlines()
        found.error = next((ln for ln in lines if "ERROR" in ln), "no result")[:160]
        return found
    for proto in test.iter("protocol"):
        prefix = "SSLv" if proto.get("type") == "ssl" else "TLS "
        found.versions[_label(prefix + (proto.get("version") or ""))] = proto.get("enabled") == "1"
    for cipher in test.iter("cipher"):
        version = _label(cipher.get("sslversion") or "")
        found.suites.setdefault(version, set()).add(_iana(int(cipher.get("id") or "0", 16)))
    return found


def run_nmap(t: Target, bind: str, ca_file: str, tmp: str) -> Found:
    exe = shutil.which("nmap")
    if exe is None:
        return Found(error="nmap not installed")
    out = os.path.join(tmp, "nmap.xml")
    script = "ssl-enum-ciphers"
    if not t.standard_port and not t.starttls:
        script = "+ssl-enum-ciphers"  # run it whatever the port number suggests
    argv = [exe, "-Pn", "-n", "-p", str(t.port), "--script", script, "-oX", out]
    if not t.standard_port and t.starttls:  # STARTTLS by port number, else by service (-sV)
        argv.append("-sV")
    seconds, _ = _timed([*argv, bind], tmp)
    found = Found(seconds=[seconds])
    enum_script = next((s for s in ET.parse(out).getroot().iter("script")
                        if s.get("id") == "ssl-enum-ciphers"), None)
    # ssl-enum-ciphers tries SSLv3 .. TLS 1.3 (not SSLv2); a version it does not list was refused
    found.versions = {v: False for v in VERSIONS[1:]}
    if enum_script is None:
        found.error = "ssl-enum-ciphers gave no result (STARTTLS failed?)"
        found.versions = {}
        return found
    for table in enum_script.findall("table"):
        version = _label(table.get("key") or "")
        if version not in VERSIONS:
            continue
        found.versions[version] = True
        for cipher in table.iterfind("./table[@key='ciphers']/table"):
            name = cipher.findtext("elem[@key='name']") or ""
            found.suites.setdefault(version, set()).add(name.replace("TLS_AKE_WITH_", "TLS_"))
    return found


RUNNERS: dict[str, Callable[[Target, str, str, str], Found]] = {
    "mailtls": run_mailtls, "sslyze": run_sslyze, "testssl": run_testssl,
    "sslscan": run_sslscan, "nmap": run_nmap,
}


def tool_versions() -> dict[str, str]:
    def first_line(argv: list[str]) -> str:
        try:
            proc = subprocess.run(argv, capture_output=True, text=True, timeout=30)
        except (OSError, subprocess.TimeoutExpired):
            return "not installed"
        text = re.sub(r"\x1b\[[0-9;]*m", "", proc.stdout + proc.stderr)
        lines = [ln.strip() for ln in text.splitlines() if ln.strip() and "###" not in ln]
        return lines[0] if lines else "?"

    from mailtls import __version__

    sslyze = _sslyze()
    sslyze_version = "not installed"
    if sslyze is not None:
        python = str(Path(sslyze).with_name("python"))
        sslyze_version = first_line(
            [python, "-c", "import importlib.metadata as m; print('sslyze', m.version('sslyze'))"]
        )
    return {
        "mailtls": f"mailtls {__version__}",
        "sslyze": sslyze_version,
        "testssl": first_line(["sh", "-c", "testssl --version 2>&1 | grep -m1 'testssl '"]),
        "sslscan": "sslscan " + first_line(["sslscan", "--version"]),
        "nmap": first_line(["nmap", "--version"]),
        "openssl": ssl.OPENSSL_VERSION,
    }


# --- comparing ---------------------------------------------------------------------------------
def compare(ours: Found, theirs: Found) -> dict[str, Any]:
    common = sorted(set(ours.versions) & set(theirs.versions), key=VERSIONS.index)
    version_diff = [v for v in common if ours.versions[v] != theirs.versions[v]]
    tested = set(common)
    mine = {p for p in ours.pairs if p[0] in tested}
    peer = {p for p in theirs.pairs if p[0] in tested}
    return {
        "versions_compared": common,
        "versions_differ": version_diff,
        "only_peer": sorted(f"{v} {s}" for v, s in peer - mine),
        "only_mailtls": sorted(f"{v} {s}" for v, s in mine - peer),
        "same": not version_diff and mine == peer,
    }


def run_target(
    t: Target, peers: list[str], args: argparse.Namespace, ca_file: str, tmp: str
) -> list[dict[str, Any]]:
    """Every tool against one server (``args.runs`` times each): one result row per tool."""
    found: dict[str, Found] = {}
    for peer in peers:
        times = args.testssl_runs if peer == "testssl" else args.runs
        runs = [RUNNERS[peer](t, args.bind, ca_file, tmp)]
        while len(runs) < times and runs[-1].error is None:  # a failure is not repeated
            runs.append(RUNNERS[peer](t, args.bind, ca_file, tmp))
        found[peer] = runs[-1]
        found[peer].seconds = [s for r in runs for s in r.seconds]
    rows = []
    for peer, f in found.items():
        row: dict[str, Any] = {
            "server": t.name, "port": t.port, "standard_port": t.standard_port, "peer": peer,
            "error": f.error,
            "versions": sorted((v for v, ok in f.versions.items() if ok), key=VERSIONS.index),
            "suites": len(f.pairs),
            "seconds": round(statistics.median(f.seconds), 3) if f.seconds else None,
            "extra": f.extra,
            "suites_found": {v: sorted(s) for v, s in f.suites.items()},
        }
        if peer != "mailtls" and f.error is None:
            row["comparison"] = compare(found["mailtls"], f)
        rows.append(row)
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--peers", default=",".join(PEERS))
    parser.add_argument("--runs", type=int, default=3,
                        help="runs per tool and server; the median time is reported (default 3)")
    parser.add_argument("--testssl-runs", type=int, default=1,
                        help="runs of testssl.sh per server (default 1: it takes ~10 s a run)")
    parser.add_argument("--bind", default="127.0.0.77", help="loopback address of the servers")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if not args.bind.startswith("127."):
        parser.error("--bind must be a 127.0.0.0/8 address")
    if args.serve:
        return serve(args.bind)
    peers = [p for p in args.peers.split(",") if p]
    if "mailtls" not in peers:
        peers.insert(0, "mailtls")

    started = time.monotonic()
    with server_process(args.bind) as (ca_file, targets), tempfile.TemporaryDirectory(
        prefix="mailtls-peers-"
    ) as tmp:
        results = [row for t in targets for row in run_target(t, peers, args, ca_file, tmp)]

    summary = summarize(results)
    print_table(results, summary)
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / "tls_peers.json"
    out.write_text(json.dumps({
        "tools": tool_versions(), "bind": args.bind, "runs": args.runs,
        "testssl_runs": args.testssl_runs,
        "seconds": round(time.monotonic() - started, 1), "results": results,
        "summary": summary,
    }, indent=2) + "\n")
    print(f"\nwritten: {out}")
    return 0


def summarize(results: list[dict[str, Any]]) -> dict[str, Any]:
    """Per peer: servers compared, agreement, and total wall time against mailtls's."""
    ours = {r["server"]: r for r in results if r["peer"] == "mailtls"}
    out: dict[str, Any] = {}
    for peer in {r["peer"] for r in results} - {"mailtls"}:
        rows = [r for r in results if r["peer"] == peer]
        ok = [r for r in rows if r["error"] is None]
        peer_time = sum(r["seconds"] for r in ok)
        ours_time = sum(ours[r["server"]]["seconds"] for r in ok)
        ours_enum = sum(ours[r["server"]]["extra"]["enumeration_seconds"] for r in ok)
        out[peer] = {
            "servers": len(rows), "compared": len(ok),
            "same": sum(1 for r in ok if r["comparison"]["same"]),
            "only_peer": sum(len(r["comparison"]["only_peer"]) for r in ok),
            "only_mailtls": sum(len(r["comparison"]["only_mailtls"]) for r in ok),
            "seconds": round(peer_time, 2),
            "mailtls_seconds": round(ours_time, 2),
            "ratio_check": round(peer_time / ours_time, 1) if ours_time else None,
            "ratio_enumeration": round(peer_time / ours_enum, 1) if ours_enum else None,
        }
    return out


def print_table(results: list[dict[str, Any]], summary: dict[str, Any]) -> None:
    print(f"{'server':30} {'tool':8} {'versions':32} {'suites':>6} {'agrees':16} {'wall s':>7}")
    for r in results:
        if r["error"]:
            agree = "error"
        elif r["peer"] == "mailtls":
            agree = "(reference)"
        else:
            c = r["comparison"]
            agree = "same" if c["same"] else (
                f"+{len(c['only_mailtls'])}/-{len(c['only_peer'])}"
                + (" versions!" if c["versions_differ"] else ""))
        versions = ",".join(v.replace("TLS ", "") for v in r["versions"]) or "-"
        print(f"{r['server']:30} {r['peer']:8} {versions:32} {r['suites']:>6} {agree:16} "
              f"{r['seconds'] if r['seconds'] is not None else '-':>7}")
        if r["error"]:
            print(f"{'':40}error: {r['error']}")
        elif r["peer"] != "mailtls" and not r["comparison"]["same"]:
            for line in r["comparison"]["only_peer"]:
                print(f"{'':40}only {r['peer']}: {line}")
            for line in r["comparison"]["only_mailtls"]:
                print(f"{'':40}only mailtls: {line}")
    print("\n+n/-m: n suites only mailtls found, m only the peer found (versions both test)")
    print(f"\n{'peer':8} {'same':>9} {'only peer':>9} {'only mailtls':>12} {'peer s':>7} "
          f"{'mailtls s':>9} {'x check':>8} {'x enum':>7}")
    for peer, s in sorted(summary.items()):
        print(f"{peer:8} {s['same']:>4}/{s['compared']:<4} {s['only_peer']:>9} "
              f"{s['only_mailtls']:>12} {s['seconds']:>7} {s['mailtls_seconds']:>9} "
              f"{s['ratio_check']!s:>8} {s['ratio_enumeration']!s:>7}")
    print("x check: peer wall time / mailtls check wall time (whole deep check, process start "
          "included);\nx enum: peer wall time / mailtls's enumeration time (tls_scan.seconds)")
    missed = sum(s["only_peer"] for s in summary.values())
    print(f"\ngoal 'at least what the most thorough peer finds': "
          f"{'met' if missed == 0 else f'MISSED ({missed} suite(s) only a peer found)'}")
    for peer, factor in (("nmap", 1.0), ("sslyze", 10.0)):
        if peer in summary:
            s = summary[peer]
            verdict = [f"{kind} x{s[key]}: {'met' if (s[key] or 0) >= factor else 'MISSED'}"
                       for kind, key in (("check", "ratio_check"), ("enumeration",
                                                                   "ratio_enumeration"))]
            print(f"goal 'at least {factor:g}x as fast as {peer}': {'; '.join(verdict)}")


if __name__ == "__main__":
    raise SystemExit(main())

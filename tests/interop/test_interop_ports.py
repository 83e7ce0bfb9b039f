"""mailtls against real slapd, vsftpd, INN (nnrpd) and nginx: the other secure ports of a mail
host (LDAP 389/636, FTP 21/990, NNTP 119/563, HTTP 80/443), in a good and a flawed profile.

``mailtls check mail.example.test --address 127.0.0.4x --only ldap,ldaps,ftp,ftps,nntp,nntps,
http,https`` must give exactly the expected finding ids per port (full check and ``--quick``),
and the security probes exactly the expected verdicts. A second group checks the servers with
other clients (ftplib, ldapwhoami, http.client), so a wrong verdict can be told apart from a
wrongly configured server.
"""

from __future__ import annotations

import ftplib
import http.client
import json
import os
import shutil
import ssl
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from tests.interop.interop_checks import NEUTRAL_CWD
from tests.interop.interop_servers import HOST, InteropPKI, listening_ports
from tests.interop.ports_servers import (
    PORTS,
    PROFILES,
    PortsServers,
    missing_programs,
    running_ports,
)

pytestmark = pytest.mark.interop

ONLY = "ldap,ldaps,ftp,ftps,nntp,nntps,http,https"
# The deep probes' findings: absent with --quick.
PROBE_IDS = {"ldap.auth.plaintext_accepted", "ftp.auth.plaintext_accepted",
             "nntp.auth.plaintext_accepted", "ftp.starttls.command_injection",
             "nntp.starttls.command_injection", "ftp.data.unprotected"}
EXPECTED: dict[str, dict[int, set[str]]] = {
    "good": {},
    "flawed": {
        389: {"ldap.auth.plaintext_accepted"},  # simple bind answered invalidCredentials
        21: {"ftp.auth.plaintext_accepted"},  # USER answered 331 before AUTH TLS
        # expired leaf without its intermediate
        990: {"cert.expired", "cert.untrusted", "cert.chain.incomplete"},
        119: {"nntp.starttls.refused", "nntp.auth.plaintext_offered",
              "nntp.auth.plaintext_accepted"},  # no TLS configured; AUTHINFO USER in plaintext
        563: {"tls.plaintext_on_implicit_port"},  # nnrpd -S without a certificate
        80: {"http.redirect.missing"},
        443: {"http.hsts.missing"},
    },
}
EXIT = {"good": 0, "flawed": 2}
SCHEMA = json.loads(resources.files("mailtls").joinpath("schema/report-1.json").read_text())
# A shared 2-core machine can make one enumeration hello go unanswered (info, "incomplete").
TOLERATED = {"tls.scan.incomplete"}
PROBES: dict[str, dict[tuple[int, str], tuple[str, str | None]]] = {
    "good": {
        (389, "plaintext_bind"): ("passed", "refused"),  # confidentialityRequired (13)
        (21, "command_injection"): ("passed", "handshake_failed"),
        (21, "plaintext_login"): ("passed", "refused"),
        (21, "data_protection"): ("passed", "prot_p"),
        (119, "command_injection"): ("passed", "discarded"),
        (119, "plaintext_login"): ("passed", "refused"),
    },
    "flawed": {
        (389, "plaintext_bind"): ("failed", "checked"),  # invalidCredentials (49)
        (21, "command_injection"): ("passed", "handshake_failed"),
        (21, "plaintext_login"): ("failed", "continued"),
        (21, "data_protection"): ("passed", "prot_p"),
        (119, "command_injection"): ("not_testable", None),
        (119, "plaintext_login"): ("failed", "continued"),
    },
}


def _unavailable() -> str | None:
    if sys.platform != "linux":
        return "Linux only (Debian's slapd, vsftpd, inn2, nginx)"
    missing = missing_programs()
    if missing:
        return f"not installed: {', '.join(missing)} (run scripts/install/ports.sh as root)"
    if os.geteuid() != 0:
        return "starting private slapd/vsftpd/nnrpd/nginx needs root"
    return None


@pytest.fixture(scope="module")
def ports() -> Iterator[tuple[InteropPKI, dict[str, PortsServers]]]:
    reason = _unavailable()
    if reason is not None:
        if os.environ.get("MAILTLS_INTEROP") == "require":
            pytest.fail(f"interop suite required (MAILTLS_INTEROP=require) but: {reason}")
        pytest.skip(f"interop (other ports): {reason}")
    directory = Path(tempfile.mkdtemp(prefix="mailtls-ports-pki-"))
    try:
        pki = InteropPKI(directory / "pki")
        with running_ports(pki) as servers:
            yield pki, servers
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def _check(pki: InteropPKI, server: PortsServers, *extra: str,
           only: tuple[str, ...] = ("--only", ONLY)) -> tuple[int, dict[str, Any]]:
    proc = subprocess.run(
        [sys.executable, "-m", "mailtls", "check", HOST, "--address", server.address,
         "--ca-file", str(pki.ca_file), *only, "--format", "json", *extra],
        capture_output=True, text=True, timeout=120, check=False, cwd=NEUTRAL_CWD,
        env={**os.environ, "NO_COLOR": "1"},
    )
    try:
        return proc.returncode, json.loads(proc.stdout)
    except json.JSONDecodeError as exc:
        raise AssertionError(
            f"no JSON report:\n{proc.stdout[:2000]}\n{proc.stderr[:2000]}"
        ) from exc


_CACHE: dict[tuple[str, ...], tuple[int, dict[str, Any]]] = {}


def check(ports: tuple[InteropPKI, dict[str, PortsServers]], profile: str,
          *extra: str) -> tuple[int, dict[str, Any]]:
    key = (profile, *extra)
    if key not in _CACHE:
        pki, servers = ports
        _CACHE[key] = _check(pki, servers[profile], *extra)
    return _CACHE[key]


def _ids(report: dict[str, Any]) -> dict[int, set[str]]:
    out: dict[int, set[str]] = {}
    for f in report["hosts"][0]["findings"]:
        port = int(f["endpoint"].rsplit(":", 1)[1]) if f["endpoint"] else 0
        if f["id"] not in TOLERATED:
            out.setdefault(port, set()).add(f["id"])
    return out


def _describe(report: dict[str, Any]) -> str:
    return "\n".join(f"  {f['severity']:7} {f['id']:34} {f['endpoint']}: {f['summary'][:160]}"
                     for f in report["hosts"][0]["findings"])


@pytest.mark.parametrize("profile", list(PROFILES))
def test_exact_findings(ports: tuple[InteropPKI, dict[str, PortsServers]], profile: str) -> None:
    code, report = check(ports, profile)
    assert _ids(report) == EXPECTED[profile], _describe(report)
    assert code == EXIT[profile], _describe(report)
    jsonschema.validate(report, SCHEMA)
    endpoints = {e["port"]: e for e in report["hosts"][0]["endpoints"]}
    assert set(endpoints) == set(PORTS.values())
    assert all(e["state"] == "open" for e in endpoints.values())


@pytest.mark.parametrize("profile", list(PROFILES))
def test_exact_findings_quick(
    ports: tuple[InteropPKI, dict[str, PortsServers]], profile: str
) -> None:
    code, report = check(ports, profile, "--quick")
    expected = {port: ids - PROBE_IDS for port, ids in EXPECTED[profile].items()}
    assert _ids(report) == {p: ids for p, ids in expected.items() if ids}, _describe(report)
    assert code == EXIT[profile]


@pytest.mark.parametrize("profile", list(PROFILES))
def test_probe_verdicts(ports: tuple[InteropPKI, dict[str, PortsServers]], profile: str) -> None:
    _code, report = check(ports, profile)
    seen = {(e["port"], p["name"]): (p["verdict"], p.get("detail"))
            for e in report["hosts"][0]["endpoints"] for p in e.get("security") or ()}
    assert seen == PROBES[profile]


def test_tls_on_every_tls_port(ports: tuple[InteropPKI, dict[str, PortsServers]]) -> None:
    """Good profile: every port but 80 ends in verified TLS 1.3, over its own way of starting
    it, and the enumeration found exactly TLS 1.2 and 1.3 with ECDHE suites."""
    _code, report = check(ports, "good")
    for e in report["hosts"][0]["endpoints"]:
        if e["port"] == 80:
            assert e["tls"] is None
            continue
        assert e["tls"]["version"] == "TLSv1.3", e["port"]
        assert e["tls"]["verification"]["trusted"], e["port"]
        scan = e["tls_scan"]
        accepted = {v for v, ok in scan["versions"].items() if ok}
        assert accepted == {"TLS 1.2", "TLS 1.3"}, (e["port"], scan["versions"])
        assert all("ECDHE" in s for s in scan["suites"]["TLS 1.2"]), e["port"]


def test_http_facts(ports: tuple[InteropPKI, dict[str, PortsServers]]) -> None:
    _code, report = check(ports, "good")
    endpoints = {e["port"]: e for e in report["hosts"][0]["endpoints"]}
    plain = json.dumps(endpoints[80])
    assert "301" in plain and "https://mail.example.test/" in plain
    assert "max-age=31536000" in json.dumps(endpoints[443])


def test_made_up_password_never_in_the_report(
    ports: tuple[InteropPKI, dict[str, PortsServers]]
) -> None:
    for profile in PROFILES:
        _code, report = check(ports, profile)
        text = json.dumps(report)
        assert "not-a-password" not in text
        assert "mailtls-probe-" in text  # the made-up user name is shown, as evidence


def test_group_options(ports: tuple[InteropPKI, dict[str, PortsServers]]) -> None:
    """--services picks groups; --also adds them to the seven mail ports, which are closed
    here: "not offered" (info), not "could not test"."""
    pki, servers = ports
    code, report = _check(pki, servers["good"], "--quick", only=("--services", "web,ldap"))
    endpoints = {e["port"]: e["state"] for e in report["hosts"][0]["endpoints"]}
    assert endpoints == {80: "open", 443: "open", 389: "open", 636: "open"}
    assert code == 0, _describe(report)
    code, report = _check(pki, servers["good"], "--quick", only=("--also", "news"))
    endpoints = {e["port"]: e["state"] for e in report["hosts"][0]["endpoints"]}
    assert set(endpoints) == {25, 587, 465, 143, 993, 110, 995, 119, 563}
    assert endpoints[119] == endpoints[563] == "open"
    assert {f["id"] for f in report["hosts"][0]["findings"]} == {"port.refused"}
    assert {f["severity"] for f in report["hosts"][0]["findings"]} == {"info"}
    assert code == 0, _describe(report)


# --- the servers themselves, with other clients ---------------------------------------------------


def _context(pki: InteropPKI) -> ssl.SSLContext:
    ctx = ssl.create_default_context(cafile=str(pki.ca_file))
    return ctx


def test_vsftpd_good_with_ftplib(ports: tuple[InteropPKI, dict[str, PortsServers]]) -> None:
    pki, servers = ports
    address = servers["good"].address
    with ftplib.FTP_TLS(context=_context(pki), timeout=10) as ftp:
        ftp.connect(address, 21)
        # ftplib checks the certificate against the host it connected to: use SNI/name
        ftp.host = HOST
        ftp.auth()
        assert isinstance(ftp.sock, ssl.SSLSocket)
        assert ftp.sock.version() == "TLSv1.3"
        assert ftp.prot_p().startswith("200")


def test_vsftpd_flawed_takes_user_in_plaintext(
    ports: tuple[InteropPKI, dict[str, PortsServers]]
) -> None:
    _pki, servers = ports
    with ftplib.FTP(timeout=10) as ftp:
        ftp.connect(servers["flawed"].address, 21)
        assert ftp.sendcmd("USER mailtls-probe-x").startswith("331")
    with ftplib.FTP(timeout=10) as ftp:
        ftp.connect(servers["good"].address, 21)
        with pytest.raises(ftplib.error_perm, match="530"):
            ftp.sendcmd("USER mailtls-probe-x")


@pytest.mark.skipif(shutil.which("ldapwhoami") is None, reason="ldap-utils not installed")
def test_slapd_with_ldapwhoami(ports: tuple[InteropPKI, dict[str, PortsServers]]) -> None:
    pki, servers = ports
    # connected by address, the name cannot match: the chain itself is mailtls's to judge
    env = {**os.environ, "LDAPTLS_CACERT": str(pki.ca_file), "LDAPTLS_REQCERT": "never"}
    for profile in PROFILES:
        address = servers[profile].address
        # anonymous over StartTLS (-ZZ: fail if StartTLS fails)
        ok = subprocess.run(["ldapwhoami", "-x", "-ZZ", "-H", f"ldap://{address}:389/"],
                            capture_output=True, text=True, timeout=20, env=env, check=False)
        assert ok.returncode == 0 and "anonymous" in ok.stdout, ok.stderr
    # a simple bind in plaintext: 13 from the good slapd, 49 from the flawed one
    results = {}
    for profile in PROFILES:
        address = servers[profile].address
        proc = subprocess.run(
            ["ldapwhoami", "-x", "-H", f"ldap://{address}:389/", "-D",
             "cn=nobody,dc=example,dc=test", "-w", "made-up"],
            capture_output=True, text=True, timeout=20, env=env, check=False)
        results[profile] = proc.returncode
    assert results == {"good": 13, "flawed": 49}


def test_nginx_with_http_client(ports: tuple[InteropPKI, dict[str, PortsServers]]) -> None:
    pki, servers = ports
    address = servers["good"].address
    conn = http.client.HTTPConnection(address, 80, timeout=10)
    conn.request("GET", "/", headers={"Host": HOST})
    response = conn.getresponse()
    assert response.status == 301
    assert response.getheader("Location") == f"https://{HOST}/"
    conn.close()
    ctx = _context(pki)
    ctx.check_hostname = False  # we connect by address; the name is checked by mailtls tests
    tls = http.client.HTTPSConnection(address, 443, timeout=10, context=ctx)
    tls.request("GET", "/", headers={"Host": HOST})
    response = tls.getresponse()
    assert response.getheader("Strict-Transport-Security") == "max-age=31536000"
    tls.close()


def test_stopped_servers_leave_nothing(ports: tuple[InteropPKI, dict[str, PortsServers]]) -> None:
    """A separate instance started and stopped: no listener, no process left behind."""
    pki, _servers = ports
    profile = PROFILES["good"].__class__("scratch", "127.0.0.42", False)
    root = Path(tempfile.mkdtemp(prefix="mailtls-ports-scratch-"))
    os.chmod(root, 0o755)
    server = PortsServers(profile, pki, root)
    try:
        server.start()
        assert set(PORTS.values()) <= listening_ports(profile.address)
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)
    deadline = time.monotonic() + 5
    while listening_ports(profile.address) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not listening_ports(profile.address)
    assert all(p.poll() is not None for p in server.procs.values())

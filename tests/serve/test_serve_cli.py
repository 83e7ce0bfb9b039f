"""``mailtls serve`` on the command line: JSON against its schema, JUnit, the interactive drive,
usage errors in one line, and no password anywhere in the output."""

from __future__ import annotations

import json
import re
import threading
import xml.etree.ElementTree as ET
from importlib import resources
from pathlib import Path

import jsonschema
import pytest

from mailtls.cli.serve import listen_warning
from mailtls.serve.cases import Protocol, select_cases
from mailtls.serve.runner import ServeConfig, run_serve
from tests.cli_runner import cli_output
from tests.serve.serve_helpers import need

SCHEMA = json.loads(resources.files("mailtls").joinpath("schema/serve-1.json").read_text())
CURL = "curl -sS --max-time 10 --cacert {cafile} -u {user}:{password}"
_PASSWORD_ARG = re.compile(r"-u mailtls-test:([0-9a-f]{24})")


def test_json_validates_and_holds_no_password(capsys: pytest.CaptureFixture[str]) -> None:
    need("curl")
    code, out, err = cli_output(
        capsys, "serve", "--protocol", "pop3", "--port-base", "0", "--format", "json",
        "--case", "control.starttls", "--case", "starttls.stripped", "--timeout", "15",
        "--run", CURL + " --ssl pop3://{host}:{port}/")
    assert code == 2, err
    doc = json.loads(out)
    jsonschema.validate(doc, SCHEMA)
    assert doc["summary"] == {"safe": 1, "vulnerable": 1, "inconclusive": 0}
    stripped = doc["cases"][1]
    assert stripped["id"] == "pop3.starttls.stripped"
    creds = stripped["connections"][0]["credentials"]
    assert creds[0]["tls"] is False and creds[0]["matches_test_password"] is True
    # the same password, hashed with the run's salt, in both sessions
    control_hash = doc["cases"][0]["connections"][0]["credentials"][0]["hash_prefix"]
    assert creds[0]["hash_prefix"] == control_hash
    assert "***" in json.dumps(stripped["connections"][0]["transcript"])
    assert not _PASSWORD_ARG.search(out)  # the template is shown unfilled
    assert "{password}" in doc["run"]
    for case in doc["cases"]:
        for conn in case["connections"]:
            for line in conn["transcript"]:
                assert not re.search(r"[0-9a-f]{24}", line["text"]), line


def test_junit_and_terminal(capsys: pytest.CaptureFixture[str]) -> None:
    need("curl")
    argv = ["serve", "--protocol", "imap", "--port-base", "0", "--case", "cert.expired",
            "--case", "starttls.refused", "--timeout", "15",
            "--run", CURL + " --ssl imap://{host}:{port}/"]
    code, out, _ = cli_output(capsys, *argv, "--format", "junit")
    assert code == 2
    root = ET.fromstring(out)
    suite = root.find("testsuite")
    assert suite is not None and suite.get("failures") == "1" and suite.get("tests") == "2"
    failed = [c.get("name") for c in root.iter("testcase") if c.find("failure") is not None]
    assert failed == ["imap.starttls.refused"]
    code, out, _ = cli_output(capsys, *argv, "--no-color")
    assert code == 2
    assert "imap.starttls.refused" in out and "vulnerable" in out
    assert "1 safe, 1 vulnerable, 0 inconclusive" in out


def test_interactive_drive_announces_each_case_and_waits() -> None:
    """The interactive drive: a 'user' (a thread running curl) reads host and port from the
    announcement and checks mail; the case ends when the session is over."""
    need("curl")
    import subprocess

    seen: list[str] = []
    workers: list[threading.Thread] = []

    def announce(text: str) -> None:
        seen.append(text)
        match = re.search(r"server (\S+)\s+port (\d+)", text)
        if match is None:
            return
        host, port = match.groups()
        user = re.search(r"user name:\s+(\S+)", seen[0])
        password = re.search(r"password:\s+(\S+)", seen[0])
        ca = re.search(r"test CA:\s+(\S+)", seen[0])
        assert user and password and ca
        argv = ["curl", "-sS", "--max-time", "10", "--ssl-reqd", "--cacert", ca.group(1),
                "-u", f"{user.group(1)}:{password.group(1)}", f"imap://{host}:{port}/"]
        worker = threading.Thread(target=subprocess.run, args=(argv,),
                                  kwargs={"capture_output": True, "timeout": 15})
        worker.start()
        workers.append(worker)

    config = ServeConfig(cases=tuple(select_cases(("imap",), ("control.starttls",
                                                               "starttls.stripped"))),
                         port_base=0, case_timeout=20, quiet=0.5, announce=announce)
    result = run_serve(config)
    for worker in workers:
        worker.join(20)
    assert result.drive == "interactive"
    assert [r.judgement.verdict for r in result.results] == ["safe", "safe"]
    assert len(workers) == 2
    assert "security STARTTLS" in seen[1]


def test_interactive_case_without_a_client_is_inconclusive() -> None:
    config = ServeConfig(cases=tuple(select_cases(("smtp",), ("control.implicit",))),
                         port_base=0, case_timeout=0.5, announce=lambda text: None)
    result = run_serve(config)
    assert result.results[0].judgement.verdict == "inconclusive"
    assert result.results[0].judgement.reason == "the client never connected"


@pytest.mark.parametrize(("argv", "message"), [
    (["--run", "curl {nope}"], "unknown placeholder {nope}"),
    (["--run", "no-such-client-xyz {host}"], "command not found: no-such-client-xyz"),
    (["--run", "curl 'unbalanced"], "cannot split"),
    (["--run", "curl \0"], "NUL byte"),
    (["--case", "imap.nothing"], "no case matches"),
    (["--protocol", "ftp"], "unknown protocol"),
])
def test_usage_errors_are_one_line(capsys: pytest.CaptureFixture[str], argv: list[str],
                                   message: str) -> None:
    code, out, err = cli_output(capsys, "serve", "--port-base", "0", *argv)
    assert code == 3
    assert message in err and len(err.strip().splitlines()) == 1 and not out


def test_list_and_listen_warning(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = cli_output(capsys, "serve", "--list", "--protocol", "imap")
    assert code == 0
    assert "imap.preauth.plaintext" in out and "smtp." not in out
    assert listen_warning("127.0.0.1") is None and listen_warning("::1") is None
    warning = listen_warning("192.0.2.10")
    assert warning is not None and "NOT loopback" in warning and "opens" in warning


def test_write_ca_and_default_ports(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """--write-ca writes the run's CA, and a client trusting only that file passes the control
    case on the default port (10000 + the standard port)."""
    need("curl")
    ca = tmp_path / "ca.pem"
    code, out, err = cli_output(
        capsys, "serve", "--protocol", "imap", "--case", "control.implicit", "--timeout", "15",
        "--write-ca", str(ca), "--format", "json",
        "--run", "curl -sS --max-time 10 --cacert " + str(ca)
        + " -u {user}:{password} imaps://{host}:{port}/")
    assert code == 0, err
    case = json.loads(out)["cases"][0]
    assert case["port"] == 10993 and case["verdict"] == "safe"
    assert ca.read_text().startswith("-----BEGIN CERTIFICATE-----")


HOSTILE_CLIENT = """
import socket, sys
s = socket.create_connection((sys.argv[1], int(sys.argv[2])), 5)
s.settimeout(10)
s.recv(4096)
s.sendall(sys.argv[3].encode() * 20000 + b"\\r\\n")
while s.recv(65536):
    pass
"""


@pytest.mark.parametrize("protocol", ["smtp", "imap", "pop3"])
def test_an_endless_line_from_the_client_ends_its_session(protocol: Protocol) -> None:
    import sys

    config = ServeConfig(
        cases=tuple(select_cases((protocol,), ("control.starttls",))), port_base=0,
        run=f"{sys.executable} -c '{HOSTILE_CLIENT}' {{host}} {{port}} \xe9A",
        case_timeout=15, announce=lambda text: None)
    result = run_serve(config).results[0]
    assert result.judgement.verdict == "inconclusive"
    conn = result.connections[0]
    assert conn.closed_by == "server"
    assert any("line too long" in t.text for t in conn.transcript)
    assert result.client is not None and result.client.exit_code == 0

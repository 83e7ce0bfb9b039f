"""HOST:PORT and [IPv6]:PORT targets with the service from the standard port or from
--starttls/--implicit, against real loopback servers."""

from __future__ import annotations

import json
import socket
from typing import Any

import pytest

from mailtls.cli import main
from mailtls.cli.targets import service_for, split_target
from mailtls.errors import UsageError
from mailtls.testing import TestPKI, start_imap, start_smtp


@pytest.mark.parametrize(("text", "expected"), [
    ("mail.example.test", ("mail.example.test", None)),
    ("mail.example.test:587", ("mail.example.test", 587)),
    ("127.0.0.1:2525", ("127.0.0.1", 2525)),
    ("[::1]:993", ("::1", 993)),
    ("[::1]", ("::1", None)),
    ("::1", ("::1", None)),
    ("2001:db8::25", ("2001:db8::25", None)),
])
def test_split_target(text: str, expected: tuple[str, int | None]) -> None:
    assert split_target(text) == expected


@pytest.mark.parametrize("text", ["host:0", "host:70000", "host:abc", ":25", "[nope]:25"])
def test_bad_targets_are_one_line(text: str) -> None:
    with pytest.raises(UsageError):
        split_target(text)


def test_service_from_port_or_flag() -> None:
    assert service_for(443, None, None, "t") == "https"  # the other services too
    assert [service_for(p, None, None, "t") for p in (25, 587, 465, 143, 993, 110, 995)] == [
        "smtp", "submission", "submissions", "imap", "imaps", "pop3", "pop3s"]
    assert service_for(2525, "smtp", None, "t") == "submission"
    assert service_for(25, "smtp", None, "t") == "smtp"
    assert service_for(10993, None, "imap", "t") == "imaps"
    assert service_for(465, "smtp", None, "t") == "submission"  # the flag wins
    with pytest.raises(UsageError, match="not a standard mail port"):
        service_for(2525, None, None, "127.0.0.1:2525")


def _json(capsys: Any, *argv: str) -> tuple[int, dict[str, Any]]:
    code = main(["check", *argv, "--quick", "--format", "json"])
    return code, json.loads(capsys.readouterr().out)


def test_host_port_with_starttls(pki: TestPKI, capsys: Any) -> None:
    with start_smtp(pki) as smtp:
        code, doc = _json(capsys, f"127.0.0.1:{smtp.port}", "--starttls", "smtp",
                          "--ca-file", pki.ca_file())
    assert code != 3  # tested: not a usage error, not "could not test"
    (host,) = doc["hosts"]
    assert host["name"] == "127.0.0.1"
    (endpoint,) = host["endpoints"]
    assert endpoint["service"] == "submission" and endpoint["port"] == smtp.port
    assert endpoint["tls"]["version"] in ("TLSv1.2", "TLSv1.3")


def test_ipv6_host_port_with_implicit(pki: TestPKI, capsys: Any) -> None:
    try:
        with socket.socket(socket.AF_INET6) as s:
            s.bind(("::1", 0))
    except OSError:
        pytest.skip("no IPv6 loopback here")
    with start_imap(pki, host="::1", implicit_tls=True) as imaps:
        code, doc = _json(capsys, f"[::1]:{imaps.port}", "--implicit", "imap",
                          "--ca-file", pki.ca_file())
    assert code != 3
    (endpoint,) = doc["hosts"][0]["endpoints"]
    assert endpoint["endpoint"] == f"[::1]:{imaps.port}" and endpoint["service"] == "imaps"
    assert endpoint["tls"] is not None


def test_nonstandard_port_needs_a_hint(capsys: Any) -> None:
    assert main(["check", "127.0.0.1:2525"]) == 3
    err = capsys.readouterr().err
    assert "--starttls smtp|imap|pop3" in err and len(err.strip().splitlines()) == 1
    assert main(["check", "127.0.0.1", "--starttls", "smtp"]) == 3
    assert "needs a HOST:PORT target" in capsys.readouterr().err


def test_ipv4_or_ipv6_only(pki: TestPKI, capsys: Any) -> None:
    """-4 / -6 keep one address family of each host (here: of the addresses given)."""
    with start_smtp(pki) as smtp:
        base = ["mail.example.test", "--address", "127.0.0.1", "--address", "::1",
                "--service", f"submission={smtp.port}", "--ca-file", pki.ca_file(),
                "--connect-timeout", "2"]
        _, four = _json(capsys, *base, "-4")
        _, six = _json(capsys, *base, "-6")
        _, both = _json(capsys, *base)
    assert [e["address"] for e in four["hosts"][0]["endpoints"]] == ["127.0.0.1"]
    assert [e["address"] for e in six["hosts"][0]["endpoints"]] == ["::1"]
    assert {e["address"] for e in both["hosts"][0]["endpoints"]} == {"127.0.0.1", "::1"}
    with pytest.raises(SystemExit) as exited:  # one or the other: a usage error
        main(["check", "localhost", "-4", "-6"])
    assert exited.value.code == 3
    assert "not allowed with" in capsys.readouterr().err


def test_no_address_of_the_family_is_one_line(capsys: Any) -> None:
    code, doc = _json(capsys, "mail.example.test", "--address", "127.0.0.1", "-6")
    assert code == 3
    assert "no IPv6 address (-6)" in doc["hosts"][0]["resolve_error"]


def test_ehlo_name_on_every_smtp_connection(pki: TestPKI, capsys: Any) -> None:
    """--ehlo NAME: the probe, the security probes and the login all greet with NAME."""
    with start_smtp(pki) as smtp:
        code = main(["check", f"127.0.0.1:{smtp.port}", "--starttls", "smtp", "--ehlo",
                     "mx.example.test",
                     "--ca-file", pki.ca_file(), "--format", "json"])
    doc = json.loads(capsys.readouterr().out)
    assert code != 3
    (endpoint,) = doc["hosts"][0]["endpoints"]
    said = [t["text"] for t in endpoint["transcript"] if t["dir"] == "C"]
    said += [t["text"] for p in endpoint["security"] for t in p.get("transcript", ())
             if t["dir"] == "C"]
    ehlos = [line for line in said if line.upper().startswith("EHLO ")]
    assert ehlos and "EHLO mx.example.test" in ehlos
    assert not [line for line in ehlos if line == "EHLO mailtls.invalid"]


@pytest.mark.parametrize("bad", ["a b", "x\r\nMAIL FROM:<a@b>", "-x", "[nope]", "a..b"])
def test_ehlo_name_is_checked(bad: str, capsys: Any) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["check", "mail.example.test", f"--ehlo={bad}"])
    assert exited.value.code == 3
    assert "not a domain or address literal" in capsys.readouterr().err

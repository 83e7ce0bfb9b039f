"""Bad command-line values: refused before any I/O, one sentence saying why, exit 3."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from mailtls.testing import TestPKI
from tests.cli_runner import cli_output

HOST = "mail.example.test"


def _refused_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])  # closed again: connecting is refused


def _one_error(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    code, out, err = cli_output(capsys, *argv)
    assert (code, out) == (3, ""), err
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    return err.strip()


@pytest.mark.parametrize("content", [b"", b"\n\n", b"garbage\x00\xff" * 20,
                                     b"-----BEGIN CERTIFICATE-----\nnot base64 !!\n"
                                     b"-----END CERTIFICATE-----\n"],
                         ids=["empty", "blank", "garbage", "broken-pem"])
def test_ca_file_without_a_certificate(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                       content: bytes) -> None:
    path = tmp_path / "ca.pem"
    path.write_bytes(content)
    err = _one_error(capsys, "check", HOST, "--address", "127.0.0.1", "--ca-file", str(path))
    assert err.startswith(f"mailtls: error: --ca-file: no PEM certificate in {path}"), err


def test_ca_file_directory_and_missing(capsys: pytest.CaptureFixture[str],
                                       tmp_path: Path) -> None:
    err = _one_error(capsys, "check", HOST, "--ca-file", str(tmp_path))
    assert err == f"mailtls: error: --ca-file: no PEM certificate in {tmp_path}: it is a directory"
    err = _one_error(capsys, "check", HOST, "--ca-file", str(tmp_path / "none.pem"))
    assert err == f"mailtls: error: --ca-file: no such file: {tmp_path / 'none.pem'}"


def test_a_real_ca_file_is_accepted(pki: TestPKI) -> None:
    from mailtls.net.truststore import check_ca_file

    assert check_ca_file(pki.ca_file()) == pki.ca_file()


@pytest.mark.parametrize(("address", "why"), [
    ("notanip", "its name is HOST"),
    ("999.1.1.1", "four numbers 0 to 255"),
    ("1.2.3", "four numbers 0 to 255"),
    ("::zz", "not a valid IPv6 address"),
])
def test_address_must_be_an_ip_address(capsys: pytest.CaptureFixture[str], address: str,
                                       why: str) -> None:
    err = _one_error(capsys, "check", HOST, "--address", address, "--only", "smtp")
    assert err.startswith(f"mailtls: error: --address: not an IP address: {address!r}"), err
    assert why in err


def test_address_literals_are_normalised(capsys: pytest.CaptureFixture[str]) -> None:
    from mailtls.formats.arguments import check_address

    assert check_address("[::1]") == "::1"
    assert check_address(" 127.0.0.1 ") == "127.0.0.1"


@pytest.mark.parametrize("only", ["", ",", " , "])
def test_only_naming_no_service(capsys: pytest.CaptureFixture[str], only: str) -> None:
    err = _one_error(capsys, "check", HOST, "--only", only)
    assert "names no service" in err and "known: smtp" in err


@pytest.mark.parametrize(("name", "why"), [
    ("a" * 300, "the name is 300 characters long; DNS allows at most 253"),
    ("x" * 70 + ".example.com", "is 70 characters long; DNS allows at most 63"),
    ("mail..example.com", "empty label"),
])
def test_host_name_says_why_it_is_invalid(capsys: pytest.CaptureFixture[str], name: str,
                                          why: str) -> None:
    err = _one_error(capsys, "check", name)
    assert err.startswith("mailtls: error: not a valid host name: ") and why in err, err
    assert len(err) < 250  # the name is not echoed whole


def test_init_where_nothing_answered_writes_nothing(capsys: pytest.CaptureFixture[str]) -> None:
    port = _refused_port()
    code, out, err = cli_output(capsys, "init", HOST, "--address", "127.0.0.1", "--service",
                                f"submission={port}", "--timeout", "10")
    assert (code, out) == (3, "")
    assert err.strip() == (f"mailtls: no port answered on {HOST} ({port} refused): no "
                           "expectations to write (check the name, --address, or a firewall "
                           "between here and the server)")

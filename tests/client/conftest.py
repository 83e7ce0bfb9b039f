"""Fixtures of the mail-client suite: the login-test runner and the credential audit.

Every test server started by a client test is remembered; when the session ends, none of them
may have received a password (or its base64 forms) outside TLS. Tests that must see that the
password was not sent at all, not even inside TLS, read ``RunningServer.credentials``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from mailtls.testing import PASSWORD, USERNAME, RunningServer, TestPKI, started_servers
from tests.cli_runner import Run, check_argv, run_cli
from tests.client.client_helpers import ALL_SECRET_FORMS, CLIENT_NAMES, HOST

_client_servers: list[RunningServer] = []


@pytest.fixture(scope="session")
def client_pki() -> Iterator[TestPKI]:
    """Certificates naming the client tests' hosts (autoconfig web servers, mail servers)."""
    with TestPKI(CLIENT_NAMES) as p:
        yield p


@pytest.fixture
def client_cli(capsys: pytest.CaptureFixture[str], client_pki: TestPKI,
               monkeypatch: pytest.MonkeyPatch) -> Callable[..., Run]:
    """``mailtls client ...`` in-process, JSON, trusting the client PKI, short timeouts."""

    def run(*args: str, json_out: bool = True, password: str | None = None) -> Run:
        argv = ["client", *args, "--ca-file", client_pki.ca_file(), "--timeout", "30",
                "--read-timeout", "2", "--handshake-timeout", "2", "--connect-timeout", "2"]
        if json_out:
            argv += ["--format", "json"]
        if password is not None:
            monkeypatch.setenv("MAILTLS_PASSWORD", password)
        return run_cli(capsys, argv)

    return run


@pytest.fixture(scope="session")
def _credential_audit() -> Iterator[list[RunningServer]]:
    yield _client_servers
    leaks = [
        (s.name, line)
        for s in _client_servers
        for line in s.plaintext_credentials
        if any(form in line for form in ALL_SECRET_FORMS)
    ]
    assert not leaks, f"a password reached a test server outside TLS: {leaks}"


@pytest.fixture(autouse=True)
def _remember_servers(_credential_audit: list[RunningServer]) -> Iterator[None]:
    before = len(started_servers())
    yield
    _credential_audit.extend(started_servers()[before:])


@pytest.fixture
def login_check(
    capsys: pytest.CaptureFixture[str], pki: TestPKI, monkeypatch: pytest.MonkeyPatch
) -> Callable[..., Run]:
    """``mailtls check --user`` in-process; the password through MAILTLS_PASSWORD."""

    def run(*services: str, password: str | None = PASSWORD, user: str = USERNAME,
            extra: tuple[str, ...] = (), json_out: bool = True, trust: bool = True,
            host: str = HOST) -> Run:
        argv = [*check_argv(host, services, ca_file=pki.ca_file() if trust else None,
                            json_out=json_out, quick=True, timeout="30"), "--user", user]
        if password is None:
            monkeypatch.delenv("MAILTLS_PASSWORD", raising=False)
        else:
            monkeypatch.setenv("MAILTLS_PASSWORD", password)
        return run_cli(capsys, [*argv, *extra])

    return run

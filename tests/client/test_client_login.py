"""The login test (``--user``): real logins against the loopback servers, sent only inside TLS
with a verified certificate; the password never appears in any output."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from importlib import resources
from typing import Any

import jsonschema
import pytest

from mailtls.cli.app import main
from mailtls.errors import UsageError
from mailtls.model.credentials import INSECURE_FLAG, LoginCredentials, Secret
from mailtls.testing import (
    PASSWORD,
    CertKind,
    TestPKI,
    start_imap,
    start_pop3,
    start_smtp,
)
from tests.cli_runner import Run
from tests.client.client_helpers import WRONG_PASSWORD, assert_no_secret

SCHEMA = json.loads(resources.files("mailtls").joinpath("schema/report-1.json").read_text())
LoginCheck = Callable[..., Run]


def _six(pki: TestPKI, **kwargs: Any) -> list[Any]:
    return [
        start_smtp(pki, **kwargs),
        start_smtp(pki, implicit_tls=True, **kwargs),
        start_imap(pki, **kwargs),
        start_imap(pki, implicit_tls=True, **kwargs),
        start_pop3(pki, **kwargs),
        start_pop3(pki, implicit_tls=True, **kwargs),
    ]


_NAMES = ("submission", "submissions", "imap", "imaps", "pop3", "pop3s")


def _services(servers: list[Any]) -> list[str]:
    return [f"{n}={s.port}" for n, s in zip(_NAMES, servers, strict=True)]


def test_login_succeeds_on_every_port_only_inside_verified_tls(
    pki: TestPKI, login_check: LoginCheck
) -> None:
    servers = _six(pki)
    try:
        run = login_check(*_services(servers))
    finally:
        for s in servers:
            s.stop()
    assert run.code == 0, run.out
    jsonschema.validate(run.report, SCHEMA)
    assert len(run.by_id("auth.login.succeeded")) == 6
    for name, login in run.logins.items():
        assert login["outcome"] == "succeeded", name
        assert login["sent"] and login["verified"] and not login["override"]
        assert login["tls_version"] in ("TLSv1.2", "TLSv1.3")
    assert run.report["options"]["login_user"] == "user"
    for s in servers:
        assert s.credentials, s.name  # it did log in ...
        assert s.plaintext_credentials == []  # ... and only inside TLS
    assert_no_secret(run.out, run.err)


def test_wrong_password_is_a_failure_with_the_servers_answer(
    pki: TestPKI, login_check: LoginCheck
) -> None:
    servers = _six(pki)
    try:
        run = login_check(*_services(servers), password=WRONG_PASSWORD)
    finally:
        for s in servers:
            s.stop()
    assert run.code == 2
    failed = run.by_id("auth.login.failed")
    assert len(failed) == 6
    evidence = " ".join(e for f in failed for e in f["evidence"])
    assert "535" in evidence and "AUTHENTICATIONFAILED" in evidence and "-ERR" in evidence
    assert {login["outcome"] for login in run.logins.values()} == {"failed"}
    assert_no_secret(run.out, run.err)


def test_plaintext_only_servers_never_get_the_password(
    pki: TestPKI, login_check: LoginCheck
) -> None:
    """Servers that offer login only in plaintext (no STARTTLS): nothing is sent, even with
    the override, which never lifts "only inside TLS"."""
    with start_smtp(pki, starttls=False, auth_before_tls=True) as smtp, \
            start_imap(pki, starttls=False, logindisabled=False) as imap, \
            start_pop3(pki, starttls=False, user_before_tls=True) as pop3:
        services = (f"submission={smtp.port}", f"imap={imap.port}", f"pop3={pop3.port}")
        run = login_check(*services)
        loud = login_check(*services, extra=(INSECURE_FLAG,))
    for r in (run, loud):
        assert len(r.by_id("auth.login.no_tls")) == 3
        assert {login["sent"] for login in r.logins.values()} == {False}
    for s in (smtp, imap, pop3):
        assert s.credentials == [], s.name
    assert_no_secret(run.out, loud.out)


@pytest.mark.parametrize("cert", ["self_signed", "wrong_name", "expired"])
def test_unverified_certificate_means_no_login_attempt(
    cert: CertKind, pki: TestPKI, login_check: LoginCheck
) -> None:
    with start_imap(pki, cert=cert, implicit_tls=True) as imaps, \
            start_smtp(pki, cert=cert) as smtp:
        run = login_check(f"imaps={imaps.port}", f"submission={smtp.port}")
    refused = run.by_id("auth.login.refused_unverified")
    assert len(refused) == 2, run.ids
    assert INSECURE_FLAG in refused[0]["summary"]
    assert run.code == 2  # the certificate findings themselves are failures
    assert imaps.credentials == [] and smtp.credentials == []  # nothing, not even under TLS


def test_untrusted_store_means_no_login_attempt(pki: TestPKI, login_check: LoginCheck) -> None:
    """Without --ca-file the system store does not know the test CA: no login."""
    with start_pop3(pki, implicit_tls=True) as pop3s:
        run = login_check(f"pop3s={pop3s.port}", trust=False)
    assert run.ids >= {"auth.login.refused_unverified", "cert.untrusted"}
    assert pop3s.credentials == []


def test_override_sends_to_an_unverified_server_inside_tls_and_says_so(
    pki: TestPKI, login_check: LoginCheck
) -> None:
    with start_imap(pki, cert="self_signed") as imap, \
            start_smtp(pki, cert="wrong_name", implicit_tls=True) as smtps:
        run = login_check(f"imap={imap.port}", f"submissions={smtps.port}",
                          extra=(INSECURE_FLAG,))
    assert len(run.by_id("auth.login.succeeded")) == 2
    assert len(run.by_id("auth.login.unverified_override")) == 2
    assert run.report["options"]["login_insecure_override"] is True
    for login in run.logins.values():
        assert login["sent"] and login["override"] and not login["verified"]
    assert imap.credentials and imap.plaintext_credentials == []
    assert smtps.credentials and smtps.plaintext_credentials == []


def test_port_25_is_never_logged_into(pki: TestPKI, login_check: LoginCheck) -> None:
    with start_smtp(pki) as smtp:
        run = login_check(f"smtp={smtp.port}")
    assert run.logins == {}
    assert not [i for i in run.ids if i.startswith("auth.login.")]
    assert smtp.credentials == []


def test_password_never_in_text_verbose_or_json(
    pki: TestPKI, login_check: LoginCheck
) -> None:
    with start_smtp(pki) as smtp, start_imap(pki) as imap, start_pop3(pki) as pop3:
        services = (f"submission={smtp.port}", f"imap={imap.port}", f"pop3={pop3.port}")
        runs = [
            login_check(*services, json_out=False, extra=("-v",)),
            login_check(*services, json_out=False, extra=("-v",), password=WRONG_PASSWORD),
            login_check(*services, extra=("-v",)),
            login_check(*services, password=WRONG_PASSWORD),
        ]
    text = runs[0].out
    assert "AUTH PLAIN ***" in text and "AUTHENTICATE PLAIN ***" in text
    assert "login test as 'user'" in text
    for r in runs:
        assert_no_secret(r.out, r.err)
    transcript = [t["text"] for e in runs[2].endpoints for t in e["transcript"]]
    assert any("***" in line for line in transcript)


def test_password_comes_from_the_environment_or_a_prompt(
    pki: TestPKI, login_check: LoginCheck, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    with start_imap(pki, implicit_tls=True) as imaps:
        # no MAILTLS_PASSWORD and no terminal: a usage error, nothing sent
        no_tty = login_check(f"imaps={imaps.port}", password=None)
        assert no_tty.code == 3 and "MAILTLS_PASSWORD" in no_tty.err
        assert imaps.credentials == []
        # a terminal: getpass asks
        asked: list[str] = []

        def fake_getpass(prompt: str) -> str:
            asked.append(prompt)
            return PASSWORD

        monkeypatch.setattr(sys.stdin, "isatty", lambda: True, raising=False)
        monkeypatch.setattr("getpass.getpass", fake_getpass)
        prompted = login_check(f"imaps={imaps.port}", password=None)
    assert asked == ["password for user: "]
    assert prompted.code == 0 and "auth.login.succeeded" in prompted.ids
    assert_no_secret(prompted.out, prompted.err)


def test_no_password_option_and_override_needs_user(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as exited:  # argparse: there is no such option
        main(["check", "127.0.0.1", "--user", "u", "--password", "x"])
    assert exited.value.code == 3
    assert main(["check", "127.0.0.1", INSECURE_FLAG]) == 3
    assert "needs --user" in capsys.readouterr().err


def test_secret_never_shows_itself() -> None:
    creds = LoginCredentials("user", Secret(PASSWORD))
    assert PASSWORD not in repr(creds) and PASSWORD not in str(creds.password)
    assert PASSWORD not in f"{creds.password}"
    with pytest.raises(UsageError) as info:
        LoginCredentials("user", Secret("line\r\nbreak-secret"))
    assert "break-secret" not in str(info.value)

"""mailtls against real Postfix and Dovecot (Debian packages), one profile per loopback address.

Every profile is checked with ``python -m mailtls check mail.example.test --address
127.0.0.1x --ca-file CA --format json`` (all seven ports), once in full and once with
``--quick``; the tests read those reports. The expected finding ids per port are exact (see
EXPECTED_FINDINGS for the few deep-probe ids allowed on top): a new rule that fires against
one of these real servers must be reviewed here, not slip through.

A second group checks the profiles themselves with Python's own clients (so a wrong verdict
can be told apart from a wrongly configured server), and a third the harness: a taken port
is reported clearly, and a stopped instance leaves no process or listener behind.
"""

from __future__ import annotations

import datetime as dt
import imaplib
import poplib
import smtplib
import socket
import ssl
from collections.abc import Callable
from typing import Any

import pytest

from tests.interop.interop_checks import CheckResult, Interop
from tests.interop.interop_servers import (
    ALL_PORTS,
    HOST,
    PASSWORD,
    USER,
    InteropError,
    MailServer,
    Profile,
    listening_ports,
    pids_under,
    running,
)
from tests.verdicts import contradictions

pytestmark = pytest.mark.interop

ALL = set(ALL_PORTS.values())  # 25 587 465 143 993 110 995
STARTTLS_PORTS = {25, 587, 143, 110}
IMPLICIT_PORTS = {465, 993, 995}

# What mailtls must report, per port. With --quick (one handshake per port) this is exact:
# nothing more, nothing less. A full check adds the deep probes (TLS version/suite enumeration,
# STARTTLS security probes), whose rules are still being written: their findings may come on
# top where OPTIONAL_FINDINGS or TOLERATED_EXTRA (id prefixes) allow it - any other extra
# fails. "a|b" means either id will do: with the enumeration, the version verdict moves from
# tls.version.legacy (the negotiated version) to tls.version.legacy_accepted (every accepted
# version).
LEGACY = "tls.version.legacy|tls.version.legacy_accepted"
EXPECTED_FINDINGS: dict[str, dict[int, set[str]]] = {
    "good": {},
    "legacy": {port: {LEGACY} for port in ALL},
    "plaintext-login": {
        587: {"smtp.auth.plaintext_offered"},
        143: {"imap.auth.plaintext_offered"},
        110: {"pop3.auth.plaintext_offered"},
    },
    "no-starttls": {
        25: {"smtp.starttls.not_offered"},
        # Postfix without TLS still offers AUTH on submission: the password goes in the clear.
        587: {"smtp.starttls.not_offered", "smtp.auth.plaintext_offered"},
        143: {"imap.starttls.not_offered"},  # Dovecot's default: LOGINDISABLED without TLS
        110: {"pop3.starttls.not_offered"},  # ... and no USER, no SASL mechanism
        **{port: {"port.refused", "service.no_implicit_tls"} for port in IMPLICIT_PORTS},
    },
    "expired-chain": {port: {"cert.expired", "cert.untrusted", "cert.chain.incomplete"}
                      for port in ALL},
    "submission-may": {},
}
# Deep-probe verdicts that are right for these servers (move them into EXPECTED_FINDINGS once
# the probes are settled): Postfix answers AUTH PLAIN with 334 and Dovecot checks LOGIN/USER
# before TLS where the profile lets them, and submission without smtpd_tls_security_level =
# encrypt takes MAIL FROM before STARTTLS.
OPTIONAL_FINDINGS: dict[str, dict[int, set[str]]] = {
    "plaintext-login": {
        587: {"smtp.auth.plaintext_accepted", "smtp.starttls.not_enforced"},
        143: {"imap.auth.plaintext_accepted"},
        110: {"pop3.auth.plaintext_accepted"},
    },
    "no-starttls": {587: {"smtp.auth.plaintext_accepted"}},
}
# The legacy profile's weak TLS also draws the enumeration's rules (tls.version.no_tls12,
# tls.version.no_tls13, tls.cipher.no_forward_secrecy for its kRSA suites, ...).
TOLERATED_EXTRA: dict[str, tuple[str, ...]] = {"legacy": ("tls.version.", "tls.cipher")}
# Exit codes of a --quick check; a full check may only be worse (an optional fail above).
EXPECTED_EXIT = {"good": 0, "legacy": 2, "plaintext-login": 1, "no-starttls": 2,
                 "expired-chain": 2, "submission-may": 0}
FULL_CHECK_PROFILES = list(EXPECTED_FINDINGS)


def _ports(result: CheckResult) -> dict[int, dict[str, Any]]:
    return {port: result.endpoint(port) for port in ALL}


# --- the verdicts -------------------------------------------------------------------------------


def _assert_findings(profile: str, result: CheckResult, *, deep: bool = True) -> None:
    found = result.ids_by_port()
    expected = EXPECTED_FINDINGS[profile]
    optional = OPTIONAL_FINDINGS.get(profile, {}) if deep else {}
    tolerated = TOLERATED_EXTRA.get(profile, ()) if deep else ()
    missing = {
        p: {e for e in wanted if not set(e.split("|")) & found.get(p, set())}
        for p, wanted in expected.items()
    }
    extra = {
        p: {
            i for i in ids
            if not any(i in e.split("|") for e in expected.get(p, set()))
            and i not in optional.get(p, set())
            and not i.startswith(tolerated)
        }
        for p, ids in found.items()
    }
    assert not any(missing.values()), f"missing {missing}\n{result.describe()}"
    assert not any(extra.values()), f"unexpected {extra}\n{result.describe()}"


@pytest.mark.parametrize("profile", FULL_CHECK_PROFILES)
def test_findings_per_port(profile: str, mailtls_check: Callable[[str], CheckResult]) -> None:
    result = mailtls_check(profile)
    crashed = {e["port"]: e["error"] for e in result.host["endpoints"]
               if e["error_kind"] == "internal"}
    assert not crashed, f"mailtls crashed while probing: {crashed}"
    _assert_findings(profile, result)
    assert {e["port"] for e in result.host["endpoints"]} == ALL
    address = {e["address"] for e in result.host["endpoints"]}
    assert address == {result.args[3]}


@pytest.mark.parametrize("profile", FULL_CHECK_PROFILES)
def test_no_probe_verdict_contradicts_the_findings(
    profile: str, mailtls_check: Callable[[str], CheckResult]
) -> None:
    """Real Dovecot lists a bare ``SASL`` in its plaintext POP3 CAPA: the capability_change
    probe once called that "login offered before TLS" (failed) while no finding said so."""
    result = mailtls_check(profile)
    problems = []
    for endpoint in result.host["endpoints"]:
        proto = {"submission": "smtp", "submissions": "smtp", "imaps": "imap",
                 "pop3s": "pop3"}.get(endpoint["service"], endpoint["service"])
        problems += contradictions(f"{profile} {endpoint['port']}", proto, endpoint,
                                   result.findings(endpoint["port"]))
    assert problems == []
    pop3 = {p["name"]: p for p in result.endpoint(110).get("security", [])}
    if profile == "good":
        assert pop3["capability_change"]["verdict"] == "passed", pop3["capability_change"]


def _exit_code_of(result: CheckResult) -> int:
    """The exit-code contract (--fail-on warn): fail 2 > unknown 3 > warn 1 > clean 0."""
    severities = {f["severity"] for f in result.findings()}
    for severity, code in (("fail", 2), ("unknown", 3), ("warn", 1)):
        if severity in severities:
            return code
    return 0


@pytest.mark.parametrize("profile", FULL_CHECK_PROFILES)
def test_exit_code(profile: str, mailtls_check: Callable[[str], CheckResult]) -> None:
    result = mailtls_check(profile)
    assert result.exit_code == _exit_code_of(result), result.describe()
    assert result.exit_code >= EXPECTED_EXIT[profile], result.describe()
    assert result.exit_code != 3, result.describe()  # every profile must be testable
    assert result.report["summary"]["exit_code"] == result.exit_code


# A good server costs one connection per port; a certificate that fails verification costs a
# second one to inspect it (ARCHITECTURE.md, "Verify first, inspect second").
QUICK_CONNECTIONS = {"good": 7, "legacy": 7, "plaintext-login": 7, "no-starttls": 7,
                     "expired-chain": 14, "submission-may": 7}


@pytest.mark.parametrize("profile", list(QUICK_CONNECTIONS))
def test_quick_check(
    profile: str,
    mailtls_check: Callable[[str], CheckResult],
    mailtls_run: Callable[..., CheckResult],
) -> None:
    """--quick (no enumeration): the same verdict from one handshake per port."""
    mailtls_check(profile)  # the full check first (for good: postscreen sees it first)
    result = mailtls_run(profile, "--quick")
    _assert_findings(profile, result, deep=False)
    assert result.exit_code == EXPECTED_EXIT[profile], result.describe()
    assert result.report["summary"]["connections"] == QUICK_CONNECTIONS[profile]
    if profile == "legacy":  # without enumeration the verdict is the negotiated version's
        for port in ALL:
            assert "tls.version.legacy" in result.ids_by_port().get(port, set()), port


# --- good ---------------------------------------------------------------------------------------


def test_good_endpoint_facts(mailtls_check: Callable[[str], CheckResult]) -> None:
    result = mailtls_check("good")
    for port, e in _ports(result).items():
        assert e["state"] == "open", (port, e["error"])
        tls = e["tls"]
        assert tls is not None, (port, e["error"])
        assert tls["version"] == "TLSv1.3", port
        assert tls["verification"]["trusted"] is True, (port, tls["verification"])
        assert len(tls["chain"]) == 2, f"{port}: leaf + intermediate expected"
        assert HOST in tls["chain"][0]["dns_names"]
        if port in STARTTLS_PORTS:
            assert e["starttls_offered"] is True and e["starttls_accepted"] is True, port
        else:
            assert e["starttls_offered"] is False, port

    def before(port: int) -> list[str]:
        return [c.upper() for c in result.endpoint(port)["capabilities_before_tls"]]

    def after(port: int) -> list[str]:
        return [c.upper() for c in result.endpoint(port)["capabilities_after_tls"]]

    # SMTP: AUTH only under TLS on submission, never on the MX port.
    assert not [c for c in before(587) if c.startswith("AUTH")]
    assert "AUTH PLAIN LOGIN" in after(587)
    assert "AUTH PLAIN LOGIN" in after(465)
    assert not [c for c in before(25) + after(25) if c.startswith("AUTH")]
    # IMAP: LOGINDISABLED and no AUTH= before STARTTLS; PLAIN after.
    assert "LOGINDISABLED" in before(143)
    assert not [c for c in before(143) if c.startswith("AUTH=")]
    assert "AUTH=PLAIN" in after(143) and "LOGINDISABLED" not in after(143)
    # POP3: no USER before STLS (Dovecot ssl=required), USER after.
    assert "USER" not in before(110) and "USER" in after(110)


def test_good_postscreen_greeting_delay(
    interop: Interop, mailtls_check: Callable[[str], CheckResult]
) -> None:
    """postscreen sends "220-", waits postscreen_greet_wait (6 s), then smtpd sends "220 ".

    mailtls must wait for the last line without talking (talking early is a PREGREET
    violation, and postscreen_greet_action = enforce would then refuse the mail).
    """
    result = mailtls_check("good")
    e = result.endpoint(25)
    assert e["greeting"][0].startswith("220-") and e["greeting"][-1].startswith("220 ")
    first_command = next(t for t in e["transcript"] if t["dir"] == "C")
    assert first_command["at"] >= 5.0, "mailtls spoke before postscreen's greet wait (6 s) ended"
    log = interop.servers["good"].postfix_log()
    assert "PASS NEW [127.0.0.1]" in log, log[-3000:]
    assert "PREGREET" not in log, log[-3000:]
    assert result.wall_seconds >= 5.0


def test_good_recheck_after_postscreen_pass(
    interop: Interop,
    mailtls_check: Callable[[str], CheckResult],
    mailtls_run: Callable[..., CheckResult],
) -> None:
    """Checked again, all seven ports at once: postscreen's cache now lets 127.0.0.1 straight
    through to smtpd (no greeting delay), and Dovecot's default login-process limits
    (high-security mode, one imap-login/pop3-login process per connection, none pre-forked)
    serve the burst of connections without refusing any."""
    first = mailtls_check("good")
    again = mailtls_run("good", "--max-connections", "7")
    assert again.exit_code == 0, again.describe()
    assert again.ids_by_port() == {}, again.describe()
    greeting = again.endpoint(25)["greeting"]
    assert len(greeting) == 1 and greeting[0].startswith("220 "), greeting
    assert again.wall_seconds < first.wall_seconds
    dovecot_log = interop.servers["good"].dovecot_log()
    for limit in ("process_limit", "client_limit", "Maximum number of connections",
                  "mail_max_userip_connections"):
        assert limit not in dovecot_log, dovecot_log[-3000:]


def test_endpoint_seconds_are_per_port(mailtls_check: Callable[[str], CheckResult]) -> None:
    result = mailtls_check("good")
    slow = result.endpoint(25)["seconds"]  # postscreen: about 6 s
    fast = result.endpoint(993)["seconds"]  # implicit TLS to Dovecot: well under a second
    last_line = result.endpoint(993)["transcript"][-1]["at"]
    assert fast < slow / 2, (fast, slow)
    assert fast <= last_line + 1.0, (fast, last_line)


def test_transcript_stamps_each_line_on_arrival(
    mailtls_check: Callable[[str], CheckResult],
) -> None:
    e = mailtls_check("good").endpoint(25)
    first, last = [t for t in e["transcript"] if t["dir"] == "S"][:2]
    assert first["text"].startswith("220-") and last["text"].startswith("220 ")
    if last["at"] < 5.0:
        # postscreen remembers a client that passed: later contacts get no greet pause.
        pytest.skip("postscreen let this client through at once (cached from an earlier check)")
    assert first["at"] < 1.0, (first, last)


# --- the flawed profiles ------------------------------------------------------------------------


def test_legacy_endpoint_facts(mailtls_check: Callable[[str], CheckResult]) -> None:
    result = mailtls_check("legacy")
    for port, e in _ports(result).items():
        assert e["tls"] is not None, (port, e["error"])
        assert e["tls"]["version"] == "TLSv1.1", port  # the best the server can do
        assert e["tls"]["verification"]["trusted"] is True, port
    for port in ALL:
        legacy = [f for f in result.findings(port) if f["id"] in LEGACY.split("|")]
        assert legacy and {f["severity"] for f in legacy} == {"fail"}, (port, legacy)


def test_plaintext_login_endpoint_facts(mailtls_check: Callable[[str], CheckResult]) -> None:
    result = mailtls_check("plaintext-login")
    before = {port: [c.upper() for c in (result.endpoint(port)["capabilities_before_tls"] or [])]
              for port in STARTTLS_PORTS}
    assert "AUTH PLAIN LOGIN" in before[587] and "STARTTLS" in before[587]
    assert not [c for c in before[25] if c.startswith("AUTH")]  # no AUTH on the MX port
    assert "LOGINDISABLED" not in before[143] and "AUTH=PLAIN" in before[143]
    assert "USER" in before[110] and "STLS" in before[110]
    for port, e in _ports(result).items():
        assert e["tls"] is not None and e["tls"]["version"] == "TLSv1.3", port
    offered = [f for f in result.findings() if f["id"].endswith(".auth.plaintext_offered")]
    assert len(offered) == 3 and {f["severity"] for f in offered} == {"warn"}


def test_no_starttls_endpoint_facts(mailtls_check: Callable[[str], CheckResult]) -> None:
    result = mailtls_check("no-starttls")
    for port in STARTTLS_PORTS:
        e = result.endpoint(port)
        assert e["state"] == "open" and e["greeting_ok"] is True, port
        assert e["starttls_offered"] is False and e["tls"] is None, port
    for port in IMPLICIT_PORTS:
        assert result.endpoint(port)["state"] == "refused", port
    severities = {(f["id"], f["severity"]) for f in result.findings()}
    assert ("smtp.starttls.not_offered", "fail") in severities
    assert ("port.refused", "info") in severities


def test_expired_chain_endpoint_facts(mailtls_check: Callable[[str], CheckResult]) -> None:
    result = mailtls_check("expired-chain")
    started = dt.datetime.fromisoformat(result.report["started_at"])
    for port, e in _ports(result).items():
        tls = e["tls"]
        assert tls is not None, (port, e["error"])
        verification = tls["verification"]
        assert verification["trusted"] is False, port
        # OpenSSL stops at the missing issuer (20) before it looks at the dates.
        assert verification["code"] == 20, (port, verification)
        assert len(tls["chain"]) == 1, f"{port}: the server must send the leaf alone"
        assert dt.datetime.fromisoformat(tls["chain"][0]["not_after"]) < started
        assert e["connections"] >= 2, f"{port}: verify, then reconnect to inspect"
    for f in result.findings():
        if (f["id"] in ("cert.untrusted", "cert.chain.incomplete")
                and f["endpoint"].endswith(":25")):
            # An MX is reached by senders that do not authenticate it (RFC 7672 §1.3).
            assert f["severity"] == "warn", f
        else:
            assert f["severity"] == "fail", f


def test_submission_may_refuses_mail_without_tls(interop: Interop) -> None:
    """The facts behind the next test: before STARTTLS, 587 takes MAIL FROM (Postfix applies
    smtpd_client_restrictions at RCPT, smtpd_delay_reject = yes) but offers no AUTH and
    refuses every recipient; after STARTTLS it offers AUTH."""
    server = interop.servers["submission-may"]
    with smtplib.SMTP(server.address, 587, timeout=10) as smtp:
        smtp.ehlo("client.example.test")
        assert smtp.has_extn("starttls") and not smtp.has_extn("auth")
        assert smtp.mail("sender@example.test")[0] == 250
        code, reply = smtp.rcpt("recipient@example.org")
        assert code == 554 and b"Access denied" in reply, (code, reply)
        assert smtp.rcpt("postmaster@example.test")[0] == 554  # not even local recipients
        smtp.rset()
        smtp.starttls(context=_client_context(interop, check_hostname=False))
        smtp.ehlo("client.example.test")
        assert smtp.has_extn("auth")


def test_submission_may_not_flagged_as_unenforced(
    mailtls_check: Callable[[str], CheckResult], known_rules: set[str]
) -> None:
    if "smtp.starttls.not_enforced" not in known_rules:
        pytest.skip("this mailtls has no STARTTLS-enforcement probe (smtp.starttls.not_enforced)")
    result = mailtls_check("submission-may")
    assert result.ids_by_port() == {}, result.describe()
    assert result.exit_code == 0, result.describe()


# --- the profiles themselves, seen by Python's own clients ------------------------------------


def _client_context(
    interop: Interop, *, legacy: bool = False, check_hostname: bool = True
) -> ssl.SSLContext:
    ctx = ssl.create_default_context(cafile=str(interop.pki.ca_file))
    ctx.check_hostname = check_hostname  # off when connecting by address; chain still verified
    if legacy:
        ctx.set_ciphers("ALL:@SECLEVEL=0")
        ctx.minimum_version = ssl.TLSVersion.TLSv1
    return ctx


def _handshake(server: MailServer, port: int, ctx: ssl.SSLContext) -> tuple[str, str]:
    with (
        socket.create_connection((server.address, port), timeout=10) as raw,
        ctx.wrap_socket(raw, server_hostname=HOST) as tls,
    ):
        cipher = tls.cipher()
        return str(tls.version()), cipher[0] if cipher else ""


@pytest.mark.parametrize("port", [465, 993, 995])
def test_good_profile_speaks_tls12_and_13_only(interop: Interop, port: int) -> None:
    server = interop.servers["good"]
    assert _handshake(server, port, _client_context(interop))[0] == "TLSv1.3"
    tls12 = _client_context(interop)
    tls12.maximum_version = ssl.TLSVersion.TLSv1_2
    version, cipher = _handshake(server, port, tls12)
    assert version == "TLSv1.2" and cipher.startswith("ECDHE-"), cipher
    assert "GCM" in cipher or "CHACHA20" in cipher, cipher
    old = _client_context(interop, legacy=True)
    old.maximum_version = ssl.TLSVersion.TLSv1_1
    with pytest.raises(ssl.SSLError):
        _handshake(server, port, old)


@pytest.mark.parametrize("port", [465, 993, 995])
def test_legacy_profile_speaks_tls10_and_11_only(interop: Interop, port: int) -> None:
    server = interop.servers["legacy"]
    for version in (ssl.TLSVersion.TLSv1, ssl.TLSVersion.TLSv1_1):
        ctx = _client_context(interop, legacy=True)
        ctx.maximum_version = version
        assert _handshake(server, port, ctx)[0] == version.name.replace("_", "."), version
    modern = _client_context(interop)
    modern.minimum_version = ssl.TLSVersion.TLSv1_2
    with pytest.raises(ssl.SSLError):
        _handshake(server, port, modern)


def test_good_profile_logins_work_under_tls(interop: Interop) -> None:
    """The AUTH that mailtls sees is real: Postfix asks Dovecot's auth socket (SASL)."""
    server = interop.servers["good"]
    ctx = _client_context(interop, check_hostname=False)  # connected by address
    with smtplib.SMTP(server.address, 587, timeout=10) as smtp:
        smtp.ehlo("client.example.test")
        assert not smtp.has_extn("auth")
        smtp.starttls(context=ctx)
        smtp.ehlo("client.example.test")
        assert smtp.login(USER, PASSWORD)[0] == 235
    with smtplib.SMTP_SSL(server.address, 465, timeout=10, context=ctx) as smtps:
        smtps.ehlo("client.example.test")
        assert smtps.login(USER, PASSWORD)[0] == 235
    with imaplib.IMAP4(server.address, 143, timeout=10) as imap:
        assert "LOGINDISABLED" in imap.capabilities
        imap.starttls(ssl_context=ctx)
        assert imap.login(USER, PASSWORD)[0] == "OK"
    with imaplib.IMAP4_SSL(server.address, 993, ssl_context=ctx, timeout=10) as imaps:
        assert imaps.login(USER, PASSWORD)[0] == "OK"
    pop = poplib.POP3_SSL(server.address, 995, context=ctx, timeout=10)
    try:
        pop.user(USER)
        assert pop.pass_(PASSWORD).startswith(b"+OK")
    finally:
        pop.quit()


# --- the harness --------------------------------------------------------------------------------


def test_taken_port_is_reported_clearly(interop: Interop, tmp_path: Any) -> None:
    profile = Profile("busy", "127.0.0.20", "none", implicit=False)
    with socket.socket() as squatter:
        squatter.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        squatter.bind(("127.0.0.20", 143))
        squatter.listen(1)
        server = MailServer(profile, interop.pki, tmp_path / "busy")
        with pytest.raises(InteropError, match=r"127\.0\.0\.20:143") as info:
            server.start()
    assert "already in use" in str(info.value)
    assert not server.started and pids_under(tmp_path) == []


def test_stop_leaves_no_process_and_no_listener(interop_available: None) -> None:
    profile = Profile("lifecycle", "127.0.0.17", "modern", implicit=True)
    with running([profile]) as (_pki, servers):
        server = servers["lifecycle"]
        root = server.root.parent
        assert set(profile.ports.values()) <= listening_ports(profile.address)
        assert pids_under(root), "no process found under the instance directory"
    assert pids_under(root) == []
    assert not (ALL & listening_ports(profile.address))
    assert not root.exists()

"""``mailtls serve`` against real mail clients from Debian's packages (scripts/install/clients.sh):
curl (IMAP, POP3, SMTP), msmtp (SMTP, GnuTLS) and isync's mbsync (IMAP, OpenSSL).

Each test asserts the verdicts the client's documented behaviour implies:
* curl ``--ssl-reqd`` requires TLS, ``--ssl`` "reverts to a non-secure connection if the server
  does not support SSL/TLS" (curl(1)): vulnerable to stripping and to a refused STARTTLS;
  curl >= 7.79 fails on data after the STARTTLS go-ahead (CVE-2021-22947).
* msmtp with ``tls on`` needs STARTTLS when ``tls_starttls on`` and verifies the certificate
  against ``tls_trust_file``; its TLS versions are GnuTLS's defaults, which on Debian 12 still
  include TLS 1.0 (``tls_priorities`` removes it).
* mbsync with ``SSLType STARTTLS`` requires STARTTLS, verifies the certificate and the name
  (DNS names only: it is given ``localhost``), and prints IMAP ALERTs to the user ("*** IMAP
  ALERT ***"), including one sent before TLS. isync 1.4 does not discard responses that came
  in the same packet as the STARTTLS go-ahead: depending on when its event loop parses them,
  it takes the forged tagged answer as the answer to its first command inside TLS (vulnerable)
  or aborts on it as an unexpected reply before the handshake (safe by luck); either way its
  error names the injected line.
"""

from __future__ import annotations

import pytest

from mailtls.serve.runner import CaseResult
from tests.serve.serve_helpers import CURL_MAIL, Serve, mbsync, need

CURL = "curl -sS --max-time 10 --cacert {cafile} -u {user}:{password}"
URLS = {
    "imap": ("imap://{host}:{port}/", "imaps://{host}:{port}/"),
    "pop3": ("pop3://{host}:{port}/", "pop3s://{host}:{port}/"),
    "smtp": ("smtp://{host}:{port} " + CURL_MAIL, "smtps://{host}:{port} " + CURL_MAIL),
}


def verdicts(results: dict[str, CaseResult]) -> dict[str, str]:
    return {case_id: r.judgement.verdict for case_id, r in results.items()}


@pytest.mark.parametrize("protocol", ["imap", "pop3", "smtp"])
def test_curl_with_ssl_reqd_is_safe_in_every_case(serve: Serve, protocol: str) -> None:
    need("curl")
    plain, implicit = URLS[protocol]
    results = serve(protocol, f"{CURL} --ssl-reqd {plain}", f"{CURL} {implicit}")
    assert set(verdicts(results).values()) == {"safe"}, verdicts(results)
    control = results[f"{protocol}.control.starttls"]
    assert "completed" in control.judgement.behaviours
    creds = [c for conn in control.connections for c in conn.credentials]
    assert creds and all(c.tls and c.matches for c in creds)
    assert "credentials_tls" in results[f"{protocol}.control.implicit"].judgement.behaviours
    # the certificate cases: the handshake failed, nothing was said inside TLS
    for name in ("cert.untrusted", "cert.expired", "cert.wrong_name", "tls.tls10_only"):
        conns = results[f"{protocol}.{name}"].connections
        assert all(not c.tls_commands() for c in conns), name


@pytest.mark.parametrize("protocol", ["imap", "pop3", "smtp"])
def test_curl_with_opportunistic_ssl_falls_for_stripping(serve: Serve, protocol: str) -> None:
    need("curl")
    plain, _ = URLS[protocol]
    results = serve(protocol, f"{CURL} --ssl {plain}", None,
                    ("control.starttls", "starttls.stripped", "starttls.refused"))
    assert verdicts(results) == {
        f"{protocol}.control.starttls": "safe",
        f"{protocol}.starttls.stripped": "vulnerable",
        f"{protocol}.starttls.refused": "vulnerable",
    }
    stripped = results[f"{protocol}.starttls.stripped"]
    assert "credentials_plaintext" in stripped.judgement.behaviours
    assert any(not c.tls and c.matches for conn in stripped.connections
               for c in conn.credentials)


MSMTP = ("msmtp --host={host} --port={port} --tls=on --tls-trust-file={cafile} --auth=on "
         "--user={user} --passwordeval='echo {password}' --from=a@example.test "
         "b@example.test")


def test_msmtp(serve: Serve) -> None:
    need("msmtp")
    results = serve("smtp", MSMTP + " --tls-starttls=on", MSMTP + " --tls-starttls=off")
    expected = dict.fromkeys(results, "safe")
    expected["smtp.tls.tls10_only"] = "vulnerable"  # GnuTLS defaults on Debian 12
    assert verdicts(results) == expected
    old = results["smtp.tls.tls10_only"].connections[0]
    assert old.tls_version == "TLSv1" and old.message_accepted


def test_msmtp_with_tls_priorities_refuses_tls10(serve: Serve) -> None:
    need("msmtp")
    results = serve("smtp", MSMTP + " --tls-starttls=on "
                    "--tls-priorities=NORMAL:-VERS-TLS1.0:-VERS-TLS1.1", None,
                    ("tls.tls10_only", "control.starttls"))
    assert verdicts(results) == {"smtp.tls.tls10_only": "safe", "smtp.control.starttls": "safe"}


def test_mbsync(serve: Serve) -> None:
    need("mbsync")
    results = serve("imap", mbsync("STARTTLS"), mbsync("IMAPS"))
    expected = dict.fromkeys(results, "safe")
    expected["imap.alert.before_tls"] = "vulnerable"
    injection = results.pop("imap.starttls.injection")
    del expected["imap.starttls.injection"]
    assert verdicts(results) == expected
    alert = results["imap.alert.before_tls"]
    assert alert.client is not None and "IMAP ALERT" in alert.client.output_tail
    assert injection.client is not None and "unexpected" in injection.client.output_tail
    acted = "acted_on_injection" in injection.judgement.behaviours
    assert injection.judgement.verdict == ("vulnerable" if acted else "safe")
    assert "completed" in results["imap.control.starttls"].judgement.behaviours

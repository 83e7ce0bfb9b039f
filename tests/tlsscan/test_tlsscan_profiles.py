"""``--profile``: the same three servers judged by each yardstick, so every profile verdict is
seen both ways (a server outside the profile next to one inside it)."""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from typing import Any

import pytest

from mailtls.testing import RunningServer
from tests.tlsscan.tlsscan_servers import openssl_server, server_context

AEAD_ECDHE = "ECDHE+AESGCM:ECDHE+CHACHA20"


@pytest.fixture(scope="module")
def servers() -> Iterator[dict[str, RunningServer]]:
    """usual: OpenSSL's defaults (CBC and static-RSA suites in TLS 1.2); aead: ECDHE with AEAD
    only; dhe: aead plus DHE with a 2048-bit group; tls13: TLS 1.3 only."""
    made = {
        "usual": openssl_server(server_context(), implicit=True),
        "aead": openssl_server(server_context(ciphers=AEAD_ECDHE), implicit=True),
        "dhe": openssl_server(
            server_context(ciphers=f"{AEAD_ECDHE}:DHE-RSA-AES128-GCM-SHA256", dh_bits=2048),
            implicit=True,
        ),
        "tls13": openssl_server(
            server_context(minimum=ssl.TLSVersion.TLSv1_3), implicit=True
        ),
    }
    yield made
    for server in made.values():
        server.stop()


def _scan(deep: Any, servers: dict[str, RunningServer], profile: str) -> tuple[Any, dict[str, int]]:
    ports = {name: s.port for name, s in servers.items()}
    run = deep(*(f"submissions={p}" for p in ports.values()), profile=profile)
    assert run.run.report["options"]["profile"] == profile
    return run, ports


def _profile_ids(run: Any, port: int) -> set[str]:
    return {i for i in run.ids(port) if i.startswith("tls.profile.")}


def test_mozilla_intermediate(deep: Any, servers: dict[str, RunningServer]) -> None:
    run, port = _scan(deep, servers, "mozilla-intermediate")
    usual = run.finding(port["usual"], "tls.profile.cipher")
    assert usual["severity"] == "warn"
    assert usual["requirement"] == "profile mozilla-intermediate"
    evidence = " ".join(usual["evidence"])
    assert "TLS_RSA_WITH_AES_128_GCM_SHA256" in evidence
    assert "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256" not in evidence
    assert _profile_ids(run, port["usual"]) == {"tls.profile.cipher"}
    for name in ("aead", "tls13"):
        assert _profile_ids(run, port[name]) == set(), name


def test_mozilla_modern(deep: Any, servers: dict[str, RunningServer]) -> None:
    run, port = _scan(deep, servers, "mozilla-modern")
    for name in ("usual", "aead"):
        found = run.finding(port[name], "tls.profile.version")
        assert found["severity"] == "warn" and "TLS 1.2" in found["summary"], name
        # the TLS 1.2 suites are not judged again one by one
        assert "tls.profile.cipher" not in run.ids(port[name])
    assert _profile_ids(run, port["tls13"]) == set()


def test_ncsc(deep: Any, servers: dict[str, RunningServer]) -> None:
    run, port = _scan(deep, servers, "ncsc")
    by_severity = {
        f["severity"]: f for f in run.findings(port["usual"]) if f["id"] == "tls.profile.cipher"
    }
    assert set(by_severity) == {"fail", "warn"}
    assert "TLS_RSA_WITH_AES_256_GCM_SHA384 (insufficient" in " ".join(
        by_severity["fail"]["evidence"]
    )
    assert "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384 (phase out" in " ".join(
        by_severity["warn"]["evidence"]
    )
    # NCSC asks 3072-bit DH; the 2048-bit group passes the baseline but not the profile
    assert run.finding(port["dhe"], "tls.profile.dh")["severity"] == "warn"
    assert "tls.dh.weak" not in run.ids(port["dhe"])
    assert _profile_ids(run, port["aead"]) == set()
    assert _profile_ids(run, port["tls13"]) == set()


def test_mail_baseline_has_no_profile_findings(
    deep: Any, servers: dict[str, RunningServer]
) -> None:
    run, port = _scan(deep, servers, "mail")
    for name, p in port.items():
        assert _profile_ids(run, p) == set(), name

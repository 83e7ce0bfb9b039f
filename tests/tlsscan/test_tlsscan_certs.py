"""Certificate keys, signatures and chain shape, in a deep scan (the enumeration runs too and
must not trip over them): one server per chain kind, all in one scan, each verdict both ways."""

from __future__ import annotations

from typing import Any

from tests.tlsscan.tlsscan_servers import Chain, openssl_server, server_context

# chain kind -> the cert.* findings expected (none for the good chain: the control)
EXPECTED: dict[Chain, set[str]] = {
    "good": set(),
    "sha1_leaf": {"cert.signature.weak"},
    "sha1_intermediate": {"cert.signature.weak"},
    "rsa1024": {"cert.key.weak"},
    "root_sent": {"cert.chain.root_sent"},
    "out_of_order": {"cert.chain.order", "cert.chain.root_sent"},
    "missing_intermediate": {"cert.untrusted", "cert.chain.incomplete"},
}


def test_chain_verdicts(deep: Any) -> None:
    servers = {kind: openssl_server(server_context(kind), implicit=True) for kind in EXPECTED}
    try:
        run = deep(*(f"submissions={s.port}" for s in servers.values()))
    finally:
        for s in servers.values():
            s.stop()

    for kind, expected in EXPECTED.items():
        port = servers[kind].port
        cert_ids = {i for i in run.ids(port) if i.startswith("cert.")}
        assert cert_ids == expected, kind
        # a weak key or an old signature does not stop the enumeration
        assert run.scan(port)["versions"]["TLS 1.2"] is True, kind

    sha1_leaf = run.finding(servers["sha1_leaf"].port, "cert.signature.weak")
    assert "leaf" in sha1_leaf["summary"] and "sha1WithRSAEncryption" in sha1_leaf["summary"]
    sha1_ca = run.finding(servers["sha1_intermediate"].port, "cert.signature.weak")
    assert "certificate 2 of the chain" in sha1_ca["summary"]
    weak_key = run.finding(servers["rsa1024"].port, "cert.key.weak")
    assert "1024-bit RSA" in weak_key["summary"] and weak_key["severity"] == "fail"

    root = run.finding(servers["root_sent"].port, "cert.chain.root_sent")
    assert root["severity"] == "info" and "certificate 3 of 3" in root["summary"]
    order = run.finding(servers["out_of_order"].port, "cert.chain.order")
    assert order["severity"] == "warn"
    assert "certificate 2 of 3" in run.finding(
        servers["out_of_order"].port, "cert.chain.root_sent"
    )["summary"]
    # the root sent along is not judged for its (self-)signature, a SHA-1 one would not matter
    assert run.endpoint(servers["root_sent"].port)["tls"]["verification"]["trusted"] is True
    assert run.endpoint(servers["out_of_order"].port)["tls"]["verification"]["trusted"] is True
    missing = run.endpoint(servers["missing_intermediate"].port)
    assert missing["tls"]["verification"]["code"] == 20
    assert len(missing["tls"]["chain"]) == 1

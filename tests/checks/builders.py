"""Small builders of model observations for the table-driven tests of the pure checks.

Every builder returns a *clean* observation (one that the checks judge without any finding);
a table case changes only the fields its rule is about, with ``dataclasses.replace``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt

from mailtls.model import (
    ALL_SERVICES,
    CertificateInfo,
    Endpoint,
    PortObservation,
    PortState,
    TLSSession,
    Verification,
)

# The fixed clock of every case: the certificates' dates are relative to it.
NOW = dt.datetime(2026, 12, 6, 12, 0, tzinfo=dt.UTC)
HOST = "mail.example.test"


def cert(**changes: object) -> CertificateInfo:
    """A CA-issued leaf for HOST, valid 30 days before NOW until 300 days after."""
    base = CertificateInfo(
        subject=f"CN={HOST}", issuer="CN=Test Intermediate CA", serial="01",
        not_before=NOW - dt.timedelta(days=30), not_after=NOW + dt.timedelta(days=300),
        dns_names=(HOST,), ip_addresses=(), common_names=(HOST,),
        key_type="EC", key_bits=256, signature_algorithm="ecdsa-with-SHA256",
        self_issued=False, self_signed=False, is_ca=False, sha256_fingerprint="00" * 32,
    )
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


def tls(*chain: CertificateInfo, version: str = "TLSv1.3", trusted: bool = True,
        code: int | None = None, message: str | None = None) -> TLSSession:
    return TLSSession(
        version=version, cipher="TLS_AES_256_GCM_SHA384", cipher_bits=256,
        chain=chain or (cert(),), verification=Verification(trusted, "system", code, message),
        handshake_seconds=0.01,
    )


_CAPS = {
    "smtp": (("mail.example.test", "PIPELINING", "STARTTLS"),
             ("mail.example.test", "PIPELINING", "AUTH PLAIN LOGIN")),
    "submission": (("mail.example.test", "PIPELINING", "STARTTLS"),
                   ("mail.example.test", "PIPELINING", "AUTH PLAIN LOGIN")),
    "submissions": (None, ("mail.example.test", "PIPELINING", "AUTH PLAIN LOGIN")),
    "imap": (("IMAP4rev1", "STARTTLS", "LOGINDISABLED"), ("IMAP4rev1", "AUTH=PLAIN")),
    "imaps": (None, ("IMAP4rev1", "AUTH=PLAIN")),
    "pop3": (("TOP", "UIDL", "STLS"), ("TOP", "UIDL", "USER", "SASL PLAIN")),
    "pop3s": (None, ("TOP", "UIDL", "USER", "SASL PLAIN")),
}
_GREETING = {"smtp": "220 mail.example.test ESMTP", "imap": "* OK ready", "pop3": "+OK ready"}


def port(service: str = "submission", *, port_number: int | None = None,
         host: str = HOST, address: str = "127.0.0.1", requested: bool = False,
         **changes: object) -> PortObservation:
    """A clean, open mail port: greeting, STARTTLS offered and accepted (STARTTLS services),
    TLS 1.3 with a trusted certificate for HOST, capabilities re-read under TLS."""
    s = ALL_SERVICES[service]
    endpoint = Endpoint(host, address, port_number or s.default_port, s, requested)
    before, after = _CAPS[service]
    starttls = before is not None
    base = PortObservation(
        endpoint=endpoint, state=PortState.OPEN,
        greeting=(_GREETING[s.protocol.value],), greeting_ok=True,
        capabilities_before=before, capabilities_reply=before or (),
        starttls_offered=True if starttls else None,
        starttls_reply=("220 go ahead",) if starttls else (),
        starttls_accepted=True if starttls else None,
        tls=tls(), capabilities_after=after, capabilities_after_reply=after,
    )
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


def closed(service: str, state: PortState, *, error: str = "timed out",
           requested: bool = False, address: str = "127.0.0.1") -> PortObservation:
    s = ALL_SERVICES[service]
    endpoint = Endpoint(HOST, address, s.default_port, s, requested)
    return PortObservation(endpoint=endpoint, state=state, error=error)


def der_chain(leaf_name: str) -> tuple[bytes, bytes]:
    """A real leaf (for ``leaf_name``) and the CA that signed it, DER: DANE matches hashes of
    these bytes (the model's ``TLSSession.chain_der``)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    def name(text: str) -> x509.Name:
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, text)])

    ca_key, leaf_key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(
        ec.SECP256R1())
    start, end = NOW - dt.timedelta(days=30), NOW + dt.timedelta(days=300)
    ca = (x509.CertificateBuilder().subject_name(name("Test CA")).issuer_name(name("Test CA"))
          .public_key(ca_key.public_key()).serial_number(1).not_valid_before(start)
          .not_valid_after(end)
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .sign(ca_key, hashes.SHA256()))
    leaf = (x509.CertificateBuilder().subject_name(name(leaf_name)).issuer_name(name("Test CA"))
            .public_key(leaf_key.public_key()).serial_number(2).not_valid_before(start)
            .not_valid_after(end)
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(leaf_name)]), critical=False)
            .sign(ca_key, hashes.SHA256()))
    der = serialization.Encoding.DER
    return leaf.public_bytes(der), ca.public_bytes(der)

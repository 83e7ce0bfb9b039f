"""DER by hand, for test certificates and envelopes that no library writes (SHA-1 signatures,
CMS skeletons, malformed encodings): shared by tests/test_certs.py, tests/tlsscan, tests/fuzz."""

from __future__ import annotations

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa


def tlv(tag: int, body: bytes) -> bytes:
    """One DER element: tag, definite length (short or long form), body."""
    n = len(body)
    if n < 0x80:
        return bytes([tag, n]) + body
    raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([tag, 0x80 | len(raw)]) + raw + body


SHA256_RSA = bytes.fromhex("300d06092a864886f70d01010b0500")  # sha256WithRSAEncryption
SHA1_RSA = bytes.fromhex("300d06092a864886f70d0101050500")  # sha1WithRSAEncryption


def resign_sha1(cert: x509.Certificate, issuer_key: rsa.RSAPrivateKey) -> bytes:
    """The DER of ``cert`` (signed with SHA-256 and RSA) signed again with
    sha1WithRSAEncryption: cryptography's builder refuses SHA-1, so the TBS gets the algorithm
    identifier swapped and the certificate is assembled by hand."""
    tbs = cert.tbs_certificate_bytes
    assert tbs.count(SHA256_RSA) == 1
    tbs = tbs.replace(SHA256_RSA, SHA1_RSA)
    signature = issuer_key.sign(tbs, padding.PKCS1v15(), hashes.SHA1())
    return tlv(0x30, tbs + SHA1_RSA + tlv(0x03, b"\x00" + signature))

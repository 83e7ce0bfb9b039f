"""Pure X.509 helpers: parse certificates into ``CertificateInfo`` and match service names.

No I/O and no clock reads: whatever depends on "now" takes it as a parameter.

Name matching follows RFC 6125 §6.4 as profiled for mail by RFC 7817, tightened by RFC 9525:

* the reference identity is a DNS name or an IP literal (``192.0.2.1``, ``2001:db8::1``,
  ``[2001:db8::1]``, the SMTP forms ``[192.0.2.1]`` / ``[IPv6:2001:db8::1]``);
* an IP reference is compared only with iPAddress SANs (as addresses, so every textual form of
  one IPv6 address is equal), never with dNSName SANs nor the subject CN;
* a DNS reference is compared case-insensitively, trailing dot ignored, as A-labels (U-labels
  are converted with the stdlib ``idna`` codec, i.e. IDNA 2003; no conversion, no match);
* a wildcard is honoured only as the complete left-most label, matching exactly one label, and
  never directly above a top-level label (``*.com``, ``*``); partial-label wildcards never match;
* the subject CN is consulted only when the certificate has no dNSName SAN at all (legacy
  fallback, removed by RFC 9525; flagged with ``NameMatch.legacy_cn``).
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import re
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, padding, rsa
from cryptography.x509.oid import AuthorityInformationAccessOID, NameOID

from mailtls.errors import ProtocolError
from mailtls.errortext import library_error_text
from mailtls.model import CertificateInfo
from mailtls.safetext import escape_unsafe

__all__ = [
    "NameMatch",
    "certificate_info",
    "chain_info",
    "days_left",
    "describe",
    "match_name",
]

# What cryptography raises on a malformed certificate, depending on where the damage is.
_PARSE_ERRORS: tuple[type[Exception], ...] = (
    ValueError,  # includes UnicodeError and most ASN.1 parse errors
    TypeError,
    KeyError,  # an attribute value with an unknown ASN.1 string tag
    x509.InvalidVersion,
    x509.DuplicateExtension,
    x509.UnsupportedGeneralNameType,
    UnsupportedAlgorithm,
)

_VERIFY_ERRORS: tuple[type[Exception], ...] = (*_PARSE_ERRORS, InvalidSignature)


def _deprecated_class(module: object, name: str) -> type[Any] | None:
    """A class cryptography has deprecated (it warns on each access) and will remove: looked up
    once, quietly; None once it is gone. DSA (deprecated in cryptography 51) is still a key
    type some servers' certificates carry, and a scanner must name it."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        found = getattr(module, name, None)
    return found if isinstance(found, type) else None


_DSA_PUBLIC_KEY = _deprecated_class(dsa, "DSAPublicKey")

# How many SAN entries ``describe`` and ``match_name`` reasons list before summarising.
_MAX_LISTED = 8
_MAX_MESSAGE = 300

_LABEL = re.compile(r"[a-z0-9_-]{1,63}")


# --------------------------------------------------------------------------------------------
# parsing


def certificate_info(der: bytes) -> CertificateInfo:
    """Parse one DER-encoded X.509 certificate.

    Raises ``ProtocolError`` (one-line message) when ``der`` is not a well-formed certificate,
    including one whose extensions or names cannot be decoded. An unsupported public-key
    algorithm is not an error: it is reported as ``key_type="unknown"``, ``key_bits=0``.
    """
    # cryptography warns while parsing RFC 5280 violations that real servers do send (a
    # non-positive serial number, also inside authorityKeyIdentifier; a country name that is not
    # two letters): a scanner reports such a certificate instead of printing a library warning.
    # (catch_warnings changes process-global state; this block is synchronous and short.)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return _parse(bytes(der))
        except _PARSE_ERRORS as exc:
            if isinstance(exc, KeyError):
                msg = f"unsupported ASN.1 value type {exc} in a name"
            else:  # never the library's debug dump (cryptography 50+: a Rust ParseError)
                msg = library_error_text(exc)
            raise ProtocolError(f"not a valid X.509 certificate: {msg}") from exc


def _parse(der: bytes) -> CertificateInfo:
    cert = x509.load_der_x509_certificate(der)
    subject = cert.subject
    issuer = cert.issuer
    extensions = cert.extensions
    dns_names, ip_addresses = _subject_alt_names(extensions)
    common_names = subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    self_issued = subject == issuer
    key_type, key_bits = _public_key(cert)
    return CertificateInfo(
        subject=subject.rfc4514_string(),
        issuer=issuer.rfc4514_string(),
        serial=_serial_hex(cert.serial_number),
        not_before=cert.not_valid_before_utc,
        not_after=cert.not_valid_after_utc,
        dns_names=dns_names,
        ip_addresses=ip_addresses,
        common_names=tuple(_attribute_text(a.value) for a in common_names),
        key_type=key_type,
        key_bits=key_bits,
        signature_algorithm=_signature_algorithm(cert),
        sha256_fingerprint=cert.fingerprint(hashes.SHA256()).hex(),
        self_issued=self_issued,
        self_signed=self_issued and _verifies_itself(cert),
        is_ca=_is_ca(extensions),
        must_staple=_must_staple(extensions),
        ocsp_urls=_ocsp_urls(extensions),
        subject_key_id=_key_id(extensions, x509.SubjectKeyIdentifier),
        authority_key_id=_key_id(extensions, x509.AuthorityKeyIdentifier),
    )


def chain_info(ders: Sequence[bytes]) -> tuple[CertificateInfo, ...]:
    """Parse a chain in the order given (as sent by the server: leaf first).

    Raises ``ProtocolError`` naming the position of the first certificate that does not parse.
    """
    infos: list[CertificateInfo] = []
    for index, der in enumerate(ders, start=1):
        try:
            infos.append(certificate_info(der))
        except ProtocolError as exc:
            raise ProtocolError(
                f"the server's certificate could not be parsed (number {index} of {len(ders)} "
                f"in the chain it sent): {exc}"
            ) from exc
    return tuple(infos)


def _serial_hex(serial: int) -> str:
    """Lower-case hex, whole bytes (even number of digits), no colons; ``-`` for a negative one."""
    sign = "-" if serial < 0 else ""
    digits = f"{abs(serial):x}"
    if len(digits) % 2:
        digits = "0" + digits
    return sign + digits


def _attribute_text(value: str | bytes) -> str:
    return value if isinstance(value, str) else value.hex()


def _subject_alt_names(
    extensions: x509.Extensions,
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    try:
        san = extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return (), ()
    dns_names = tuple(san.get_values_for_type(x509.DNSName))
    ip_addresses = tuple(
        str(ip)
        for ip in san.get_values_for_type(x509.IPAddress)
        if isinstance(ip, ipaddress.IPv4Address | ipaddress.IPv6Address)
    )
    return dns_names, ip_addresses


def _is_ca(extensions: x509.Extensions) -> bool:
    try:
        return extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    except x509.ExtensionNotFound:
        return False


def _must_staple(extensions: x509.Extensions) -> bool:
    """RFC 7633: a TLS Feature extension listing status_request (5), "OCSP must-staple"."""
    try:
        features = extensions.get_extension_for_class(x509.TLSFeature).value
    except x509.ExtensionNotFound:
        return False
    return x509.TLSFeatureType.status_request in features


def _key_id(
    extensions: x509.Extensions,
    kind: type[x509.SubjectKeyIdentifier] | type[x509.AuthorityKeyIdentifier],
) -> str | None:
    """subjectKeyIdentifier / authorityKeyIdentifier's keyIdentifier as ``ab:cd:...``."""
    try:
        value = extensions.get_extension_for_class(kind).value
    except x509.ExtensionNotFound:
        return None
    raw = value.digest if isinstance(value, x509.SubjectKeyIdentifier) else value.key_identifier
    if not raw:
        return None
    return ":".join(f"{b:02x}" for b in raw[:64])


def _ocsp_urls(extensions: x509.Extensions) -> tuple[str, ...]:
    """The OCSP responders named in authorityInfoAccess (RFC 5280 §4.2.2.1)."""
    try:
        aia = extensions.get_extension_for_class(x509.AuthorityInformationAccess).value
    except x509.ExtensionNotFound:
        return ()
    urls = [
        _one_line(str(d.access_location.value), limit=_MAX_MESSAGE)
        for d in aia
        if d.access_method == AuthorityInformationAccessOID.OCSP
        and isinstance(d.access_location, x509.UniformResourceIdentifier)
    ]
    return tuple(urls[:_MAX_LISTED])


def _public_key(cert: x509.Certificate) -> tuple[str, int]:
    try:
        key = cert.public_key()
    except _PARSE_ERRORS:
        return "unknown", 0
    if isinstance(key, rsa.RSAPublicKey):
        return "RSA", key.key_size
    if isinstance(key, ec.EllipticCurvePublicKey):
        return "EC", key.curve.key_size
    if isinstance(key, ed25519.Ed25519PublicKey):
        return "Ed25519", 256  # length of the key itself, 32 bytes (OpenSSL says "253 bits")
    if isinstance(key, ed448.Ed448PublicKey):
        return "Ed448", 456  # 57 bytes
    if _DSA_PUBLIC_KEY is not None and isinstance(key, _DSA_PUBLIC_KEY):
        return "DSA", int(key.key_size)
    return "unknown", 0


def _signature_algorithm(cert: x509.Certificate) -> str:
    oid = cert.signature_algorithm_oid
    name = oid._name
    return name if name and name != "Unknown OID" else oid.dotted_string


def _verifies_itself(cert: x509.Certificate) -> bool:
    """Does the certificate's signature verify with its own public key? Never raises.

    Verified by hand rather than with ``verify_directly_issued_by``, which refuses SHA-1
    signatures ("Unsupported signature algorithm"); old self-signed SHA-1 certificates are
    exactly what a scanner must recognise.
    """
    try:
        key = cert.public_key()
        params = cert.signature_algorithm_parameters
        digest = cert.signature_hash_algorithm
        signature, data = cert.signature, cert.tbs_certificate_bytes
        if isinstance(key, rsa.RSAPublicKey):
            if not isinstance(params, padding.PKCS1v15 | padding.PSS) or digest is None:
                return False
            key.verify(signature, data, params, digest)
        elif isinstance(key, ec.EllipticCurvePublicKey):
            if not isinstance(params, ec.ECDSA):
                return False
            key.verify(signature, data, params)
        elif isinstance(key, ed25519.Ed25519PublicKey | ed448.Ed448PublicKey):
            if params is not None or digest is not None:
                return False
            key.verify(signature, data)
        elif _DSA_PUBLIC_KEY is not None and isinstance(key, _DSA_PUBLIC_KEY):
            if params is not None or digest is None:
                return False
            key.verify(signature, data, digest)
        else:
            return False
    except _VERIFY_ERRORS:
        return False
    return True


# --------------------------------------------------------------------------------------------
# name matching


@dataclass(frozen=True)
class NameMatch:
    """The verdict of ``match_name``: does the certificate name the reference identity?"""

    matched: bool
    matched_by: str | None  # "DNS:*.example.com", "IP:127.0.0.1", "CN:... (legacy CN fallback)"
    reason: str  # one line for the report
    legacy_cn: bool  # matched only through the subject CN (no dNSName SAN): RFC 9525 removed this


def match_name(cert: CertificateInfo, reference: str) -> NameMatch:
    """Match ``reference`` (a host name or IP literal) against the certificate's identities."""
    ref = reference.strip()
    shown = _show(ref)
    if not ref:
        return _no("empty reference identity")
    ip = _parse_ip_reference(ref)
    if ip is not None:
        return _match_ip(cert, ip)
    if ref.startswith("[") or ref.endswith("]"):
        return _no(f"reference {shown} is not a valid IP address literal")
    try:
        name = _reference_a_labels(ref)
    except ValueError as exc:
        return _no(f"reference {shown} is not a valid host name: {exc}")
    return _match_dns(cert, name, shown)


def _no(reason: str) -> NameMatch:
    return NameMatch(matched=False, matched_by=None, reason=reason, legacy_cn=False)


def _parse_ip_reference(ref: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    text = ref
    if text.startswith("[") and text.endswith("]"):
        text = text[1:-1]
        if text[:5].lower() == "ipv6:":  # SMTP address literal, RFC 5321 §4.1.3
            text = text[5:]
    if ":" in text:
        text = text.split("%", 1)[0]  # a zone id never appears in a certificate
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def _reference_a_labels(ref: str) -> str:
    """The reference as lower-case A-labels without a trailing dot; ValueError if not a name."""
    if "*" in ref:
        raise ValueError("a reference identity cannot contain a wildcard")
    try:
        ascii_name = ref.lower().encode("idna").decode("ascii")
    except UnicodeError as exc:
        raise ValueError(f"IDNA conversion failed ({_one_line(str(exc))})") from exc
    ascii_name = ascii_name.lower().removesuffix(".")
    labels = ascii_name.split(".")
    if len(ascii_name) > 253 or not all(_LABEL.fullmatch(label) for label in labels):
        raise ValueError("labels must be 1-63 letters, digits, hyphens or underscores")
    if labels[-1].isdigit():
        raise ValueError("numeric top-level label (neither a DNS name nor an IP address)")
    return ascii_name


def _presented_ascii(presented: str) -> str | None:
    """A presented DNS-ID (or CN) lower-cased without trailing dot; None if unusable."""
    if not presented.isascii():
        return None  # a certificate must carry A-labels (RFC 5280 §4.2.1.6)
    name = presented.lower().removesuffix(".")
    if not name or any(not label for label in name.split(".")):
        return None
    return name


def _wildcard_problem(name: str) -> str | None:
    """Why a presented name containing ``*`` can never match; None when it is a usable wildcard."""
    labels = name.split(".")
    if labels[0] != "*" or any("*" in label for label in labels[1:]):
        return "partial-label or non-left-most wildcard"
    if len(labels) < 3:
        return "wildcard directly above a top-level label"
    return None


def _dns_id_matches(presented: str, reference: str) -> bool | None:
    """True/False for a usable presented name; None when it is unusable (bad wildcard, U-label)."""
    name = _presented_ascii(presented)
    if name is None:
        return None
    if "*" not in name:
        return name == reference
    if _wildcard_problem(name) is not None:
        return None
    # "*.example.com": exactly one non-empty left-most label before ".example.com".
    first, _, rest = reference.partition(".")
    return bool(first) and rest == name[2:]


def _match_ip(
    cert: CertificateInfo, ip: ipaddress.IPv4Address | ipaddress.IPv6Address
) -> NameMatch:
    for text in cert.ip_addresses:
        try:
            presented = ipaddress.ip_address(text)
        except ValueError:
            continue
        if presented == ip:
            return NameMatch(
                matched=True,
                matched_by=f"IP:{presented}",
                reason=f"SAN IP:{presented} matches {ip}",
                legacy_cn=False,
            )
    if not cert.ip_addresses:
        return _no(
            f"certificate has no SAN IP address, so nothing can match IP {ip} "
            "(an IP reference is never matched against DNS names or the CN)"
        )
    return _no(f"no SAN IP address matches {ip}; SAN IPs: {_listing('IP', cert.ip_addresses)}")


def _match_dns(cert: CertificateInfo, reference: str, shown: str) -> NameMatch:
    plain = shown.lower().removesuffix(".") == reference
    target = shown if plain else f"{shown} ({reference})"
    if cert.dns_names:
        ignored: list[str] = []
        for presented in cert.dns_names:
            verdict = _dns_id_matches(presented, reference)
            if verdict:
                kind = "wildcard SAN" if "*" in presented else "SAN"
                return NameMatch(
                    matched=True,
                    matched_by=f"DNS:{presented}",
                    reason=_one_line(f"{kind} DNS:{presented} matches {target}"),
                    legacy_cn=False,
                )
            if verdict is None:
                ignored.append(presented)
        reason = f"no SAN DNS name matches {target}; SANs: {_listing('DNS', cert.dns_names)}"
        if ignored:
            why = "; ".join(f"DNS:{n} {_unusable_why(n)}" for n in ignored[:_MAX_LISTED])
            reason += f" (never matched: {why})"
        return _no(_one_line(reason))
    # Legacy CN-ID fallback: only when there is no dNSName SAN at all.
    for cn in cert.common_names:
        if _dns_id_matches(cn, reference):
            return NameMatch(
                matched=True,
                matched_by=_one_line(f"CN:{cn} (legacy CN fallback)"),
                reason=_one_line(
                    f"certificate has no SAN DNS name; subject CN {cn} matches {target} "
                    "only through the legacy CN fallback (removed by RFC 9525)"
                ),
                legacy_cn=True,
            )
    if not cert.common_names:
        return _no(f"certificate has no SAN DNS name and no subject CN; nothing matches {target}")
    cns = ", ".join(cert.common_names[:_MAX_LISTED])
    return _no(
        _one_line(
            f"certificate has no SAN DNS name and its subject CN ({cns}) does not match "
            f"{target} even through the legacy CN fallback"
        )
    )


def _unusable_why(presented: str) -> str:
    name = _presented_ascii(presented)
    if name is None:
        return "is not an ASCII (A-label) DNS name"
    return _wildcard_problem(name) or "is unusable"


# --------------------------------------------------------------------------------------------
# time and text


def days_left(cert: CertificateInfo, now: dt.datetime) -> float:
    """Days (fractional) from ``now`` until ``not_after``; negative once expired.

    ``now`` must be timezone-aware (ValueError otherwise: a naive time is a caller bug).
    """
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("days_left needs a timezone-aware datetime")
    return (cert.not_after - now).total_seconds() / 86400.0


def describe(cert: CertificateInfo) -> str:
    """One line: subject, SANs, issuer, validity, key, signature algorithm (and flags)."""
    subject = cert.subject or "(empty subject)"
    sans = [f"DNS:{n}" for n in cert.dns_names] + [f"IP:{a}" for a in cert.ip_addresses]
    san = f"SAN {_listing_raw(sans)}" if sans else "no SAN"
    issuer = cert.issuer or "(empty issuer)"
    valid = f"{cert.not_before.date().isoformat()}..{cert.not_after.date().isoformat()}"
    key = f"{cert.key_type} {cert.key_bits}" if cert.key_bits else f"{cert.key_type} key"
    parts = [subject, san, f"issuer {issuer}", f"valid {valid}", key, cert.signature_algorithm]
    if cert.self_signed:
        parts.append("self-signed")
    elif cert.self_issued:
        parts.append("self-issued")
    if cert.is_ca:
        parts.append("CA")
    return _one_line(", ".join(parts), limit=None)


def _listing(prefix: str, values: Iterable[str]) -> str:
    return _listing_raw([f"{prefix}:{v}" for v in values])


def _listing_raw(items: Sequence[str]) -> str:
    shown = " ".join(items[:_MAX_LISTED])
    if len(items) > _MAX_LISTED:
        shown += f" ... (+{len(items) - _MAX_LISTED} more)"
    return shown


def _show(text: str) -> str:
    return _one_line(text, limit=_MAX_MESSAGE)


def _one_line(text: str, limit: int | None = _MAX_MESSAGE * 2) -> str:
    """Escape control characters (certificate text is attacker-controlled) and cap the length."""
    # TAB escaped too: a certificate field is shown on one line
    line = escape_unsafe(text).replace("\t", "\\x09")
    if limit is not None and len(line) > limit:
        line = line[: limit - 3] + "..."
    return line

"""Pure DANE: parse TLSA records and match them against a certificate chain (RFC 6698 §2.1,
RFC 7671, RFC 7672 §3). No I/O.

For SMTP only DANE-TA(2) and DANE-EE(3) are usable (RFC 7672 §3.1.3); PKIX-TA(0)/PKIX-EE(1)
records are reported as unusable. DANE-EE(3) matches the leaf only (its name and dates do not
matter, RFC 7672 §3.1.1). DANE-TA(2) matches a certificate the server sent above the leaf, and
the leaf must chain to it by signature (RFC 7672 §3.1.2); name and dates are then checked by
the caller.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization

USAGES = {0: "PKIX-TA", 1: "PKIX-EE", 2: "DANE-TA", 3: "DANE-EE"}
SELECTORS = {0: "Cert", 1: "SPKI"}
MATCHING_TYPES = {0: "Full", 1: "SHA2-256", 2: "SHA2-512"}
_DIGEST_LENGTH = {1: 32, 2: 64}
_RECORD = re.compile(r"^\s*(\d{1,3})\s+(\d{1,3})\s+(\d{1,3})\s+([0-9a-fA-F\s]*)$")


@dataclass(frozen=True)
class TLSA:
    usage: int
    selector: int
    mtype: int
    data: bytes
    text: str  # the record as published ("3 1 1 <hex>")

    @property
    def label(self) -> str:
        usage = USAGES.get(self.usage, str(self.usage))
        selector = SELECTORS.get(self.selector, str(self.selector))
        mtype = MATCHING_TYPES.get(self.mtype, str(self.mtype))
        return f"{self.usage} {self.selector} {self.mtype} ({usage} {selector} {mtype})"

    @property
    def short(self) -> str:
        hex_data = self.data.hex()
        shown = hex_data if len(hex_data) <= 16 else f"{hex_data[:16]}..."
        return f"{self.usage} {self.selector} {self.mtype} {shown}"


def parse_tlsa(text: str) -> TLSA | None:
    """A TLSA record in the form ``usage selector mtype hex``; None when it is not one."""
    m = _RECORD.match(text)
    if m is None:
        return None
    hex_data = re.sub(r"\s+", "", m.group(4))
    if len(hex_data) % 2:
        return None
    try:
        data = bytes.fromhex(hex_data)
    except ValueError:
        return None
    usage, selector, mtype = int(m.group(1)), int(m.group(2)), int(m.group(3))
    if max(usage, selector, mtype) > 255:
        return None
    return TLSA(usage, selector, mtype, data, text.strip())


def unusable_reason(record: TLSA) -> str | None:
    """Why a sending MTA ignores this record (RFC 7672 §3.1.3, RFC 6698 §2.1); None if usable."""
    if record.usage in (0, 1):
        return (f"usage {record.usage} ({USAGES[record.usage]}) is not used for SMTP: DANE "
                "senders treat it as unusable (RFC 7672 §3.1.3)")
    if record.usage not in USAGES:
        return f"unknown certificate usage {record.usage}"
    if record.selector not in SELECTORS:
        return f"unknown selector {record.selector}"
    if record.mtype not in MATCHING_TYPES:
        return f"unknown matching type {record.mtype}"
    expected = _DIGEST_LENGTH.get(record.mtype)
    if expected is not None and len(record.data) != expected:
        return (f"{MATCHING_TYPES[record.mtype]} data is {len(record.data)} bytes, "
                f"not {expected}: it can never match")
    if record.mtype == 0 and not record.data:
        return "empty association data"
    return None


def selected(der: bytes, selector: int) -> bytes | None:
    """The bytes a selector picks from a DER certificate: all of it (0) or its SPKI (1)."""
    if selector == 0:
        return der
    if selector == 1:
        try:
            cert = x509.load_der_x509_certificate(der)
            return cert.public_key().public_bytes(
                serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
            )
        except (ValueError, TypeError, UnsupportedAlgorithm):
            return None
    return None


def association(der: bytes, selector: int, mtype: int) -> bytes | None:
    """The certificate association data of ``der`` for a selector and matching type."""
    data = selected(der, selector)
    if data is None:
        return None
    if mtype == 0:
        return data
    if mtype == 1:
        return hashlib.sha256(data).digest()
    if mtype == 2:
        return hashlib.sha512(data).digest()
    return None


def record_for(der: bytes, usage: int = 3, selector: int = 1, mtype: int = 1) -> str:
    """The TLSA record text that matches ``der`` (for advice, and for tests)."""
    data = association(der, selector, mtype)
    if data is None:
        raise ValueError("not a certificate")
    return f"{usage} {selector} {mtype} {data.hex()}"


@dataclass(frozen=True)
class Match:
    record: TLSA
    depth: int  # 0 = the leaf


def _issued_by(child_der: bytes, parent_der: bytes) -> bool:
    try:
        child = x509.load_der_x509_certificate(child_der)
        parent = x509.load_der_x509_certificate(parent_der)
        child.verify_directly_issued_by(parent)
    except (ValueError, TypeError, InvalidSignature, UnsupportedAlgorithm):
        return False
    return True


def _chains_to(chain: Sequence[bytes], depth: int) -> bool:
    return all(_issued_by(chain[i], chain[i + 1]) for i in range(depth))


def match_chain(records: Sequence[TLSA], chain: Sequence[bytes]) -> Match | None:
    """The first usable record that matches the chain the server sent (leaf first)."""
    for record in records:
        if unusable_reason(record) is not None:
            continue
        depths = ([0] if chain else []) if record.usage == 3 else list(range(1, len(chain)))
        for depth in depths:
            data = association(chain[depth], record.selector, record.mtype)
            if data is None or data != record.data:
                continue
            if record.usage == 2 and not _chains_to(chain, depth):
                continue
            return Match(record, depth)
    return None


def leaf_matches(records: Sequence[TLSA], chain: Sequence[bytes]) -> list[TLSA]:
    """Every usable record that matches the leaf or a sent CA (for rollover advice)."""
    out = []
    for record in records:
        if unusable_reason(record) is None and match_chain([record], chain) is not None:
            out.append(record)
    return out

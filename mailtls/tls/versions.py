"""Protocol versions as comparable constants: ``version >= TLS1_2``.

The value of each member is its wire version (``0x0303`` for TLS 1.2), so the order is the
protocol's; ``NONE`` (0) stands for "no TLS at all" and compares below every real version, so a
test like ``assert port.tls.version >= TLS1_2`` fails, with a readable message, on a port that
never got to TLS.

>>> from mailtls import TLS1_2, TLSVersion
>>> TLSVersion.parse("TLSv1.3") >= TLS1_2
True
>>> str(TLSVersion.parse("TLS 1.0"))
'TLSv1'
"""

from __future__ import annotations

import enum
import re

__all__ = [
    "NO_TLS",
    "PROTOCOL_VERSIONS",
    "SSL2",
    "SSL3",
    "TLS1_0",
    "TLS1_1",
    "TLS1_2",
    "TLS1_3",
    "TLSVersion",
]

_TEXT = re.compile(r"^(?:(ssl|tls)\s*v?\s*)?(\d)(?:\.(\d))?$")


class TLSVersion(enum.IntEnum):
    NONE = 0
    SSL2 = 0x0200
    SSL3 = 0x0300
    TLS1_0 = 0x0301
    TLS1_1 = 0x0302
    TLS1_2 = 0x0303
    TLS1_3 = 0x0304

    def __str__(self) -> str:
        """OpenSSL's spelling, as in the JSON report: ``TLSv1.3``, ``TLSv1``, ``SSLv3``."""
        return _OPENSSL[self]

    def __repr__(self) -> str:
        return f"TLSVersion.{self.name}"

    @property
    def label(self) -> str:
        """For people: ``TLS 1.3``, ``TLS 1.0``, ``SSLv3``, ``no TLS``."""
        return _LABEL[self]

    @property
    def number(self) -> float:
        """1.3 for TLS 1.3 ... 1.0 for TLS 1.0, 0.3 for SSLv3, 0.0 for none (Prometheus)."""
        return _NUMBER[self]

    @classmethod
    def parse(cls, text: str) -> TLSVersion:
        """``TLSv1.2`` (OpenSSL), ``TLS 1.2`` (the enumeration), ``TLS1_2``, ``1.2``, ``SSLv3``.

        Raises ``ValueError`` for anything else.
        """
        raw = text.strip()
        if raw.upper() in cls.__members__:
            return cls[raw.upper()]
        m = _TEXT.match(raw.lower().replace("_", "."))
        if m:
            family, major, minor = m.group(1) or "tls", int(m.group(2)), int(m.group(3) or 0)
            if family == "ssl" and minor == 0 and major in (2, 3):
                return cls.SSL2 if major == 2 else cls.SSL3
            if family == "tls" and major == 1 and minor <= 3:
                return cls(0x0301 + minor)
        raise ValueError(f"not a TLS version: {text!r} (use e.g. TLSv1.2, TLS 1.3, SSLv3)")


_OPENSSL = {
    TLSVersion.NONE: "none",
    TLSVersion.SSL2: "SSLv2",
    TLSVersion.SSL3: "SSLv3",
    TLSVersion.TLS1_0: "TLSv1",
    TLSVersion.TLS1_1: "TLSv1.1",
    TLSVersion.TLS1_2: "TLSv1.2",
    TLSVersion.TLS1_3: "TLSv1.3",
}
_LABEL = {
    TLSVersion.NONE: "no TLS",
    TLSVersion.SSL2: "SSLv2",
    TLSVersion.SSL3: "SSLv3",
    TLSVersion.TLS1_0: "TLS 1.0",
    TLSVersion.TLS1_1: "TLS 1.1",
    TLSVersion.TLS1_2: "TLS 1.2",
    TLSVersion.TLS1_3: "TLS 1.3",
}
_NUMBER = {
    TLSVersion.NONE: 0.0,
    TLSVersion.SSL2: 0.2,
    TLSVersion.SSL3: 0.3,
    TLSVersion.TLS1_0: 1.0,
    TLSVersion.TLS1_1: 1.1,
    TLSVersion.TLS1_2: 1.2,
    TLSVersion.TLS1_3: 1.3,
}

NO_TLS = TLSVersion.NONE
SSL2 = TLSVersion.SSL2
SSL3 = TLSVersion.SSL3
TLS1_0 = TLSVersion.TLS1_0
TLS1_1 = TLSVersion.TLS1_1
TLS1_2 = TLSVersion.TLS1_2
TLS1_3 = TLSVersion.TLS1_3
#: every real protocol version, oldest first (all members but NONE): what a hello can offer
PROTOCOL_VERSIONS: tuple[TLSVersion, ...] = (SSL2, SSL3, TLS1_0, TLS1_1, TLS1_2, TLS1_3)

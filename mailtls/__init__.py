"""mailtls: how secure is a mail server's transport, with the server's own words as evidence.

The Python API (``mailtls.api``): ``scan_host`` / ``scan_host_async`` return a ``HostResult``;
``TLS1_2`` and friends are comparable ``TLSVersion`` constants::

    from mailtls import scan_host, TLS1_2
    assert scan_host("mail.example.com").port(587).tls.version >= TLS1_2
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mailtls.tls.versions import NO_TLS, SSL2, SSL3, TLS1_0, TLS1_1, TLS1_2, TLS1_3, TLSVersion

if TYPE_CHECKING:
    from mailtls.api import HostResult, PortResult, TLSInfo, scan_host, scan_host_async

__version__ = "0.1.0"

__all__ = [
    "NO_TLS",
    "SSL2",
    "SSL3",
    "TLS1_0",
    "TLS1_1",
    "TLS1_2",
    "TLS1_3",
    "HostResult",
    "PortResult",
    "TLSInfo",
    "TLSVersion",
    "__version__",
    "scan_host",
    "scan_host_async",
]

_API = ("HostResult", "PortResult", "TLSInfo", "scan_host", "scan_host_async")


def __getattr__(name: str) -> object:
    # The API pulls in the scanner; importing it lazily keeps `import mailtls` (and every
    # module that reads __version__) light.
    if name in _API:
        from mailtls import api

        return getattr(api, name)
    raise AttributeError(f"module 'mailtls' has no attribute {name!r}")

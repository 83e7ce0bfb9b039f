"""Probes gather observations over ``net`` and ``proto``; they never judge.

``mailport.probe_port`` is the basic probe of a port (one connection when all is well);
``deep_probes`` runs the deeper ones after it, on the same endpoint, one connection at a time.
"""

from __future__ import annotations

from mailtls.model import Endpoint
from mailtls.probes.mailport import ProbeOptions
from mailtls.probes.session import Recorder


async def deep_probes(endpoint: Endpoint, options: ProbeOptions, recorder: Recorder) -> None:
    """Version/suite enumeration and the STARTTLS security probes, in that order."""
    from mailtls.probes.portsecurity import probe_port_security
    from mailtls.probes.security import probe_security
    from mailtls.probes.tlsscan import scan_tls

    await scan_tls(endpoint, options, recorder)
    await probe_security(endpoint, options, recorder)  # the mail ports
    await probe_port_security(endpoint, options, recorder)  # LDAP, FTP, NNTP

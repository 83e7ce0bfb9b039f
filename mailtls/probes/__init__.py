"""Probes gather observations over ``net`` and ``proto``; they never judge.

``mailport.probe_port`` is the basic probe of a port (one connection when all is well);
``deep_probes`` runs the deeper ones after it, on the same endpoint, side by side: each
connection waits for its slot of the address's connection budget (``mailtls.net.budget``).
"""

from __future__ import annotations

import asyncio

from mailtls.model import Endpoint
from mailtls.probes.mailport import ProbeOptions
from mailtls.probes.session import Recorder


async def deep_probes(endpoint: Endpoint, options: ProbeOptions, recorder: Recorder) -> None:
    """Version/suite enumeration and the STARTTLS security probes, at the same time (they are
    independent: each has its own connections and reads only the basic probe's facts)."""
    from mailtls.probes.portsecurity import probe_port_security
    from mailtls.probes.security import probe_security
    from mailtls.probes.tlsscan import scan_tls

    await asyncio.gather(scan_tls(endpoint, options, recorder),
                         probe_security(endpoint, options, recorder),  # the mail ports
                         probe_port_security(endpoint, options, recorder))  # LDAP, FTP, NNTP

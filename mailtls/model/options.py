"""The options of a scan, each default written once, here.

The command line builds one :class:`ScanOptions` (``mailtls.cli.options.scan_options``), the
Python API builds one (``mailtls.api.scan_host``); ``ScanRequest``, ``ClientRequest`` and the
probes' ``ProbeOptions`` carry it instead of declaring the options again. A new option of the
scan is a field here, an argparse flag in ``mailtls/cli/options.py`` (whose default is read from
here) and a line in ``scan_options``; nothing else repeats its default.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from mailtls.model.credentials import LoginCredentials

DEFAULT_EHLO = "mailtls.invalid"  # a reserved name (RFC 2606): it claims to be no one
DEFAULT_PROFILE = "mail"  # BCP 195 / RFC 8996 / RFC 8314 (mailtls.checks.profiles)
DEFAULT_DEADLINE = 60.0  # seconds for a whole scan ...
SLOW_DEADLINE = 600.0  # ... and with --slow, unless --timeout says otherwise


@dataclass(frozen=True)
class Timeouts:
    """Per-step limits in seconds (httpx's Timeout, with the names of our steps), and the point
    in time (``time.monotonic()``) by which a connection must be done with everything.

    ``deadline`` is the caller's turn (``mailtls.scan.host`` gives each port's basic probe a
    share of the scan's time, and the deep probes the rest): every connection opened with these
    timeouts gets a ``ReceiveBudget`` (``mailtls.net.receive``) with this deadline, so no step
    of it can outlast the turn.
    """

    connect: float = 5.0
    read: float = 10.0
    handshake: float = 10.0
    deadline: float | None = None


@dataclass(frozen=True)
class ScanOptions:
    """How to scan: limits, trust, depth, yardstick, login, DNS. Not what to scan (hosts,
    ports, addresses: the request's)."""

    timeouts: Timeouts = Timeouts()
    # the overall deadline in seconds; None: DEFAULT_DEADLINE, or SLOW_DEADLINE with slow
    timeout: float | None = None
    max_connections: int = 5  # at once per address: be polite, avoid tripping rate limits
    # --slow: one connection at a time per address, and pauses between the deep probes' ones
    slow: bool = False
    ca_file: str | None = None  # trust these CAs instead of the system store
    warn_days: int = 30  # a certificate expiring within this many days is a warning
    quick: bool = False  # one connection per port: no suite enumeration, no security probes
    profile: str = DEFAULT_PROFILE  # yardstick for the enumerated TLS parameters
    relay_test: bool = False  # opt-in open-relay probe on port 25
    # --user: log in on every port (only inside verified TLS; mailtls.probes.login)
    login: LoginCredentials | None = field(default=None, repr=False)
    resolver: str | None = None  # --resolver IP[:PORT]: every DNS question of the run goes here
    dns_timeout: float = 5.0  # each DNS answer
    mta_sts_port: int = 443  # where the MTA-STS policy host is reached (tests: a loopback port)
    https_port: int = 443  # where autoconfig web servers are reached (tests: a loopback port)
    family: int | None = None  # -4 / -6: only IPv4 (4) or only IPv6 (6) addresses of each host
    ehlo: str = DEFAULT_EHLO  # --ehlo NAME: what the SMTP sessions greet with

    @property
    def deadline(self) -> float:
        """The overall deadline of the scan in seconds."""
        if self.timeout is not None:
            return self.timeout
        return SLOW_DEADLINE if self.slow else DEFAULT_DEADLINE

    @property
    def trust_store(self) -> str:
        return self.ca_file or "system"


DEFAULTS = ScanOptions()
# mailtls client: one connection per port unless --no-quick (it checks many settings)
CLIENT_DEFAULTS = ScanOptions(quick=True)

"""pytest plugin: write your mail deployment's own tests against a live scan.

Installed with mailtls (entry point ``pytest11``), so nothing to enable. In your tests::

    from mailtls import TLS1_2

    def test_submission_is_modern(mailtls_report):
        port = mailtls_report.port(587)
        assert port.tls.version >= TLS1_2
        assert port.days_left > 14
        assert "smtp.auth.plaintext_offered" not in port.ids

and run ``pytest --mailtls-host mail.example.com`` (or set ``mailtls_host`` in the ini file).

Fixtures:

``mailtls_scan`` (session)
    ``mailtls_scan(host=None, **options)`` scans a host with ``mailtls.scan_host`` and returns
    its :class:`~mailtls.api.HostResult`. Results are cached for the session per host and
    options, so many tests can look at one scan. Options default to the command line / ini
    (``--mailtls-address``, ``--mailtls-service``, ``--mailtls-only``, ``--mailtls-ca-file``,
    ``--mailtls-quick``, ``--mailtls-timeout``).
``mailtls_report`` (session)
    The scan of the configured host (``--mailtls-host`` / ``mailtls_host``); fails the test
    with a clear message when none is configured.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:  # the scanner is imported when a scan is asked for, not at pytest start-up
    from mailtls.api import HostResult

__all__ = ["MailTLSScanner"]


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("mailtls", "mailtls: mail deployment tests")
    group.addoption("--mailtls-host", metavar="HOST",
                    help="the mail host the mailtls_report fixture scans (ini: mailtls_host)")
    group.addoption("--mailtls-address", action="append", default=[], metavar="IP",
                    help="connect to IP instead of resolving the host (repeatable)")
    group.addoption("--mailtls-service", action="append", default=[], metavar="NAME=PORT",
                    help="scan service NAME on PORT (repeatable), as mailtls check --service")
    group.addoption("--mailtls-only", action="append", default=[], metavar="NAMES",
                    help="scan only these services at their standard ports")
    group.addoption("--mailtls-ca-file", metavar="PEM",
                    help="trust these CA certificates instead of the system store")
    group.addoption("--mailtls-quick", action="store_true", default=None,
                    help="one connection per port: no version/suite enumeration")
    group.addoption("--mailtls-timeout", type=float, metavar="S",
                    help="overall deadline of each scan in seconds (default 60)")
    parser.addini("mailtls_host", "the mail host the mailtls_report fixture scans")
    parser.addini("mailtls_addresses", "addresses to connect to instead of resolving",
                  type="args", default=[])
    parser.addini("mailtls_services", "NAME=PORT services to scan", type="args", default=[])
    parser.addini("mailtls_ca_file", "CA certificates to trust instead of the system store")
    parser.addini("mailtls_quick", "one connection per port (no enumeration)", type="bool",
                  default=False)


def pytest_report_header(config: pytest.Config) -> str | None:
    host = config.getoption("--mailtls-host") or config.getini("mailtls_host")
    return f"mailtls: scanning {host}" if host else None


class MailTLSScanner:
    """The ``mailtls_scan`` fixture's value: call it to scan (cached per host and options)."""

    def __init__(self, config: pytest.Config) -> None:
        self._config = config
        self._cache: dict[tuple[str, str], HostResult] = {}
        opt, ini = config.getoption, config.getini
        ca_file = opt("--mailtls-ca-file") or ini("mailtls_ca_file") or None
        quick = opt("--mailtls-quick")
        self.defaults: dict[str, Any] = {
            "addresses": list(opt("--mailtls-address") or ini("mailtls_addresses")),
            "services": list(opt("--mailtls-service") or ini("mailtls_services")),
            "only": list(opt("--mailtls-only")),
            "ca_file": ca_file,
            "quick": bool(ini("mailtls_quick")) if quick is None else quick,
        }
        timeout = opt("--mailtls-timeout")
        if timeout is not None:
            self.defaults["timeout"] = timeout
        self.host: str | None = opt("--mailtls-host") or ini("mailtls_host") or None

    def __call__(self, host: str | None = None, **options: Any) -> HostResult:
        name = host or self.host
        if not name:
            pytest.fail("mailtls: no host to scan: pass --mailtls-host HOST, set mailtls_host "
                        "in the ini file, or call mailtls_scan('mail.example.com')",
                        pytrace=False)
        merged = {**self.defaults, **options}
        key = (name, repr(sorted(merged.items())))
        if key not in self._cache:
            from mailtls.api import scan_host

            self._cache[key] = scan_host(name, **merged)
        return self._cache[key]


@pytest.fixture(scope="session")
def mailtls_scan(pytestconfig: pytest.Config) -> MailTLSScanner:
    """Scan a mail host (cached per host and options for the session)."""
    return MailTLSScanner(pytestconfig)


@pytest.fixture(scope="session")
def mailtls_report(mailtls_scan: Callable[[], HostResult]) -> HostResult:
    """The scan of the host named by --mailtls-host / the ``mailtls_host`` ini option."""
    return mailtls_scan()

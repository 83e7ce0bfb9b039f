"""``deep``: run ``mailtls check`` with the TLS enumeration against servers of our own PKI
(tlsscan_servers.mini_pki), and read the findings per port."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from tests.tlsscan.tlsscan_servers import mini_pki

# The families these tests judge; other deep probes (STARTTLS security probes) may add their own
# findings about the scripted servers, which are not under test here.
FAMILIES = ("tls.", "cert.")


@dataclass
class Deep:
    run: Any  # tests/conftest.py Run

    @property
    def code(self) -> int:
        return int(self.run.code)

    def endpoint(self, port: int) -> dict[str, Any]:
        matches: list[dict[str, Any]] = [e for e in self.run.endpoints if e["port"] == port]
        assert matches, f"port {port} not in the report"
        return matches[0]

    def scan(self, port: int) -> dict[str, Any]:
        scan = self.endpoint(port)["tls_scan"]
        assert scan is not None, f"port {port} was not enumerated"
        return scan  # type: ignore[no-any-return]

    def findings(self, port: int) -> list[dict[str, Any]]:
        return [
            f for f in self.run.findings
            if f["endpoint"] is not None and f["endpoint"].endswith(f":{port}")
            and f["id"].startswith(FAMILIES)
        ]

    def ids(self, port: int) -> set[str]:
        return {f["id"] for f in self.findings(port)}

    def finding(self, port: int, finding_id: str) -> dict[str, Any]:
        matches = [f for f in self.findings(port) if f["id"] == finding_id]
        assert matches, f"{finding_id} not at port {port}: {sorted(self.ids(port))}"
        return matches[0]


@pytest.fixture
def deep(mailtls: Callable[..., Any]) -> Callable[..., Deep]:
    """``deep("submissions=PORT", "imap=PORT2", profile="ncsc", extra=(...))``: one scan of all
    the given services (concurrently, as mailtls does), trusting the tlsscan test root."""

    def run(*services: str, profile: str | None = None, extra: tuple[str, ...] = ()) -> Deep:
        args = ["--ca-file", mini_pki().ca_file, *extra]
        if profile is not None:
            args += ["--profile", profile]
        return Deep(mailtls(*services, deep=True, trust=False, extra=tuple(args)))

    return run

"""``secure``: ``mailtls check`` end to end with the STARTTLS security probes (not --quick),
against loopback servers.

The version/suite enumeration (tests/tlsscan's subject) is switched off here unless a test asks
for it: it costs ~40 connections per port and judges nothing these tests look at.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from mailtls.probes import tlsscan as tlsscan_module
from mailtls.testing._runtime import LOOP

READ_TIMEOUT = "2"


SCAN_TLS = tlsscan_module.scan_tls


async def _no_enumeration(*_args: Any, **_kwargs: Any) -> None:
    return None


@dataclass
class Secure:
    run: Any  # cli_runner.Run (tests/conftest.py mailtls)

    @property
    def code(self) -> int:
        return int(self.run.code)

    @property
    def ids(self) -> set[str]:
        return set(self.run.ids)

    def finding(self, finding_id: str) -> dict[str, Any]:
        return dict(self.run.finding(finding_id))

    def findings(self, finding_id: str) -> list[dict[str, Any]]:
        return [f for f in self.run.findings if f["id"] == finding_id]

    def endpoint(self, port: int | None = None) -> dict[str, Any]:
        endpoints = self.run.endpoints
        if port is not None:
            endpoints = [e for e in endpoints if e["port"] == port]
        assert len(endpoints) == 1, [e["endpoint"] for e in self.run.endpoints]
        return dict(endpoints[0])

    def probes(self, port: int | None = None) -> dict[str, dict[str, Any]]:
        return {p["name"]: p for p in self.endpoint(port)["security"]}

    def probe(self, name: str, port: int | None = None) -> dict[str, Any]:
        probes = self.probes(port)
        assert name in probes, f"{name} not in {sorted(probes)}"
        return probes[name]


@pytest.fixture
def secure(
    mailtls: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> Callable[..., Secure]:
    def run(*services: str, extra: tuple[str, ...] = (), enumerate_tls: bool = False,
            json_out: bool = True) -> Secure:
        monkeypatch.setattr(tlsscan_module, "scan_tls",
                            SCAN_TLS if enumerate_tls else _no_enumeration)
        return Secure(mailtls(*services, deep=True, json_out=json_out,
                              extra=("--read-timeout", READ_TIMEOUT, *extra)))

    return run


@pytest.fixture(autouse=True)
def _no_server_errors() -> Iterator[None]:
    """Fail a test whose servers hit an unexpected error on the background loop."""
    before = len(LOOP.errors)
    yield
    assert LOOP.errors[before:] == []

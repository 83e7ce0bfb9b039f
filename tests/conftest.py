"""Shared fixtures: one test PKI per session, every test server stopped at the end."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from netsim import syn_dropping_port

from mailtls.cli import main
from mailtls.testing import TestPKI, stop_all

HOST = "mail.example.test"


@pytest.fixture(scope="session")
def pki() -> Iterator[TestPKI]:
    with TestPKI() as p:
        yield p


@pytest.fixture(scope="session", autouse=True)
def _stop_servers_at_end() -> Iterator[None]:
    yield
    stop_all()
    assert not [t for t in threading.enumerate() if t.name == "mailtls-test-servers"]


@dataclass
class Run:
    code: int
    out: str
    err: str

    @property
    def report(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(self.out)
        return data

    @property
    def endpoints(self) -> list[dict[str, Any]]:
        return [e for h in self.report["hosts"] for e in h["endpoints"]]

    @property
    def findings(self) -> list[dict[str, Any]]:
        return [f for h in self.report["hosts"] for f in h["findings"]]

    @property
    def ids(self) -> set[str]:
        return {f["id"] for f in self.findings}

    def finding(self, finding_id: str) -> dict[str, Any]:
        matches = [f for f in self.findings if f["id"] == finding_id]
        assert matches, f"{finding_id} not in {sorted(self.ids)}"
        return matches[0]


@pytest.fixture
def mailtls(capsys: pytest.CaptureFixture[str], pki: TestPKI) -> Callable[..., Run]:
    """Run ``mailtls check`` in-process against loopback servers; JSON unless told otherwise."""

    def run(*services: str, host: str = HOST, extra: tuple[str, ...] = (),
            json_out: bool = True, trust: bool = True, deep: bool = False) -> Run:
        """``deep=False`` adds --quick: the basic probe only, unless a test is about the
        enumeration or the security probes."""
        argv = ["check", host, "--address", "127.0.0.1", "--timeout", "20",
                "--read-timeout", "3", "--handshake-timeout", "3", "--connect-timeout", "2"]
        for s in services:
            argv += ["--service", s]
        if trust:
            argv += ["--ca-file", pki.ca_file()]
        if json_out:
            argv += ["--format", "json"]
        if not deep:
            argv += ["--quick"]
        capsys.readouterr()
        code = main([*argv, *extra])
        captured = capsys.readouterr()
        return Run(code, captured.out, captured.err)

    return run


@pytest.fixture
def filtered_port() -> Iterator[int]:
    """A loopback port that drops SYNs (see ``syn_dropping_port``)."""
    with syn_dropping_port() as port:
        yield port

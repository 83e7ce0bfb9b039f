"""Shared fixtures: one test PKI per session, every test server stopped at the end."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator

import pytest

from mailtls.testing import TestPKI, stop_all
from tests.cli_runner import Run, check_argv, run_cli
from tests.netsim import syn_dropping_port

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


@pytest.fixture
def mailtls(capsys: pytest.CaptureFixture[str], pki: TestPKI) -> Callable[..., Run]:
    """Run ``mailtls check`` in-process against loopback servers; JSON unless told otherwise."""

    def run(*services: str, host: str = HOST, extra: tuple[str, ...] = (),
            json_out: bool = True, trust: bool = True, deep: bool = False) -> Run:
        """``deep=False`` adds --quick: the basic probe only, unless a test is about the
        enumeration or the security probes."""
        argv = check_argv(host, services, ca_file=pki.ca_file() if trust else None,
                          json_out=json_out, quick=not deep)
        return run_cli(capsys, [*argv, *extra])

    return run


@pytest.fixture
def filtered_port() -> Iterator[int]:
    """A loopback port that drops SYNs (see ``syn_dropping_port``)."""
    with syn_dropping_port() as port:
        yield port

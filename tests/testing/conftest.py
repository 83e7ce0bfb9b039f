"""Fixtures for the mailtls.testing smoke tests: one PKI per session, stop_all at the end."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from mailtls.testing import TestPKI, stop_all
from mailtls.testing._runtime import LOOP


@pytest.fixture(scope="session")
def pki() -> Iterator[TestPKI]:
    with TestPKI() as p:
        yield p


@pytest.fixture(scope="session", autouse=True)
def _stop_servers_at_end() -> Iterator[None]:
    yield
    stop_all()
    assert not [t for t in threading.enumerate() if t.name == "mailtls-test-servers"]


@pytest.fixture(autouse=True)
def _no_server_errors() -> Iterator[None]:
    """Fail a test whose servers hit an unexpected error on the background loop."""
    before = len(LOOP.errors)
    yield
    assert LOOP.errors[before:] == []

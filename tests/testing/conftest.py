"""Fixtures for the mailtls.testing smoke tests. The session PKI (``pki``) and stop_all at the
end come from tests/conftest.py."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from mailtls.testing._runtime import LOOP


@pytest.fixture(autouse=True)
def _no_server_errors() -> Iterator[None]:
    """Fail a test whose servers hit an unexpected error on the background loop."""
    before = len(LOOP.errors)
    yield
    assert LOOP.errors[before:] == []

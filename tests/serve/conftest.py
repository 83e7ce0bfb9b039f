"""Fixtures of the ``mailtls serve`` tests (helpers in serve_helpers.py)."""

from __future__ import annotations

import pytest

from tests.serve.serve_helpers import Serve, run_cases


@pytest.fixture
def serve() -> Serve:
    """Run the cases of a protocol (patterns to narrow) with the client templates."""
    return run_cases

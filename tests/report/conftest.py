"""Fixtures of the report tests: the demo's real report (two loopback deployments, scanned
once per session) and the deterministic sample reports of the regression tests."""

from __future__ import annotations

import pytest

from mailtls.model import Report


@pytest.fixture(scope="session")
def demo_report() -> Report:
    """``mailtls demo``'s report: real servers, real sockets, one good and one flawed host."""
    from mailtls.cli.demo import run_demo

    return run_demo()

"""Fixtures of the report tests: the demo's real report (two loopback deployments, scanned
once per session) and the deterministic sample reports of the regression tests."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

# the deterministic reports (sample_report, full_report) live with the regression tests
sys.path.insert(0, str(Path(__file__).parent.parent / "regression"))

from mailtls.model import Report


@pytest.fixture(scope="session")
def demo_report() -> Report:
    """``mailtls demo``'s report: real servers, real sockets, one good and one flawed host."""
    from mailtls.cli.demo import run_demo

    return run_demo()
